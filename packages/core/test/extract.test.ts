// SPDX-License-Identifier: GPL-3.0-or-later
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extractMentions, extractToolCalls, normalizeMention } from '../src/index.js';

/** The mention rule with only the Unicode pattern: the fast paths must agree with it. */
function mentionsByUnicodePattern(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![\p{L}\p{N}_.@])@([\p{L}\p{N}_][\p{L}\p{N}_.-]{0,63})/gu)) {
    const name = (match[1] as string).replace(/[.-]+$/, '').toLowerCase();
    if (name) names.add(name);
  }
  return [...names];
}

/** Text made of the characters that matter to mentions: plain ASCII (the fast path), and not. */
const ASCII_PARTS = ['@', '.', '-', '_', ' ', 'a', 'Z', '9', '\u0000', ',', '@@', 'x.@', '.-'];
const asciiMentionText = fc.array(fc.constantFrom(...ASCII_PARTS), { maxLength: 40 }).map((parts) => parts.join(''));
const mentionText = fc
  .array(fc.constantFrom(...ASCII_PARTS, 'é', 'Ж', '٣', '😀'), { maxLength: 40 })
  .map((parts) => parts.join(''));

describe('extractMentions', () => {
  it('finds @names, lower-cased, once each, without trailing punctuation', () => {
    expect(extractMentions('hey @Alice and @bob, also @ALICE. Ping @team.lead-')).toEqual([
      'alice',
      'bob',
      'team.lead',
    ]);
  });

  it('ignores e-mail addresses and bare @', () => {
    expect(extractMentions('write to ann@example.com or @ alone or @@x')).toEqual([]);
  });

  it('accepts unicode names', () => {
    expect(extractMentions('merci @Zoë')).toEqual(['zoë']);
  });

  it('agrees with the Unicode pattern on any text (the ASCII and no-@ fast paths change nothing)', () => {
    fc.assert(
      fc.property(fc.oneof(asciiMentionText, mentionText, fc.string(), fc.string({ unit: 'binary' })), (text) => {
        expect(extractMentions(text)).toEqual(mentionsByUnicodePattern(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('normalizeMention strips @ and case', () => {
    expect(normalizeMention('@Bob')).toBe('bob');
    expect(normalizeMention('bob')).toBe('bob');
  });
});

describe('extractToolCalls', () => {
  it('reads metadata.tool, tools, tool_calls[].name and .function.name', () => {
    const tools = extractToolCalls('', {
      tool: 'Bash',
      tools: ['read', 3, 'write'],
      tool_calls: [{ name: 'grep' }, { function: { name: 'web_fetch' } }, 'junk', null],
    });
    expect(tools.sort()).toEqual(['bash', 'grep', 'read', 'web_fetch', 'write']);
  });

  it('reads text patterns', () => {
    expect(extractToolCalls('ran tool: bash then tool_call=edit and <tool name="glob">', {}).sort()).toEqual([
      'bash',
      'edit',
      'glob',
    ]);
  });

  it('skips the text patterns only when they cannot match: no code point but t/o/l folds to t, o or l', () => {
    // The shortcut tests /tool/i before the /iu patterns; it is exact only if Unicode's case
    // folding gives those three letters no other forms. Checked over every code point.
    const letters = /[tol]/iu;
    const others: string[] = [];
    for (let code = 0; code <= 0x10ffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const char = String.fromCodePoint(code);
      if (letters.test(char) && !'tolTOL'.includes(char)) others.push(char);
    }
    expect(others).toEqual([]);
    expect(extractToolCalls('TOOL: Bash', {})).toEqual(['bash']);
    expect(extractToolCalls('no calls here', {})).toEqual([]);
  });

  it('ignores names that are not tool-like', () => {
    expect(extractToolCalls('', { tool: 'has spaces in it', tools: [''] })).toEqual([]);
  });
});
