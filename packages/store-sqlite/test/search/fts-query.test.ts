// SPDX-License-Identifier: GPL-3.0-or-later
// Simple-mode query building. That no input can produce an FTS5 error is proven against a real
// MATCH in search-safety.test.ts; here: the exact shapes.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ftsTerms, MAX_SIMPLE_TOKENS, simpleTerms, toSimpleQuery } from '../../src/search/fts-query.js';

// The only shape toSimpleQuery may produce (see the proof in fts-query.ts).
const SAFE_SHAPE = /^"[^"\0\s]+"(?: \*)?(?: AND "[^"\0\s]+"(?: \*)?)*$/u;

describe('toSimpleQuery', () => {
  test.each([
    ['deploy', '"deploy"'],
    ['deploy failed', '"deploy" AND "failed"'],
    ['  Deploy   FAILED  ', '"Deploy" AND "FAILED"'],
    ['fail*', '"fail" *'],
    ['a*', '"a" *'],
    ['fail *', '"fail"'],
    ['*fail', '"fail"'],
    ['fail**', '"fail" *'],
    ['foo_bar', '"foo" AND "bar"'],
    ['foo-bar', '"foo" AND "bar"'],
    ['"quoted phrase"', '"quoted" AND "phrase"'],
    ['a AND b OR NOT c', '"a" AND "AND" AND "b" AND "OR" AND "NOT" AND "c"'],
    ['NEAR(a b, 3)', '"NEAR" AND "a" AND "b" AND "3"'],
    ['col:word ^start', '"col" AND "word" AND "start"'],
    ['café crème', '"café" AND "crème"'],
    ['cafe\u0301', '"cafe\u0301"'],
    ['中文字 検索', '"中文字" AND "検索"'],
    ['𝒜bc', '"𝒜bc"'],
    ['emoji😀x', '"emoji" AND "x"'],
    ['nul\0byte', '"nul" AND "byte"'],
    ['repeat repeat REPEAT', '"repeat" AND "REPEAT"'],
    ['word word*', '"word" AND "word" *'],
  ])('%j → %s', (input, expected) => {
    expect(toSimpleQuery(input)).toBe(expected);
  });

  test.each(['', '   ', '"', '***', '((( )))', '-+^:,.', '\0', '😀😀', '\u0301', '_'])(
    '%j has no words: undefined',
    (input) => {
      expect(toSimpleQuery(input)).toBeUndefined();
    },
  );

  test(`keeps at most ${MAX_SIMPLE_TOKENS} words`, () => {
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`);
    expect(simpleTerms(words.join(' '))).toHaveLength(MAX_SIMPLE_TOKENS);
    expect(toSimpleQuery(words.join(' '))?.split(' AND ')).toHaveLength(MAX_SIMPLE_TOKENS);
  });

  test('any text gives undefined or the safe shape', () => {
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
      fc.constantFrom('"', '*', ' ', 'AND', '\0', 'a', '😀'),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 80 }), (text) => {
        const query = toSimpleQuery(text);
        if (query !== undefined) expect(query).toMatch(SAFE_SHAPE);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('ftsTerms', () => {
  test('drops operators, keeps prefixes', () => {
    expect(ftsTerms('deploy AND (fail* OR "time out") NOT NEAR(x y)')).toEqual([
      { text: 'deploy', prefix: false },
      { text: 'fail', prefix: true },
      { text: 'time', prefix: false },
      { text: 'out', prefix: false },
      { text: 'x', prefix: false },
      { text: 'y', prefix: false },
    ]);
    expect(ftsTerms('"abc" *')).toEqual([{ text: 'abc', prefix: true }]);
  });
});
