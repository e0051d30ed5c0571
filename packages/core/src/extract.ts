// SPDX-License-Identifier: GPL-3.0-or-later
// Derived fields: @mentions from the text and tool calls from metadata and text (DESIGN §2).
// Both are stored lower-cased without duplicates so lookups are case-insensitive.

import type { JsonObject } from './doc.js';

// An @ not preceded by a word character (so e-mail addresses do not count), then a name that
// starts with a letter, digit or underscore.
const MENTION = /(?<![\p{L}\p{N}_.@])@([\p{L}\p{N}_][\p{L}\p{N}_.-]{0,63})/gu;
// The same pattern for text that is all ASCII, where \p{L} is [A-Za-z] and \p{N} is [0-9]. V8
// compiles a \p{…} class into a large automaton on first use (≈2 ms), a cost every short-lived
// CLI process would pay for the usual plain-ASCII text.
const MENTION_ASCII = /(?<![A-Za-z0-9_.@])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})/g;
const ALL_ASCII = /^[\x00-\x7f]*$/;

/** `@alice`, `@Bob.smith` → `['alice', 'bob.smith']`; trailing punctuation is not part of a name. */
export function extractMentions(text: string): string[] {
  if (!text.includes('@')) return [];
  const names = new Set<string>();
  for (const match of text.matchAll(ALL_ASCII.test(text) ? MENTION_ASCII : MENTION)) {
    const name = (match[1] as string).replace(/[.-]+$/, '').toLowerCase();
    if (name) names.add(name);
  }
  return [...names];
}

/** Normalise a mention query: `@Alice` and `alice` both become `alice`. */
export function normalizeMention(name: string): string {
  return name.replace(/^@/, '').toLowerCase();
}

const TOOL_NAME = /^[\p{L}\p{N}_.:/-]{1,64}$/u;
// Text patterns agents commonly log: `tool: bash`, `tool_call: read_file`, `<tool name="grep">`.
const TOOL_IN_TEXT = [
  /\btool(?:_call)?\s*[:=]\s*`?([\p{L}\p{N}_.:/-]{1,64})/giu,
  /<tool(?:_call)?\s+name="([^"]{1,64})"/giu,
];

function addTool(tools: Set<string>, value: unknown): void {
  if (typeof value !== 'string') return;
  const name = value.trim().toLowerCase();
  if (TOOL_NAME.test(name)) tools.add(name);
}

/**
 * Tool names from `metadata.tool` (string), `metadata.tools` (string[]), `metadata.tool_calls[].name`
 * (also `.function.name`, as OpenAI-style calls nest it) and the text patterns above.
 */
export function extractToolCalls(text: string, metadata: JsonObject): string[] {
  const tools = new Set<string>();
  addTool(tools, metadata.tool);
  if (Array.isArray(metadata.tools)) for (const tool of metadata.tools) addTool(tools, tool);
  if (Array.isArray(metadata.tool_calls)) {
    for (const call of metadata.tool_calls) {
      if (call === null || typeof call !== 'object' || Array.isArray(call)) continue;
      addTool(tools, call.name);
      const fn = call.function;
      if (fn !== null && typeof fn === 'object' && !Array.isArray(fn)) addTool(tools, fn.name);
    }
  }
  // Both patterns need the letters "tool", which have no other case forms in Unicode's simple
  // case folding, so a text without them skips the (costly to compile) Unicode patterns.
  if (/tool/i.test(text)) {
    for (const pattern of TOOL_IN_TEXT) for (const match of text.matchAll(pattern)) addTool(tools, match[1]);
  }
  return [...tools];
}
