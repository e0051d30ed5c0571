// SPDX-License-Identifier: GPL-3.0-or-later
// Plain-text search snippets, cut from the doc text fetched from the main file (the index is
// contentless: DESIGN §3a.3). No markup: the caller renders, so nothing here can inject HTML.

import type { QueryTerm } from './fts-query.js';

/** Default snippet length in UTF-16 code units, not counting the `…` marks. */
export const DEFAULT_SNIPPET_CHARS = 160;

// Word characters as the index's unicode61 tokenizer sees them (see fts-query.ts), so a match is
// a match at the same word boundaries FTS5 used.
const WORD_CHAR = /^[\p{L}\p{N}\p{Co}\p{Mn}]$/u;
const MARK = /^\p{M}$/u;
const MARKS = /\p{M}/gu;
const ASCII = /^[\0-\x7f]*$/;
// How far a cut may move to land on a space instead of inside a word.
const SNAP = 20;

/**
 * A window of at most `maxChars` characters of `text` (whitespace collapsed) around the first
 * occurrence of any query term, with `…` where it was cut; the start of the text when no term
 * occurs. Matching ignores case and diacritics like the index does; a prefix term matches word
 * starts, any other term whole words. Never splits a surrogate pair or a base character from its
 * combining marks. The result is at most `maxChars + 2` code units long.
 *
 * @example
 * makeSnippet(longLog, [{ text: 'timeout', prefix: false }]) // '…retrying after the upstream timeout on…'
 */
export function makeSnippet(text: string, queryTerms: readonly QueryTerm[], maxChars = DEFAULT_SNIPPET_CHARS): string {
  const limit = Number.isFinite(maxChars) && maxChars >= 1 ? Math.floor(maxChars) : DEFAULT_SNIPPET_CHARS;
  const flat = text.replace(/\s+/gu, ' ').trim();
  if (flat.length <= limit) return flat;

  const hit = findFirst(flat, queryTerms);
  let start = 0;
  if (hit !== undefined) {
    // A third of the spare room goes before the match: readers want the match near the front.
    const room = limit - (hit.end - hit.start);
    start = hit.start - (room > 0 ? Math.min(hit.start, Math.floor(room / 3)) : 0);
  }
  start = Math.max(0, Math.min(start, flat.length - limit));
  if (start > 0) {
    const space = flat.indexOf(' ', start - 1);
    if (space !== -1 && space - start < SNAP && (hit === undefined || space < hit.start)) start = space + 1;
  }
  start = safeStart(flat, start);

  let end = Math.min(flat.length, start + limit);
  if (end < flat.length) {
    const space = flat.lastIndexOf(' ', end);
    const floor = hit === undefined ? start : Math.max(start, hit.end);
    if (space > floor && end - space < SNAP) end = space;
  }
  end = safeEnd(flat, end, start);

  const body = flat.slice(start, end).trim();
  return `${start > 0 ? '…' : ''}${body}${end < flat.length ? '…' : ''}`;
}

interface Hit {
  start: number;
  end: number;
}

/** The earliest term occurrence at a word boundary, in `source` offsets. */
function findFirst(source: string, terms: readonly QueryTerm[]): Hit | undefined {
  if (terms.length === 0) return undefined;
  const folded = foldWithOrigins(source);
  const originOf = (at: number) => (at >= folded.text.length ? source.length : (folded.origins?.[at] ?? at));
  let best: Hit | undefined;
  let bestAt = Number.POSITIVE_INFINITY;
  for (const term of terms) {
    const needle = foldString(term.text);
    if (needle === '') continue;
    for (let at = folded.text.indexOf(needle); at !== -1 && at < bestAt; at = folded.text.indexOf(needle, at + 1)) {
      const start = originOf(at);
      const end = originOf(at + needle.length);
      if (!isWordAt(source, start - 1, -1) && (term.prefix || !isWordAt(source, end, 1))) {
        best = { start, end };
        bestAt = at;
        break;
      }
    }
  }
  return best;
}

/** Whether the code point touching `index` (reading in `direction`) is a word character. */
function isWordAt(source: string, index: number, direction: 1 | -1): boolean {
  if (index < 0 || index >= source.length) return false;
  let from = index;
  // Reading backwards from a low surrogate: the code point starts one unit earlier.
  if (direction === -1 && isLow(source, from) && isHigh(source, from - 1)) from -= 1;
  return WORD_CHAR.test(String.fromCodePoint(source.codePointAt(from) as number));
}

interface Folded {
  text: string;
  /** Source offset of the code point behind each folded code unit; absent when identical. */
  origins: number[] | undefined;
}

// Folding one code point: drop combining marks after canonical decomposition (é → e, like
// remove_diacritics), then lower-case. Cached: documents repeat the same few hundred characters.
const foldCache = new Map<string, string>();
function foldCodePoint(char: string): string {
  let folded = foldCache.get(char);
  if (folded === undefined) {
    folded = char.normalize('NFD').replace(MARKS, '').toLowerCase();
    if (foldCache.size < 4096) foldCache.set(char, folded);
  }
  return folded;
}

function foldString(text: string): string {
  return foldWithOrigins(text).text;
}

function foldWithOrigins(text: string): Folded {
  // ASCII has no marks and lower-cases one to one: offsets stay as they are.
  if (ASCII.test(text)) return { text: text.toLowerCase(), origins: undefined };
  const parts: string[] = [];
  const origins: number[] = [];
  for (let i = 0; i < text.length; ) {
    const width = (text.codePointAt(i) as number) > 0xffff ? 2 : 1;
    const folded = foldCodePoint(text.slice(i, i + width));
    parts.push(folded);
    for (let unit = 0; unit < folded.length; unit++) origins.push(i);
    i += width;
  }
  return { text: parts.join(''), origins };
}

function isHigh(text: string, index: number): boolean {
  const unit = text.charCodeAt(index);
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLow(text: string, index: number): boolean {
  const unit = text.charCodeAt(index);
  return unit >= 0xdc00 && unit <= 0xdfff;
}

function isMarkAt(text: string, index: number): boolean {
  return MARK.test(String.fromCodePoint(text.codePointAt(index) as number));
}

/** Move a start cut forward off a pair's second half and off marks that belong to a cut base. */
function safeStart(text: string, start: number): number {
  let at = start;
  if (at > 0 && isLow(text, at) && isHigh(text, at - 1)) at += 1;
  while (at > 0 && at < text.length && isMarkAt(text, at)) at += (text.codePointAt(at) as number) > 0xffff ? 2 : 1;
  return at;
}

/** Move an end cut back so it splits neither a surrogate pair nor a base from its marks. */
function safeEnd(text: string, end: number, start: number): number {
  let at = end;
  if (at < text.length && isLow(text, at) && isHigh(text, at - 1)) at -= 1;
  // A mark right after the cut belongs to the character before it: leave both out.
  while (at > start && at < text.length && isMarkAt(text, at)) {
    at -= 1;
    if (at > start && isLow(text, at) && isHigh(text, at - 1)) at -= 1;
  }
  return at;
}
