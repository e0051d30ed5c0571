// SPDX-License-Identifier: GPL-3.0-or-later
// Search safety (DESIGN §4): in `simple` mode no input can fail; in `fts` mode the only failure
// is `bad_search_syntax`. 10,000+ hostile queries: most run through toSimpleQuery and a direct
// MATCH, or the in-process Searcher over a real index file (fast), and some hundreds through the
// real worker threads and the error mapping of SearchIndex.

import { isDualStoreError } from '@dualstore/core';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { toSimpleQuery } from '../../src/search/fts-query.js';
import { createCollectionTablesSql, fullTable } from '../../src/search/index-schema.js';
import { Indexer } from '../../src/search/indexer.js';
import { SearchIndex } from '../../src/search/search-index.js';
import { Searcher, SearchSyntaxError } from '../../src/search/searcher.js';
import { createTestDb, insertDocs, searchRequest, type TestDb } from './helpers.js';

const FRAGMENTS = [
  '"',
  "'",
  '""',
  'AND',
  'OR',
  'NOT',
  'NEAR',
  'NEAR(',
  'NEAR/',
  ')',
  '(',
  '*',
  '^',
  'col:',
  'text:',
  '{text}:',
  '-',
  '+',
  ',',
  ':',
  '{',
  '}',
  '[',
  ']',
  '\\',
  '.',
  '\0',
  '\u0001',
  '\n',
  '\t',
  ' ',
  '  ',
  '😀',
  '\ud83d',
  '\ude00',
  'é',
  'e\u0301',
  '\u0301',
  '中文',
  'ß',
  'İ',
  '𝒜',
  '_',
  '\u200d',
  '\ufeff',
  '\uffff',
  '\u2028',
  '0',
  '12',
  'deploy',
  'fail',
  'a',
  'x*',
  '"x"',
  '*x',
  'rank',
  'rowid',
  'MATCH',
  "'; DROP TABLE docs; --",
];

const rawUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);

/** Hostile search text: operator soup, raw UTF-16 (lone surrogates, NUL), and 10 KB strings. */
const hostileQuery: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 30 }).map((parts) => parts.join('')) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ unit: rawUnit, maxLength: 4 })), { maxLength: 20 })
      .map((parts) => parts.join(' ')),
  },
  { weight: 2, arbitrary: fc.string({ unit: rawUnit, maxLength: 60 }) },
  {
    weight: 1,
    arbitrary: fc.array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 8 }).map((parts) =>
      parts
        .join(' ')
        .repeat(Math.ceil(10_000 / (parts.join(' ').length + 1)))
        .slice(0, 10_000),
    ),
  },
);

let t: TestDb;
let searcher: Searcher;

beforeAll(() => {
  t = createTestDb();
  const words = ['deploy', 'failed', 'café', 'crème', '中文字', 'straße', 'x', 'abc', 'abcdef', 'NEAR', 'AND', 'rank'];
  insertDocs(
    t.db,
    'events',
    Array.from({ length: 60 }, (_, i) => `${words[i % words.length]} ${words[(i * 7) % words.length]} doc ${i} 😀`),
  );
  const indexer = new Indexer({
    dbPath: t.dbPath,
    indexPath: t.indexPath,
    hotTierSize: 20,
    batchSize: 25,
    catchUpBatchSize: 25,
  });
  while (indexer.step().more) {
    // Build the index to the head.
  }
  indexer.close();
  searcher = new Searcher({ dbPath: t.dbPath, indexPath: t.indexPath });
});

afterAll(() => {
  searcher?.close();
  t?.cleanup();
});

describe('simple mode never fails', () => {
  test('toSimpleQuery output is accepted by a real FTS5 MATCH (6,000 queries)', () => {
    const db = new Database(':memory:');
    db.exec(createCollectionTablesSql(1));
    db.prepare(`INSERT INTO ${fullTable(1)} (rowid, text) VALUES (1, 'deploy café 中文字 abc')`).run();
    const match = db.prepare(`SELECT rowid FROM ${fullTable(1)} WHERE ${fullTable(1)} MATCH ?`);
    try {
      fc.assert(
        fc.property(hostileQuery, (q) => {
          const expression = toSimpleQuery(q);
          if (expression !== undefined) match.all(expression);
        }),
        { numRuns: 6000 },
      );
    } finally {
      db.close();
    }
  });

  test('the Searcher answers every query in both orders (1,500 queries)', () => {
    fc.assert(
      fc.property(
        hostileQuery,
        fc.constantFrom('relevance', 'recent') as fc.Arbitrary<'relevance' | 'recent'>,
        (q, order) => {
          const answer = searcher.search(searchRequest('events', q, { order }));
          expect(answer.hits.length).toBeLessThanOrEqual(8);
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe('fts mode fails only with bad_search_syntax', () => {
  test('the Searcher throws nothing but SearchSyntaxError (2,000 queries)', () => {
    let refused = 0;
    fc.assert(
      fc.property(
        hostileQuery,
        fc.constantFrom('relevance', 'recent') as fc.Arbitrary<'relevance' | 'recent'>,
        (q, order) => {
          try {
            searcher.search(searchRequest('events', q, { mode: 'fts', order }));
          } catch (error) {
            expect(error).toBeInstanceOf(SearchSyntaxError);
            refused += 1;
          }
        },
      ),
      { numRuns: 2000 },
    );
    // The generator is hostile enough to be refused often: the property is not vacuous.
    expect(refused).toBeGreaterThan(200);
  });
});

describe('through the worker threads', () => {
  let index: SearchIndex;
  beforeAll(async () => {
    index = await SearchIndex.open({ dbPath: t.dbPath, indexPath: t.indexPath, hotTierSize: 20 });
  });
  afterAll(async () => {
    await index?.close();
  });

  test('simple mode resolves for every query (300 queries)', async () => {
    await fc.assert(
      fc.asyncProperty(hostileQuery, async (q) => {
        await index.search(searchRequest('events', q));
      }),
      { numRuns: 300 },
    );
  });

  test('fts mode rejects only with DualStoreError bad_search_syntax (300 queries)', async () => {
    await fc.assert(
      fc.asyncProperty(hostileQuery, async (q) => {
        try {
          await index.search(searchRequest('events', q, { mode: 'fts' }));
        } catch (error) {
          expect(isDualStoreError(error)).toBe(true);
          expect((error as { code: string }).code).toBe('bad_search_syntax');
        }
      }),
      { numRuns: 300 },
    );
  });
});
