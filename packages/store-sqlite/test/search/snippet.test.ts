// SPDX-License-Identifier: GPL-3.0-or-later
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { QueryTerm } from '../../src/search/fts-query.js';
import { makeSnippet } from '../../src/search/snippet.js';

const word = (text: string): QueryTerm => ({ text, prefix: false });
const prefix = (text: string): QueryTerm => ({ text, prefix: true });
const filler = (n: number) => Array.from({ length: n }, (_, i) => `filler${i}`).join(' ');
// A lone surrogate anywhere: what a cut through a pair would leave behind.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('makeSnippet', () => {
  test('a short text comes back whole, whitespace collapsed', () => {
    expect(makeSnippet('  hello\n\n  world\t', [word('world')])).toBe('hello world');
    expect(makeSnippet('', [word('x')])).toBe('');
  });

  test('cuts a window around the first match, marking both cut ends', () => {
    const text = `${filler(40)} the needle is here ${filler(40)}`;
    const snippet = makeSnippet(text, [word('needle')]);
    expect(snippet).toMatch(/^….* the needle is here .*…$/);
    expect(snippet.length).toBeLessThanOrEqual(162);
    // Cut at word boundaries when one is near.
    expect(snippet).toMatch(/^…filler\d+ /);
    expect(snippet).toMatch(/ filler\d+…$/);
  });

  test('the earliest match of any term wins, whatever the term order', () => {
    const snippet = makeSnippet(`${filler(30)} beta ${filler(60)} alpha ${filler(30)}`, [word('alpha'), word('beta')]);
    expect(snippet).toContain('beta');
    expect(snippet).not.toContain('alpha');
  });

  test('no match: the start of the text', () => {
    const text = filler(100);
    const snippet = makeSnippet(text, [word('absent')]);
    expect(snippet.startsWith('filler0 filler1')).toBe(true);
    expect(snippet.endsWith('…')).toBe(true);
    expect(makeSnippet(text, [])).toBe(snippet);
  });

  test('a match at the very end shows the end of the text', () => {
    const snippet = makeSnippet(`${filler(100)} finale`, [word('finale')]);
    expect(snippet.endsWith('finale')).toBe(true);
    expect(snippet.startsWith('…')).toBe(true);
  });

  test('whole words for plain terms, word starts for prefix terms', () => {
    const text = `${filler(40)} xapple ${filler(40)} applesauce ${filler(40)} apple ${filler(40)}`;
    expect(makeSnippet(text, [word('apple')])).toMatch(/ apple /);
    expect(makeSnippet(text, [word('apple')])).not.toContain('applesauce');
    expect(makeSnippet(text, [prefix('apple')])).toContain('applesauce');
    expect(makeSnippet(text, [prefix('apple')])).not.toContain('xapple');
  });

  test('ignores case and diacritics, like the index', () => {
    const text = `${filler(40)} Le CAFÉ ouvre ${filler(40)}`;
    expect(makeSnippet(text, [word('cafe')])).toContain('CAFÉ');
    expect(makeSnippet(text, [word('Café')])).toContain('CAFÉ');
    const decomposed = `${filler(40)} le cafe\u0301 ${filler(40)}`;
    expect(makeSnippet(decomposed, [word('CAFE')])).toContain('cafe\u0301');
    const turkish = `${filler(40)} İstanbul ${filler(40)}`;
    expect(makeSnippet(turkish, [word('istanbul')])).toContain('İstanbul');
  });

  test('never cuts a surrogate pair or a base from its combining marks', () => {
    const emoji = '😀'.repeat(200);
    for (const max of [1, 2, 3, 10, 159, 160, 161]) {
      const snippet = makeSnippet(emoji, [], max);
      expect(snippet).not.toMatch(LONE_SURROGATE);
      expect(snippet.length).toBeLessThanOrEqual(max + 2);
    }
    const marked = 'e\u0301'.repeat(200);
    for (const max of [10, 11, 159, 160]) {
      const body = makeSnippet(marked, [], max).replace(/…$/, '');
      expect(body.endsWith('\u0301')).toBe(true);
    }
    const atMatch = `${'😀'.repeat(100)}target${'😀'.repeat(100)}`;
    expect(makeSnippet(atMatch, [word('target')])).not.toMatch(LONE_SURROGATE);
  });

  test('maxChars bounds the text; the result is at most maxChars + 2', () => {
    const text = `${filler(50)} needle ${filler(50)}`;
    const snippet = makeSnippet(text, [word('needle')], 40);
    expect(snippet).toContain('needle');
    expect(snippet.length).toBeLessThanOrEqual(42);
  });

  test('any input: no throw, bounded, well-formed, and shows a present term', () => {
    const unit = fc.oneof(
      fc.constantFrom('a', 'b', ' ', '\n', 'é', 'e\u0301', '😀', '中', 'İ', 'ß', '_', '-'),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    );
    fc.assert(
      fc.property(
        fc.string({ unit, maxLength: 400 }),
        fc.array(fc.record({ text: fc.string({ unit, maxLength: 6 }), prefix: fc.boolean() }), { maxLength: 3 }),
        fc.integer({ min: 1, max: 200 }),
        (text, terms, max) => {
          const snippet = makeSnippet(text, terms, max);
          expect(snippet.length).toBeLessThanOrEqual(max + 2);
          expect(snippet).not.toMatch(LONE_SURROGATE);
        },
      ),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('lorem', 'ipsum', 'dolor', 'sit'), { maxLength: 200 }),
        fc.nat(200),
        (words, at) => {
          const all: string[] = [...words];
          all.splice(Math.min(at, all.length), 0, 'needle');
          expect(makeSnippet(all.join(' '), [word('needle')])).toContain('needle');
        },
      ),
      { numRuns: 500 },
    );
  });
});
