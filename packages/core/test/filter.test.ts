// SPDX-License-Identifier: GPL-3.0-or-later
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sampleDoc } from '../src/contract/sample-doc.js';
import type { Doc, JsonObject, JsonValue } from '../src/doc.js';
import { isDualStoreError } from '../src/errors.js';
import {
  type Filter,
  type FilterCondition,
  type FilterField,
  MAX_FILTER_BYTES,
  MAX_FILTER_CONDITIONS,
  MAX_FILTER_PATH_SEGMENTS,
  MAX_IN_VALUES,
  matchesFilter,
  parseFilter,
} from '../src/filter.js';

const makeDoc = (overrides: Partial<Doc> = {}): Doc => sampleDoc({ id: 'd1', ...overrides });

/** Parse, then match one doc with the given metadata. */
function matchMeta(metadata: JsonObject, filter: unknown): boolean {
  return matchesFilter(makeDoc({ metadata }), parseFilter(filter));
}

function expectBadFilter(input: unknown): void {
  let thrown: unknown;
  try {
    parseFilter(input);
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) expect.fail(`expected bad_filter for ${preview(input)}`);
  expect(isDualStoreError(thrown)).toBe(true);
  expect((thrown as { code: string }).code).toBe('bad_filter');
}

function preview(input: unknown): string {
  try {
    return String(JSON.stringify(input)).slice(0, 200);
  } catch {
    return String(input);
  }
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

const repo: FilterField = { kind: 'metadata', path: ['repo'] };

describe('parseFilter', () => {
  it('turns a scalar value into $eq and each operator into one condition, in order', () => {
    const filter = parseFilter({
      'metadata.repo': 'x',
      topic: { $in: ['a', 'b'] },
      attempts: { $gte: 1, $lt: 3 },
      'metadata.a.b-c.d_e': { $exists: true },
    });
    expect(filter.conditions).toEqual<FilterCondition[]>([
      { field: repo, op: '$eq', value: 'x' },
      { field: { kind: 'column', name: 'topic' }, op: '$in', value: ['a', 'b'] },
      { field: { kind: 'column', name: 'attempts' }, op: '$gte', value: 1 },
      { field: { kind: 'column', name: 'attempts' }, op: '$lt', value: 3 },
      { field: { kind: 'metadata', path: ['a', 'b-c', 'd_e'] }, op: '$exists', value: true },
    ]);
  });

  it('accepts every operator', () => {
    const filter = parseFilter({
      'metadata.v': {
        $eq: 1,
        $ne: 'x',
        $in: [true, null],
        $nin: [2.5],
        $gt: 'a',
        $gte: -1,
        $lt: 'z',
        $lte: 0,
        $exists: false,
      },
    });
    expect(filter.conditions.map((c) => c.op)).toEqual([
      '$eq',
      '$ne',
      '$in',
      '$nin',
      '$gt',
      '$gte',
      '$lt',
      '$lte',
      '$exists',
    ]);
  });

  it('accepts every column', () => {
    const filter = parseFilter({
      id: 'a',
      topic: 'b',
      source: 'agent:x',
      status: 'completed',
      correlation_id: 'c',
      parent_id: 'p',
      timestamp: '2026-01-01T00:00:00.000Z',
      claimed_by: 'w',
      attempts: 2,
    });
    expect(filter.conditions).toHaveLength(9);
    expect(filter.conditions.every((c) => c.field.kind === 'column')).toBe(true);
  });

  it('parses JSON text, trimmed', () => {
    expect(parseFilter('  {"metadata.repo": "x"}\n').conditions).toEqual([{ field: repo, op: '$eq', value: 'x' }]);
  });

  it('treats {} as no conditions, which match every doc', () => {
    expect(parseFilter('{}')).toEqual({ conditions: [] });
    expect(parseFilter({})).toEqual({ conditions: [] });
    expect(matchesFilter(makeDoc(), { conditions: [] })).toBe(true);
  });

  it('decodes base64url JSON, with or without padding, including - and _ and non-ASCII text', () => {
    const json = JSON.stringify({ 'metadata.repo': 'ü😀>>>???' });
    const encoded = base64url(json);
    expect(encoded).toMatch(/[-_]/);
    expect(encoded).not.toContain('=');
    const expected: Filter = { conditions: [{ field: repo, op: '$eq', value: 'ü😀>>>???' }] };
    expect(parseFilter(encoded)).toEqual(expected);
    const padded = encoded + '='.repeat((4 - (encoded.length % 4)) % 4);
    expect(padded).not.toBe(encoded);
    expect(parseFilter(padded)).toEqual(expected);
    expect(parseFilter(base64url('{}'))).toEqual({ conditions: [] });
  });

  it('normalises timestamp values to canonical ISO, from offsets and epoch-ms, in every operator', () => {
    const filter = parseFilter({
      timestamp: {
        $gte: '2026-01-01T01:00:00+01:00',
        $lt: Date.UTC(2026, 1, 1),
        $in: ['2026-01-01T00:00Z', 0],
        $eq: null,
      },
    });
    expect(filter.conditions.map((c) => c.value)).toEqual([
      '2026-01-01T00:00:00.000Z',
      '2026-02-01T00:00:00.000Z',
      ['2026-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z'],
      null,
    ]);
  });

  it('keeps metadata values as given (no timestamp normalisation outside the column)', () => {
    expect(parseFilter({ 'metadata.timestamp': 0 }).conditions[0]?.value).toBe(0);
  });

  it('accepts the limits exactly', () => {
    const conditions = Object.fromEntries(
      Array.from({ length: MAX_FILTER_CONDITIONS }, (_, i) => [`metadata.k${i}`, i]),
    );
    expect(parseFilter(conditions).conditions).toHaveLength(32);
    const path = `metadata.${Array.from({ length: MAX_FILTER_PATH_SEGMENTS }, () => 'a').join('.')}`;
    expect(parseFilter({ [path]: 1 }).conditions[0]?.field).toEqual({ kind: 'metadata', path: Array(8).fill('a') });
    expect(parseFilter({ [`metadata.${'s'.repeat(64)}`]: 1 }).conditions).toHaveLength(1);
    const values = Array.from({ length: MAX_IN_VALUES }, (_, i) => i);
    expect(parseFilter({ 'metadata.n': { $in: values, $nin: values } }).conditions).toHaveLength(2);
    const text = padTo(MAX_FILTER_BYTES);
    expect(new TextEncoder().encode(text).byteLength).toBe(8192);
    expect(parseFilter(text).conditions).toHaveLength(1);
    expect(parseFilter(base64url(text)).conditions).toHaveLength(1);
  });
});

/** A one-condition filter whose JSON text is exactly `bytes` UTF-8 bytes long. */
function padTo(bytes: number): string {
  const head = '{"metadata.x":"';
  const tail = '"}';
  // 'é' is two bytes: mixing it in checks bytes are counted, not characters.
  const room = bytes - head.length - tail.length;
  return `${head}${'é'.repeat(Math.floor(room / 2))}${'a'.repeat(room % 2)}${tail}`;
}

describe('parseFilter errors (all bad_filter)', () => {
  const cases: Array<[string, unknown]> = [
    // Input shape
    ['null', null],
    ['undefined', undefined],
    ['a number', 5],
    ['an array', [{ topic: 'a' }]],
    ['an empty string', ''],
    ['whitespace', '   '],
    ['JSON array text', '[{"topic":"a"}]'],
    ['JSON string text', '"topic"'],
    ['JSON null text', 'null'],
    ['truncated JSON', '{"topic":'],
    ['JSON with a trailing comma', '{"topic":"a",}'],
    ['invalid base64url characters', 'eyJ0b3BpYyI6ImEifQ==+/'],
    ['base64url of impossible length', 'abcde'],
    ['base64url that is not UTF-8', Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url')],
    ['base64url of a JSON array', base64url('[1]')],
    ['base64url of a number', base64url('5')],
    ['base64url of broken JSON', base64url('{"topic":')],
    ['a non-plain object', new Date(0)],
    ['a Map', new Map([['topic', 'a']])],
    ['an undefined value', { topic: undefined }],
    ['a function value', { topic: () => 'a' }],
    ['a bigint value', { attempts: 1n }],
    ['NaN', { attempts: Number.NaN }],
    ['Infinity', { 'metadata.n': { $gt: Number.POSITIVE_INFINITY } }],
    // Paths
    ['an unknown column', { text: 'a' }],
    ['a column-like path', { 'topic.x': 'a' }],
    ['bare metadata', { metadata: 'a' }],
    ['metadata with a trailing dot', { 'metadata.': 1 }],
    ['an empty segment', { 'metadata.a..b': 1 }],
    ['a segment with a space', { 'metadata.a b': 1 }],
    ['a segment with a quote', { 'metadata.a"b': 1 }],
    ['a segment with a $', { 'metadata.$a': 1 }],
    ['a segment with a bracket', { 'metadata.a[0]': 1 }],
    ['a segment with NUL', { 'metadata.a\u0000': 1 }],
    ['a segment with a newline', { 'metadata.a\n': 1 }],
    ['a non-ASCII segment', { 'metadata.é': 1 }],
    ['a 65-character segment', { [`metadata.${'s'.repeat(65)}`]: 1 }],
    ['9 segments', { [`metadata.${Array(9).fill('a').join('.')}`]: 1 }],
    ['an uppercase column', { Topic: 'a' }],
    ['$and', { $and: [{ topic: 'a' }] }],
    ['$or', { $or: [{ topic: 'a' }] }],
    // Operator objects
    ['an empty operator object', { topic: {} }],
    ['an unknown operator', { topic: { $regex: 'a' } }],
    ['an operator name in the wrong case', { topic: { $EQ: 'a' } }],
    ['nested-object equality', { 'metadata.a': { b: 1 } }],
    ['mixed $ and plain keys', { 'metadata.a': { $eq: 1, b: 1 } }],
    ['an array value', { 'metadata.a': [1, 2] }],
    ['an array for $eq', { 'metadata.a': { $eq: [1] } }],
    ['an object for $ne', { 'metadata.a': { $ne: { $eq: 1 } } }],
    ['$in not an array', { topic: { $in: 'a' } }],
    ['$in empty', { topic: { $in: [] } }],
    ['$nin empty', { topic: { $nin: [] } }],
    ['$in with an object', { 'metadata.a': { $in: [{ b: 1 }] } }],
    ['$in with an array', { 'metadata.a': { $in: [[1]] } }],
    ['$exists with a string', { 'metadata.a': { $exists: 'true' } }],
    ['$exists with a number', { 'metadata.a': { $exists: 1 } }],
    ['$exists with null', { 'metadata.a': { $exists: null } }],
    ['$gt with null', { 'metadata.a': { $gt: null } }],
    ['$gte with a boolean', { 'metadata.a': { $gte: true } }],
    ['$lt with an array', { 'metadata.a': { $lt: [1] } }],
    ['$lte with an object', { 'metadata.a': { $lte: {} } }],
    ['a lone surrogate', { 'metadata.a': '\ud800' }],
    ['a lone surrogate in $in', { topic: { $in: ['a', 'x\udc00'] } }],
    // Column types
    ['a status that does not exist', { status: 'done' }],
    ['a status in $in that does not exist', { status: { $in: ['pending', 'PENDING'] } }],
    ['a status as a number', { status: 1 }],
    ['attempts as a string', { attempts: '3' }],
    ['attempts as a boolean', { attempts: true }],
    ['topic as a number', { topic: 5 }],
    ['id as a boolean', { id: false }],
    ['a timestamp without a zone', { timestamp: '2026-01-01T00:00:00' }],
    ['a timestamp that is a date only', { timestamp: { $gte: '2026-01-01' } }],
    ['a timestamp that is not a time', { timestamp: { $in: ['yesterday'] } }],
    ['a fractional epoch-ms timestamp', { timestamp: 1.5 }],
    ['a timestamp as a boolean', { timestamp: true }],
    ['a timestamp outside four-digit years', { timestamp: { $lt: 1e17 } }],
  ];
  it.each(cases)('rejects %s', (_name, input) => expectBadFilter(input));

  it('rejects the same inputs as JSON text where they are JSON', () => {
    let checked = 0;
    for (const [, input] of cases) {
      if (input === null || typeof input !== 'object' || Array.isArray(input)) continue;
      const text = JSON.stringify(input, (_key, value) => (typeof value === 'bigint' ? 0 : value));
      // Only inputs that JSON expresses faithfully (NaN, undefined, Date… are not) are comparable.
      if (!isDeepStrictEqual(JSON.parse(text), input)) continue;
      expectBadFilter(text);
      expectBadFilter(base64url(text));
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('rejects 33 conditions, counting each operator', () => {
    const scalars = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`metadata.k${i}`, i]));
    expectBadFilter(scalars);
    const ops = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`metadata.k${i}`, { $gt: 0, $lt: 9, $ne: 5 }]),
    );
    expectBadFilter(ops);
    expectBadFilter(JSON.stringify(ops));
  });

  it('rejects 101 $in / $nin values', () => {
    const values = Array.from({ length: MAX_IN_VALUES + 1 }, (_, i) => `v${i}`);
    expectBadFilter({ topic: { $in: values } });
    expectBadFilter({ topic: { $nin: values } });
  });

  it('rejects 8193 bytes of JSON text, plain, base64url and as an object', () => {
    const text = padTo(MAX_FILTER_BYTES + 1);
    expect(new TextEncoder().encode(text).byteLength).toBe(8193);
    expectBadFilter(text);
    expectBadFilter(base64url(text));
    expectBadFilter(JSON.parse(text));
  });

  it('rejects very long base64url input before decoding it', () => {
    expectBadFilter('A'.repeat(1_000_000));
  });

  it('rejects cyclic and deeply nested objects without overflowing the stack', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['metadata.a'] = { $eq: cyclic };
    expectBadFilter(cyclic);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    expectBadFilter({ 'metadata.a': deep });
    expectBadFilter(`{"metadata.a":${'['.repeat(4000)}${']'.repeat(4000)}}`);
  });

  it('treats __proto__ as an ordinary metadata key, never the prototype', () => {
    // __proto__ is a valid segment; it must be treated as an ordinary own key, never the prototype.
    const filter = parseFilter('{"metadata.__proto__.polluted": 1}');
    expect(filter.conditions[0]?.field).toEqual({ kind: 'metadata', path: ['__proto__', 'polluted'] });
    expect(matchesFilter(makeDoc(), filter)).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('throws only bad_filter, whatever it is given', () => {
    const anyInput = fc.oneof(
      fc.anything(),
      fc.json(),
      fc.string(),
      fc.string().map((s) => base64url(s)),
      fc.dictionary(
        fc.constantFrom('topic', 'status', 'attempts', 'timestamp', 'metadata.a', 'metadata.a.b', '$x'),
        fc.jsonValue(),
      ),
    );
    fc.assert(
      fc.property(anyInput, (input) => {
        try {
          parseFilter(input);
        } catch (error) {
          expect(isDualStoreError(error) && error.code === 'bad_filter').toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('matchesFilter', () => {
  it('$eq on a column, and null for a NULL column', () => {
    const doc = makeDoc({ topic: 'build', source: null });
    expect(matchesFilter(doc, parseFilter({ topic: 'build' }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ topic: 'Build' }))).toBe(false);
    expect(matchesFilter(doc, parseFilter({ source: null }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ topic: null }))).toBe(false);
    expect(matchesFilter(doc, parseFilter({ source: 'x' }))).toBe(false);
  });

  it('$eq compares numbers numerically and never across types', () => {
    expect(matchMeta({ n: 1 }, '{"metadata.n": 1.0}')).toBe(true);
    expect(matchMeta({ n: 1.5 }, { 'metadata.n': 1.5 })).toBe(true);
    expect(matchMeta({ n: -0 }, { 'metadata.n': 0 })).toBe(true);
    expect(matchMeta({ n: 1 }, { 'metadata.n': '1' })).toBe(false);
    expect(matchMeta({ n: '1' }, { 'metadata.n': 1 })).toBe(false);
    expect(matchMeta({ n: 1 }, { 'metadata.n': true })).toBe(false);
    expect(matchMeta({ n: 0 }, { 'metadata.n': false })).toBe(false);
    expect(matchMeta({ n: true }, { 'metadata.n': true })).toBe(true);
    expect(matchMeta({ n: true }, { 'metadata.n': 1 })).toBe(false);
    expect(matchMeta({ n: false }, { 'metadata.n': false })).toBe(true);
    expect(matchMeta({ n: '' }, { 'metadata.n': '' })).toBe(true);
    expect(matchMeta({ n: '' }, { 'metadata.n': null })).toBe(false);
  });

  it('$eq null matches missing paths and JSON null, nothing else', () => {
    expect(matchMeta({}, { 'metadata.a': null })).toBe(true);
    expect(matchMeta({ a: null }, { 'metadata.a': null })).toBe(true);
    expect(matchMeta({ a: 0 }, { 'metadata.a': null })).toBe(false);
    expect(matchMeta({ a: {} }, { 'metadata.a': null })).toBe(false);
    expect(matchMeta({ a: 5 }, { 'metadata.a.b': null })).toBe(true);
    expect(matchMeta({ a: { b: null } }, { 'metadata.a.b': null })).toBe(true);
  });

  it('walks nested objects but never into arrays or through scalars', () => {
    expect(matchMeta({ a: { b: { c: 'x' } } }, { 'metadata.a.b.c': 'x' })).toBe(true);
    expect(matchMeta({ a: [{ b: 'x' }] }, { 'metadata.a.b': 'x' })).toBe(false);
    expect(matchMeta({ a: ['x'] }, { 'metadata.a.0': 'x' })).toBe(false);
    expect(matchMeta({ a: { '0': 'x' } }, { 'metadata.a.0': 'x' })).toBe(true);
    expect(matchMeta({ a: 'xyz' }, { 'metadata.a.length': 3 })).toBe(false);
    expect(matchMeta({ 'a.b': 1 }, { 'metadata.a.b': 1 })).toBe(false);
    expect(matchMeta({}, { 'metadata.constructor': { $exists: true } })).toBe(false);
    expect(matchMeta({}, { 'metadata.toString': { $exists: true } })).toBe(false);
  });

  it('arrays and objects never equal or compare with a scalar; only $ne, $nin and $exists match them', () => {
    for (const value of [[1], [], { b: 1 }, {}] as JsonValue[]) {
      const metadata = { a: value };
      expect(matchMeta(metadata, { 'metadata.a': 1 })).toBe(false);
      expect(matchMeta(metadata, { 'metadata.a': null })).toBe(false);
      expect(matchMeta(metadata, { 'metadata.a': { $in: [1, 'b', null, true] } })).toBe(false);
      expect(matchMeta(metadata, { 'metadata.a': { $gt: 0 } })).toBe(false);
      expect(matchMeta(metadata, { 'metadata.a': { $lte: 'zzz' } })).toBe(false);
      expect(matchMeta(metadata, { 'metadata.a': { $ne: 1 } })).toBe(true);
      expect(matchMeta(metadata, { 'metadata.a': { $ne: null } })).toBe(true);
      expect(matchMeta(metadata, { 'metadata.a': { $nin: [1, null] } })).toBe(true);
      expect(matchMeta(metadata, { 'metadata.a': { $exists: true } })).toBe(true);
    }
  });

  it('$ne is the negation of $eq, so missing fields match $ne', () => {
    expect(matchMeta({}, { 'metadata.a': { $ne: 1 } })).toBe(true);
    expect(matchMeta({ a: 1 }, { 'metadata.a': { $ne: 1 } })).toBe(false);
    expect(matchMeta({ a: '1' }, { 'metadata.a': { $ne: 1 } })).toBe(true);
    expect(matchMeta({}, { 'metadata.a': { $ne: null } })).toBe(false);
    expect(matchMeta({ a: null }, { 'metadata.a': { $ne: null } })).toBe(false);
    expect(matchMeta({ a: false }, { 'metadata.a': { $ne: null } })).toBe(true);
    expect(matchesFilter(makeDoc({ topic: null }), parseFilter({ topic: { $ne: 'a' } }))).toBe(true);
  });

  it('$in matches any listed value; $nin is its negation and matches missing fields', () => {
    expect(matchMeta({ a: 2 }, { 'metadata.a': { $in: [1, 2] } })).toBe(true);
    expect(matchMeta({ a: 3 }, { 'metadata.a': { $in: [1, 2] } })).toBe(false);
    expect(matchMeta({ a: 'x' }, { 'metadata.a': { $in: [1, 'x'] } })).toBe(true);
    expect(matchMeta({}, { 'metadata.a': { $in: [1, null] } })).toBe(true);
    expect(matchMeta({}, { 'metadata.a': { $in: [1] } })).toBe(false);
    expect(matchMeta({}, { 'metadata.a': { $nin: [1] } })).toBe(true);
    expect(matchMeta({}, { 'metadata.a': { $nin: [1, null] } })).toBe(false);
    expect(matchMeta({ a: 1 }, { 'metadata.a': { $nin: [1, 2] } })).toBe(false);
    expect(matchMeta({ a: true }, { 'metadata.a': { $nin: [1] } })).toBe(true);
    const doc = makeDoc({ status: 'failed', topic: null });
    expect(matchesFilter(doc, parseFilter({ status: { $in: ['completed', 'failed'] } }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ topic: { $nin: ['a'] } }))).toBe(true);
  });

  it('$gt/$gte/$lt/$lte compare numbers with numbers and strings with strings only', () => {
    expect(matchMeta({ n: 2 }, { 'metadata.n': { $gt: 1 } })).toBe(true);
    expect(matchMeta({ n: 1 }, { 'metadata.n': { $gt: 1 } })).toBe(false);
    expect(matchMeta({ n: 1 }, { 'metadata.n': { $gte: 1 } })).toBe(true);
    expect(matchMeta({ n: -1.5 }, { 'metadata.n': { $lt: -1 } })).toBe(true);
    expect(matchMeta({ n: 1 }, { 'metadata.n': { $lte: 1.0 } })).toBe(true);
    expect(matchMeta({ n: 10 }, { 'metadata.n': { $gt: '9' } })).toBe(false);
    expect(matchMeta({ n: '10' }, { 'metadata.n': { $gt: 9 } })).toBe(false);
    expect(matchMeta({ n: 'b' }, { 'metadata.n': { $gt: 'a' } })).toBe(true);
    expect(matchMeta({ n: 'a' }, { 'metadata.n': { $gte: 'a' } })).toBe(true);
    expect(matchMeta({ n: 'ab' }, { 'metadata.n': { $gt: 'a' } })).toBe(true);
    expect(matchMeta({ n: true }, { 'metadata.n': { $gt: 0 } })).toBe(false);
    expect(matchMeta({ n: null }, { 'metadata.n': { $lt: 1 } })).toBe(false);
    expect(matchMeta({}, { 'metadata.n': { $lt: 1 } })).toBe(false);
    expect(matchMeta({}, { 'metadata.n': { $gte: '' } })).toBe(false);
    const doc = makeDoc({ attempts: 3, claimed_by: null });
    expect(matchesFilter(doc, parseFilter({ attempts: { $gte: 3, $lt: 4 } }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ attempts: { $gt: 3 } }))).toBe(false);
    expect(matchesFilter(doc, parseFilter({ claimed_by: { $gte: '' } }))).toBe(false);
  });

  it('orders strings by code point (UTF-8 byte order, as SQLite compares), not UTF-16 units', () => {
    // U+1F600 is a surrogate pair (0xD83D…), which JS's < puts before U+FFFD; by code point it is after.
    expect('😀' < '\uFFFD').toBe(true);
    expect(matchMeta({ s: '😀' }, { 'metadata.s': { $gt: '\uFFFD' } })).toBe(true);
    expect(matchMeta({ s: '\uE000' }, { 'metadata.s': { $lt: '😀' } })).toBe(true);
    expect(matchMeta({ s: '\uE000' }, { 'metadata.s': { $gt: '\uD7FF' } })).toBe(true);
    expect(matchMeta({ s: '𝒜' }, { 'metadata.s': { $gt: '😀' } })).toBe(false);
    expect(matchMeta({ s: 'a😀' }, { 'metadata.s': { $gt: 'a\uFFFF' } })).toBe(true);
    const utf8 = (s: string) => Buffer.from(s, 'utf8');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const bytes = Math.sign(Buffer.compare(utf8(a), utf8(b)));
        expect(matchMeta({ s: a }, { 'metadata.s': { $gt: b } })).toBe(bytes > 0);
        expect(matchMeta({ s: a }, { 'metadata.s': { $lte: b } })).toBe(bytes <= 0);
        expect(matchMeta({ s: a }, { 'metadata.s': { $lt: b } })).toBe(bytes < 0);
        expect(matchMeta({ s: a }, { 'metadata.s': { $gte: b } })).toBe(bytes >= 0);
      }),
      { numRuns: 1000 },
    );
  });

  it('compares timestamps as canonical ISO text after normalising the filter value', () => {
    const doc = makeDoc({ timestamp: '2026-03-01T12:00:00.000Z' });
    expect(matchesFilter(doc, parseFilter({ timestamp: '2026-03-01T13:00:00+01:00' }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ timestamp: Date.UTC(2026, 2, 1, 12) }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ timestamp: { $gte: '2026-01-01T00:00:00.000Z' } }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ timestamp: { $gt: '2026-03-01T12:00:00.001Z' } }))).toBe(false);
    // "…T12:00Z" sorts before "…T12:00:00.000Z" as raw text; normalised it is equal.
    expect(matchesFilter(doc, parseFilter({ timestamp: { $lte: '2026-03-01T12:00Z' } }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ timestamp: { $lt: Date.UTC(2026, 2, 1, 12) } }))).toBe(false);
  });

  it('$exists: JSON null is present in metadata; a NULL column is missing', () => {
    expect(matchMeta({ a: null }, { 'metadata.a': { $exists: true } })).toBe(true);
    expect(matchMeta({ a: null }, { 'metadata.a': { $exists: false } })).toBe(false);
    expect(matchMeta({ a: false }, { 'metadata.a': { $exists: true } })).toBe(true);
    expect(matchMeta({}, { 'metadata.a': { $exists: false } })).toBe(true);
    expect(matchMeta({ a: { b: 1 } }, { 'metadata.a.c': { $exists: false } })).toBe(true);
    const doc = makeDoc({ topic: null, claimed_by: 'w' });
    expect(matchesFilter(doc, parseFilter({ topic: { $exists: false } }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ topic: { $exists: true } }))).toBe(false);
    expect(matchesFilter(doc, parseFilter({ claimed_by: { $exists: true } }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ attempts: { $exists: true } }))).toBe(true);
  });

  it('requires every condition (implicit AND), including several on one path', () => {
    const doc = makeDoc({ topic: 'build', metadata: { n: 5 } });
    expect(matchesFilter(doc, parseFilter({ topic: 'build', 'metadata.n': { $gt: 1, $lt: 10 } }))).toBe(true);
    expect(matchesFilter(doc, parseFilter({ topic: 'build', 'metadata.n': { $gt: 1, $lt: 5 } }))).toBe(false);
    expect(matchesFilter(doc, parseFilter({ topic: 'deploy', 'metadata.n': 5 }))).toBe(false);
  });

  it('$ne ≡ ¬$eq and $nin ≡ ¬$in for any metadata value', () => {
    const scalar = fc.oneof(
      fc.constantFrom(0, 1, -1, 1.5, '', 'a', true, false, null),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(fc.jsonValue(), scalar, fc.array(scalar, { minLength: 1, maxLength: 5 }), (value, v, vs) => {
        const metadata = { a: value } as JsonObject;
        expect(matchMeta(metadata, { 'metadata.a': { $ne: v } })).toBe(!matchMeta(metadata, { 'metadata.a': v }));
        expect(matchMeta(metadata, { 'metadata.a': { $nin: vs } })).toBe(
          !matchMeta(metadata, { 'metadata.a': { $in: vs } }),
        );
        expect(matchMeta(metadata, { 'metadata.a': { $in: vs } })).toBe(
          vs.some((x) => matchMeta(metadata, { 'metadata.a': x })),
        );
      }),
      { numRuns: 500 },
    );
  });
});
