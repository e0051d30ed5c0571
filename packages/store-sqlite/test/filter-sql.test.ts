// SPDX-License-Identifier: GPL-3.0-or-later
// The SQL compilation of a filter must select exactly the docs core's matchesFilter accepts:
// the SSE hub filters live events in JS while catch-up and `recent` filter in SQL, so any
// disagreement would show a client different docs depending on timing.

import {
  DOC_STATUSES,
  type Doc,
  type Filter,
  type FilterScalar,
  isDualStoreError,
  type JsonObject,
  type JsonValue,
  matchesFilter,
  parseFilter,
} from '@dualstore/core';
import { sampleDoc } from '@dualstore/core/contract';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileFilter } from '../src/filter-sql.js';
import { migrate } from '../src/migrations.js';

let db: Database.Database;

beforeAll(() => {
  db = new Database(':memory:');
  migrate(db);
});

afterAll(() => {
  db.close();
});

const KEYS = ['a', 'b', 'c'] as const;
const META_PATHS = [
  'metadata.a',
  'metadata.b',
  'metadata.c',
  'metadata.a.b',
  'metadata.a.c',
  'metadata.b.a',
  'metadata.a.b.c',
  'metadata.c.c.c',
];
const STRING_COLUMNS = ['id', 'topic', 'source', 'correlation_id', 'parent_id', 'claimed_by'] as const;

/** Values chosen to sit on the edges where SQLite and JS could disagree. */
const EDGE_VALUES: readonly FilterScalar[] = [
  0,
  -0,
  1,
  -1,
  1.5,
  -2.25,
  2 ** 53 + 2,
  2 ** 60, // JS prints 1152921504606847000; SQLite reads that as a different INTEGER
  -(2 ** 63),
  1e21,
  5e-324,
  Number.MAX_VALUE,
  '',
  'a',
  'b',
  'A',
  'ab',
  '1',
  'true',
  'null',
  'é',
  '😀',
  '𝒜',
  '\uE000',
  '\uFFFF',
  '\uFFFD',
  'a\u0000b',
  'a\u0000',
  "'",
  '"',
  '\\',
  true,
  false,
  null,
];
const WORDS = ['a', 'b', 'build', '😀', '\uFFFF', 'x\u0000y', ''];
const TIMESTAMPS = [
  '1970-01-01T00:00:00.000Z',
  '2026-01-01T00:00:00.000Z',
  '2026-01-01T00:00:00.001Z',
  '2026-06-15T12:30:00.000Z',
  '9999-12-31T23:59:59.999Z',
];

const randomScalar: fc.Arbitrary<FilterScalar> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(Number),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.constantFrom(true, false, null),
);

function insertDocs(docs: readonly Doc[]): void {
  db.exec('DELETE FROM docs');
  const insert = db.prepare(`
    INSERT INTO docs (seq, id, collection, text, timestamp, metadata, topic, source, correlation_id, parent_id,
                      status, attempts, max_attempts, claimed_by, mentions, tool_calls, version)
    VALUES (@seq, @id, @collection, @text, @timestamp, @metadata, @topic, @source, @correlation_id, @parent_id,
            @status, @attempts, @max_attempts, @claimed_by, '[]', '[]', @version)`);
  db.transaction(() => {
    for (const doc of docs) {
      const { seq, id, collection, text, timestamp, topic, source, correlation_id, parent_id, status } = doc;
      const { attempts, max_attempts, claimed_by, version } = doc;
      insert.run({
        ...{ seq, id, collection, text, timestamp, topic, source, correlation_id, parent_id, status },
        ...{ attempts, max_attempts, claimed_by, version },
        metadata: JSON.stringify(doc.metadata),
      });
    }
  })();
}

const makeDoc = (seq: number, fields: Partial<Doc>): Doc => sampleDoc({ seq, ...fields });

function selectSeqs(where: string, params: unknown[], alias?: string): number[] {
  const from = alias === undefined ? 'docs' : `docs ${alias}`;
  return db
    .prepare(`SELECT seq FROM ${from} WHERE ${where} ORDER BY seq`)
    .pluck()
    .all(...params) as number[];
}

/** SQL and JS agree on `filter` over the inserted `docs`, both ways round and under the documented negation. */
function expectAgreement(docs: readonly Doc[], filter: Filter): void {
  const expected = docs.filter((doc) => matchesFilter(doc, filter)).map((doc) => doc.seq);
  const aliased = compileFilter(filter, 'd');
  expect(aliased.params.every((p) => typeof p === 'string' || typeof p === 'number')).toBe(true);
  const context = () => JSON.stringify({ filter, sql: aliased.sql, params: aliased.params });
  expect(selectSeqs(aliased.sql, aliased.params, 'd'), context()).toEqual(expected);
  const plain = compileFilter(filter);
  expect(selectSeqs(plain.sql, plain.params), context()).toEqual(expected);
  const complement = docs.filter((doc) => !expected.includes(doc.seq)).map((doc) => doc.seq);
  expect(selectSeqs(`(${plain.sql}) IS NOT 1`, plain.params), context()).toEqual(complement);
}

// ---------------------------------------------------------------------------------------------
// Generators

function jsonTree(leaf: fc.Arbitrary<FilterScalar>): fc.Arbitrary<JsonValue> {
  return fc.letrec<{ node: JsonValue }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      { arbitrary: leaf, weight: 5 },
      { arbitrary: fc.array(tie('node'), { maxLength: 3 }), weight: 1 },
      { arbitrary: fc.dictionary(fc.constantFrom(...KEYS), tie('node'), { maxKeys: 3 }), weight: 3 },
    ),
  })).node;
}

function docArb(leaf: fc.Arbitrary<FilterScalar>): fc.Arbitrary<Partial<Doc>> {
  const word = fc.option(fc.constantFrom(...WORDS), { nil: null, freq: 3 });
  return fc.record({
    metadata: fc.dictionary(fc.constantFrom(...KEYS), jsonTree(leaf), {
      minKeys: 1,
      maxKeys: 3,
    }) as fc.Arbitrary<JsonObject>,
    topic: word,
    source: word,
    correlation_id: word,
    parent_id: word,
    claimed_by: word,
    status: fc.constantFrom(...DOC_STATUSES),
    attempts: fc.integer({ min: 0, max: 4 }),
    timestamp: fc.constantFrom(...TIMESTAMPS),
  });
}

type Spec = unknown;

/** A path's value in a raw filter: a scalar, or an object of one or more operators. */
function specArb(eq: fc.Arbitrary<FilterScalar>, ordered: fc.Arbitrary<string | number>): fc.Arbitrary<Spec> {
  const list = fc.array(eq, { minLength: 1, maxLength: 4 });
  const one = fc.oneof(
    fc.record({ $eq: eq }),
    fc.record({ $ne: eq }),
    fc.record({ $in: list }),
    fc.record({ $nin: list }),
    fc.record({ $gt: ordered }),
    fc.record({ $gte: ordered }),
    fc.record({ $lt: ordered }),
    fc.record({ $lte: ordered }),
    fc.record({ $exists: fc.boolean() }),
  );
  const ops = fc.array(one, { minLength: 1, maxLength: 2 }).map((parts) => Object.assign({}, ...parts) as Spec);
  return fc.oneof(eq, ops, ops);
}

/** The pool's strings and numbers, for $gt/$gte/$lt/$lte (a few constants if it has none). */
function orderedFrom(values: readonly FilterScalar[]): fc.Arbitrary<string | number> {
  const ordered = values.filter(isOrdered);
  return fc.constantFrom(...(ordered.length > 0 ? ordered : [0, 'a']));
}

function isOrdered(value: FilterScalar): value is string | number {
  return typeof value === 'string' || typeof value === 'number';
}

function filterArb(
  leaf: fc.Arbitrary<FilterScalar>,
  ordered: fc.Arbitrary<string | number>,
): fc.Arbitrary<Record<string, Spec>> {
  const word = fc.constantFrom(...WORDS);
  const timestamp = fc.oneof(
    fc.constantFrom(...TIMESTAMPS),
    fc.constantFrom(...TIMESTAMPS).map((iso) => Date.parse(iso)),
    fc.constant('2026-01-01T01:00:00+01:00'),
  );
  const entry = fc.oneof(
    { arbitrary: fc.tuple(fc.constantFrom(...META_PATHS), specArb(leaf, ordered)), weight: 6 },
    {
      arbitrary: fc.tuple(fc.constantFrom(...STRING_COLUMNS), specArb(fc.option(word, { nil: null }), word)),
      weight: 2,
    },
    {
      arbitrary: fc.tuple(
        fc.constant('status'),
        specArb(fc.constantFrom(...DOC_STATUSES, null), fc.constantFrom(...DOC_STATUSES)),
      ),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(
        fc.constant('attempts'),
        specArb(fc.constantFrom(0, 1, 2, 2.5, 4, -1, null), fc.constantFrom(0, 1, 2, 2.5, 4, -1)),
      ),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(fc.constant('timestamp'), specArb(fc.option(timestamp, { nil: null }), timestamp)),
      weight: 1,
    },
  );
  return fc.array(entry, { minLength: 1, maxLength: 3 }).map((entries) => Object.fromEntries(entries));
}

// ---------------------------------------------------------------------------------------------

describe('compileFilter', () => {
  it('compiles no conditions to a constant true', () => {
    expect(compileFilter({ conditions: [] })).toEqual({ sql: '1', params: [] });
    expect(compileFilter(parseFilter('{}'), 'd')).toEqual({ sql: '1', params: [] });
  });

  it('keeps column tests index-friendly (`status = ?`, `topic IN (…)`)', () => {
    expect(compileFilter(parseFilter({ status: 'pending' }), 'd').sql).toBe('(d.status = ?)');
    expect(compileFilter(parseFilter({ topic: { $in: ['a', 'b'] } })).sql).toBe('(docs.topic IN (?, ?))');
  });

  it('agrees with matchesFilter on every edge value under every operator', () => {
    const leaves: JsonValue[] = [...EDGE_VALUES, [], [1], ['a'], {}, { b: 1 }, [{ b: 1 }]];
    const docs = [
      ...leaves.map((value, i) => makeDoc(i + 1, { metadata: { a: value } })),
      makeDoc(leaves.length + 1, { metadata: {} }),
      makeDoc(leaves.length + 2, { metadata: { a: { b: 1 } } }),
      makeDoc(leaves.length + 3, { metadata: { b: 1 } }),
    ];
    insertDocs(docs);
    for (const value of EDGE_VALUES) {
      const specs: unknown[] = [value, { $ne: value }, { $in: [value] }, { $nin: [value] }, { $in: [value, 1, 'a'] }];
      if (isOrdered(value)) specs.push({ $gt: value }, { $gte: value }, { $lt: value }, { $lte: value });
      for (const spec of specs) expectAgreement(docs, parseFilter({ 'metadata.a': spec }));
    }
    for (const exists of [true, false]) {
      expectAgreement(docs, parseFilter({ 'metadata.a': { $exists: exists } }));
      expectAgreement(docs, parseFilter({ 'metadata.a.b': { $exists: exists } }));
    }
  });

  it('agrees with matchesFilter on columns, including NULL ones', () => {
    const docs = [
      makeDoc(1, { topic: 'a', attempts: 0, status: 'pending' }),
      makeDoc(2, { topic: null, attempts: 2, status: 'completed', claimed_by: 'w' }),
      makeDoc(3, { topic: 'b', attempts: 3, status: 'failed', timestamp: '2026-06-15T12:30:00.000Z' }),
    ];
    insertDocs(docs);
    const filters = [
      { topic: 'a' },
      { topic: null },
      { topic: { $ne: 'a' } },
      { topic: { $ne: null } },
      { topic: { $nin: ['a', null] } },
      { topic: { $in: ['b', null] } },
      { topic: { $gt: 'a' } },
      { topic: { $exists: false } },
      { claimed_by: { $exists: true } },
      { attempts: 2 },
      { attempts: { $gte: 2, $lt: 2.5 } },
      { attempts: { $in: [0, 3] } },
      { attempts: { $nin: [0] } },
      { attempts: null },
      { status: { $in: ['completed', 'failed'] } },
      { timestamp: { $gt: '2026-01-01T00:00:00+00:00' } },
      { timestamp: Date.parse('2026-06-15T12:30:00.000Z') },
      { id: { $lte: 'd2' } },
    ];
    for (const filter of filters) expectAgreement(docs, parseFilter(filter));
  });

  it('agrees with matchesFilter on random docs and filters', () => {
    // A small pool per run, shared by docs and filters, so that equality tests hit.
    const pool = fc.tuple(
      fc.subarray([...EDGE_VALUES], { minLength: 1, maxLength: 5 }),
      fc.array(randomScalar, { maxLength: 3 }),
    );
    const scenario = pool.chain(([edges, extra]) => {
      const values = [...edges, ...extra];
      const leaf = fc.constantFrom(...values);
      return fc.record({
        docs: fc.array(docArb(leaf), { minLength: 2, maxLength: 25, size: 'medium' }),
        filters: fc.array(filterArb(leaf, orderedFrom(values)), { minLength: 1, maxLength: 8 }),
      });
    });
    let matched = 0;
    let total = 0;
    fc.assert(
      fc.property(scenario, ({ docs: fields, filters }) => {
        const docs = fields.map((f, i) => makeDoc(i + 1, f));
        insertDocs(docs);
        for (const raw of filters) {
          const filter = parseFilter(raw);
          expectAgreement(docs, filter);
          const hits = docs.filter((doc) => matchesFilter(doc, filter)).length;
          if (hits > 0 && hits < docs.length) matched++;
          if (docs.length > 1) total++;
        }
      }),
      { numRuns: 400 },
    );
    // The vocabulary is shared so that filters split the docs, rather than trivially matching all or none.
    expect(matched / total).toBeGreaterThan(0.1);
  });
});

describe('compileFilter against hostile input', () => {
  const HOSTILE = [
    "'); DROP TABLE docs; --",
    "' OR '1'='1",
    '" OR ""="',
    '\u0000; DELETE FROM docs',
    'a\u0000b',
    '*/ OR 1=1 /*',
    '$."a"',
    '\\"; --',
  ];

  it('rejects hostile paths with bad_filter', () => {
    const paths = [
      ...HOSTILE.map((h) => `metadata.${h}`),
      ...HOSTILE.map((h) => `metadata.a.${h}`),
      ...HOSTILE,
      'metadata.a"b',
      "metadata.a'b",
      'metadata.a\u0000',
      'topic; DROP TABLE docs',
      'docs.topic',
    ];
    for (const path of paths) {
      let code: string | undefined;
      try {
        parseFilter({ [path]: 1 });
      } catch (error) {
        code = isDualStoreError(error) ? error.code : 'not a DualStoreError';
      }
      expect(code, path).toBe('bad_filter');
    }
  });

  it('binds hostile values as parameters, never as SQL text', () => {
    const docs = [
      makeDoc(1, { topic: HOSTILE[0] ?? null, metadata: { a: HOSTILE[0] ?? null, b: { c: HOSTILE[4] ?? null } } }),
      makeDoc(2, {}),
    ];
    insertDocs(docs);
    for (const value of HOSTILE) {
      for (const path of ['metadata.a', 'metadata.b.c', 'topic', 'claimed_by', 'id']) {
        for (const spec of [
          value,
          { $ne: value },
          { $in: [value, 'x'] },
          { $nin: [value] },
          { $gte: value },
          { $lt: value },
        ]) {
          const filter = parseFilter({ [path]: spec });
          const { sql, params } = compileFilter(filter);
          expect(sql).not.toContain(value);
          expect(params).toContain(value);
          expectAgreement(docs, filter);
        }
      }
    }
    expect(db.prepare('SELECT count(*) FROM docs').pluck().get()).toBe(2);
    const hit = parseFilter({ topic: HOSTILE[0], 'metadata.a': HOSTILE[0], 'metadata.b.c': HOSTILE[4] });
    expect(selectSeqs(compileFilter(hit).sql, compileFilter(hit).params)).toEqual([1]);
  });

  it('refuses a hand-built AST with a column or path that the parser would reject', () => {
    const column = { conditions: [{ field: { kind: 'column', name: 'seq; DROP TABLE docs' }, op: '$eq', value: 1 }] };
    const path = {
      conditions: [{ field: { kind: 'metadata', path: ['a"); DROP TABLE docs; --'] }, op: '$eq', value: 1 }],
    };
    for (const filter of [column, path]) {
      let code: string | undefined;
      try {
        compileFilter(filter as unknown as Filter);
      } catch (error) {
        code = isDualStoreError(error) ? error.code : 'not a DualStoreError';
      }
      expect(code).toBe('bad_filter');
    }
    expect(() => compileFilter({ conditions: [] }, 'docs; DROP TABLE docs')).toThrow(TypeError);
  });
});
