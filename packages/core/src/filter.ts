// SPDX-License-Identifier: GPL-3.0-or-later
// The filter language (DESIGN §4 "filter", §10 "Filters"): a JSON object of `path: value` or
// `path: { $op: value }` conditions, all of which must hold. It is parsed and validated here into
// a small AST that every store compiles into parameterised queries; `matchesFilter` is the
// reference semantics those compilations are tested against, and what the SSE hub uses live.
//
// Semantics are Mongo-like with type bracketing: a value only equals or compares with a value of
// the same JSON type, and a missing field (NULL column, absent metadata path) equals only `null`.

import { DOC_STATUSES, type Doc, type JsonValue } from './doc.js';
import { DualStoreError } from './errors.js';
import { jsonDepth, notPlainJson, utf8Length } from './limits.js';
import { normalizeTimestamp } from './time.js';

export const FILTER_OPERATORS = ['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** A value a condition compares with. */
export type FilterScalar = string | number | boolean | null;

/** The top-level doc fields a filter may name. `attempts` is a number; the others are text. */
export const FILTER_COLUMNS = [
  'id',
  'topic',
  'source',
  'status',
  'correlation_id',
  'parent_id',
  'timestamp',
  'claimed_by',
  'attempts',
] as const;
export type FilterColumn = (typeof FILTER_COLUMNS)[number];

/** What a condition looks at: a top-level field, or a path of keys into `metadata`. */
export type FilterField = { kind: 'column'; name: FilterColumn } | { kind: 'metadata'; path: string[] };

/** One condition. `timestamp` values are already normalised to canonical ISO strings. */
export type FilterCondition =
  | { field: FilterField; op: '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte'; value: FilterScalar }
  | { field: FilterField; op: '$in' | '$nin'; value: FilterScalar[] }
  | { field: FilterField; op: '$exists'; value: boolean };

/** A parsed filter: every condition must hold (implicit AND). No conditions match every doc. */
export interface Filter {
  conditions: FilterCondition[];
}

/** Maximum conditions in one filter; each scalar value and each operator counts as one. */
export const MAX_FILTER_CONDITIONS = 32;
/** Maximum keys after `metadata.` in a path. */
export const MAX_FILTER_PATH_SEGMENTS = 8;
/** Maximum UTF-8 bytes of a filter's JSON text. */
export const MAX_FILTER_BYTES = 8192;
/** Maximum values in one `$in` / `$nin` list. */
export const MAX_IN_VALUES = 100;

const OPERATOR_SET: ReadonlySet<string> = new Set(FILTER_OPERATORS);
const COLUMN_SET: ReadonlySet<string> = new Set(FILTER_COLUMNS);
const STATUS_SET: ReadonlySet<string> = new Set(DOC_STATUSES);
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
// In a `u` regex a well-formed surrogate pair is one code point, so this finds only unpaired ones.
const LONE_SURROGATE = /\p{Cs}/u;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** The grammar nests at most three levels: the filter object, an operator object, an `$in` list. */
const MAX_FILTER_DEPTH = 3;
/** Base64url text longer than this cannot decode to at most MAX_FILTER_BYTES bytes. */
const MAX_BASE64_CHARS = Math.ceil(MAX_FILTER_BYTES / 3) * 4 + 2;
const EXAMPLE = '{"topic": "build", "metadata.repo": {"$in": ["a", "b"]}}';

/**
 * Parse and validate a filter.
 *
 * `input` is the JSON text of an object, that text base64url-encoded (as a URL query parameter
 * may carry it), or an already-parsed object. A string that does not start with `{` is taken to
 * be base64url.
 *
 * @throws DualStoreError `bad_filter`, whose detail names the offending path and how to fix it.
 * @example
 * parseFilter('{"metadata.repo": "x", "attempts": {"$gte": 2}}');
 * // → { conditions: [
 * //     { field: { kind: 'metadata', path: ['repo'] }, op: '$eq', value: 'x' },
 * //     { field: { kind: 'column', name: 'attempts' }, op: '$gte', value: 2 } ] }
 */
export function parseFilter(input: unknown): Filter {
  const root = typeof input === 'string' ? parseFilterText(input) : checkFilterObject(input);
  const conditions: FilterCondition[] = [];
  const add = (condition: FilterCondition) => {
    if (conditions.length === MAX_FILTER_CONDITIONS) {
      fail(
        `filter has more than ${MAX_FILTER_CONDITIONS} conditions (each path value and each operator counts as one); ` +
          'combine equality tests on one path with $in, or narrow the query in steps',
      );
    }
    conditions.push(condition);
  };
  for (const [key, spec] of Object.entries(root)) {
    const field = parseField(key);
    if (Array.isArray(spec)) {
      fail(
        `filter path ${quote(key)}: got an array, but arrays are not compared for equality; ` +
          `to match any of several values write {${quote(key)}: {"$in": [...]}}`,
      );
    }
    if (spec === null || typeof spec !== 'object') {
      add(condition(key, field, '$eq', spec));
      continue;
    }
    const ops = Object.entries(spec);
    if (ops.length === 0) {
      fail(`filter path ${quote(key)}: the operator object is empty; give at least one operator, e.g. {"$eq": "x"}`);
    }
    for (const [op, value] of ops) {
      if (!op.startsWith('$')) {
        fail(
          `filter path ${quote(key)}: expected operator keys (${FILTER_OPERATORS.join(' ')}) but got key ${quote(op)}; ` +
            'objects are not compared for equality: filter on a nested key with a dotted path such as "metadata.a.b"',
        );
      }
      if (!OPERATOR_SET.has(op)) {
        fail(`filter path ${quote(key)}: unknown operator ${quote(op)}; expected one of ${FILTER_OPERATORS.join(' ')}`);
      }
      add(condition(key, field, op as FilterOperator, value));
    }
  }
  return { conditions };
}

/**
 * True when `doc` satisfies every condition of `filter` (the reference semantics; stores must agree).
 *
 * @example
 * matchesFilter(doc, parseFilter({ 'metadata.n': { $gt: 1 } })); // false when metadata.n is "2"
 */
export function matchesFilter(doc: Doc, filter: Filter): boolean {
  return filter.conditions.every((c) => matchesCondition(doc, c));
}

// ---------------------------------------------------------------------------------------------
// Parsing

function fail(detail: string): never {
  throw new DualStoreError('bad_filter', detail);
}

function parseFilterText(raw: string): Record<string, unknown> {
  const text = raw.trim();
  if (text === '') fail(`filter is empty; send a JSON object such as ${EXAMPLE}, or that JSON base64url-encoded`);
  let json: string;
  if (text.startsWith('{')) {
    const bytes = utf8Length(raw);
    if (bytes > MAX_FILTER_BYTES) fail(tooLong(bytes));
    json = text;
  } else {
    json = decodeBase64Url(text);
    const bytes = utf8Length(json);
    if (bytes > MAX_FILTER_BYTES) fail(tooLong(bytes));
  }
  let root: unknown;
  try {
    root = JSON.parse(json);
  } catch (error) {
    fail(`filter is not valid JSON (${(error as Error).message}); send an object such as ${EXAMPLE}`);
  }
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    fail(`filter must be a JSON object such as ${EXAMPLE}; got ${describe(root)}`);
  }
  return root as Record<string, unknown>;
}

function tooLong(bytes: number): string {
  return `filter JSON is ${bytes} bytes; at most ${MAX_FILTER_BYTES} are allowed: use fewer or shorter values`;
}

function decodeBase64Url(text: string): string {
  const body = text.replace(/={1,2}$/, '');
  if (!BASE64URL.test(body) || body.length % 4 === 1) {
    fail(
      `filter must be a JSON object (starting with "{") or base64url-encoded JSON; got ${quote(text)}, ` +
        `which is neither. Send e.g. ${EXAMPLE}`,
    );
  }
  if (body.length > MAX_BASE64_CHARS) {
    fail(`base64url filter is ${body.length} characters; it must decode to at most ${MAX_FILTER_BYTES} bytes of JSON`);
  }
  // atob and TextDecoder rather than Buffer: core also runs in browsers.
  const padded = body.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (body.length % 4)) % 4);
  let json: string;
  try {
    const binary = atob(padded);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    json = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(`filter looks base64url-encoded but does not decode to UTF-8 text; encode the JSON's UTF-8 bytes`);
  }
  if (!json.trimStart().startsWith('{')) {
    fail(
      `filter must be a JSON object (starting with "{") or base64url-encoded JSON; got ${quote(text)}, which ` +
        `decodes to ${quote(json)}. Send e.g. ${EXAMPLE}`,
    );
  }
  return json;
}

function checkFilterObject(input: unknown): Record<string, unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    fail(`filter must be a JSON object such as ${EXAMPLE} (or its text); got ${describe(input)}`);
  }
  // Depth first: it stops early on a cyclic or deeply nested value, which the later walks would not.
  if (jsonDepth(input, MAX_FILTER_DEPTH) > MAX_FILTER_DEPTH) {
    fail(
      `filter is nested deeper than the grammar allows (filter object → operator object → $in list); ` +
        'filter on nested metadata keys with dotted paths such as "metadata.a.b"',
    );
  }
  const problem = notPlainJson(input);
  if (problem !== undefined) fail(`filter is not plain JSON: ${problem}`);
  const bytes = utf8Length(JSON.stringify(input));
  if (bytes > MAX_FILTER_BYTES) fail(tooLong(bytes));
  return input as Record<string, unknown>;
}

function parseField(key: string): FilterField {
  if (COLUMN_SET.has(key)) return { kind: 'column', name: key as FilterColumn };
  if (key.startsWith('$')) {
    fail(
      `filter path ${quote(key)}: logical operators such as $and and $or are not supported; ` +
        'the top-level conditions are always all required, so list each path as its own key',
    );
  }
  if (key === 'metadata') {
    fail('filter path "metadata": name a key inside it, e.g. "metadata.repo"; whole-object equality is not supported');
  }
  if (!key.startsWith('metadata.')) {
    fail(
      `filter path ${quote(key)}: unknown field; expected one of ${FILTER_COLUMNS.join(' ')} or metadata.<key>(.<key>)…`,
    );
  }
  const path = key.slice('metadata.'.length).split('.');
  if (path.length > MAX_FILTER_PATH_SEGMENTS) {
    fail(
      `filter path ${quote(key)}: has ${path.length} keys after "metadata"; at most ${MAX_FILTER_PATH_SEGMENTS} are allowed`,
    );
  }
  for (const segment of path) {
    if (!SEGMENT.test(segment)) {
      fail(`filter path ${quote(key)}: segments must match [A-Za-z0-9_-]{1,64}; got ${quote(segment)}`);
    }
  }
  return { kind: 'metadata', path };
}

function condition(key: string, field: FilterField, op: FilterOperator, value: unknown): FilterCondition {
  switch (op) {
    case '$exists':
      if (typeof value !== 'boolean') {
        fail(`filter path ${quote(key)}: $exists needs true or false; got ${describe(value)}`);
      }
      return { field, op, value };
    case '$in':
    case '$nin': {
      if (!Array.isArray(value)) {
        fail(
          `filter path ${quote(key)}: ${op} needs a non-empty array of values, e.g. {"${op}": ["a", "b"]}; got ${describe(value)}`,
        );
      }
      if (value.length === 0) {
        fail(`filter path ${quote(key)}: ${op} needs at least one value; got []`);
      }
      if (value.length > MAX_IN_VALUES) {
        fail(`filter path ${quote(key)}: ${op} has ${value.length} values; at most ${MAX_IN_VALUES} are allowed`);
      }
      return { field, op, value: value.map((v, i) => scalar(key, field, `${op}[${i}]`, v)) };
    }
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      if (typeof value !== 'string' && typeof value !== 'number') {
        fail(`filter path ${quote(key)}: ${op} needs a string or a number; got ${describe(value)}`);
      }
      return { field, op, value: scalar(key, field, op, value) };
    case '$eq':
    case '$ne':
      return { field, op, value: scalar(key, field, op, value) };
  }
}

/** Check one value against the field it tests; `timestamp` values come back normalised. */
function scalar(key: string, field: FilterField, where: string, value: unknown): FilterScalar {
  if (Array.isArray(value)) {
    fail(
      `filter path ${quote(key)}: ${where} needs a string, number, boolean or null; got an array (use $in for "any of")`,
    );
  }
  if (value !== null && typeof value === 'object') {
    fail(
      `filter path ${quote(key)}: ${where} needs a string, number, boolean or null; got an object ` +
        '(objects are not compared: filter on a nested key with a dotted path such as "metadata.a.b")',
    );
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    fail(`filter path ${quote(key)}: ${where} needs a finite number; got ${describe(value)}`);
  }
  if (typeof value === 'string' && LONE_SURROGATE.test(value)) {
    fail(`filter path ${quote(key)}: ${where} contains an unpaired UTF-16 surrogate; send well-formed Unicode text`);
  }
  if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    fail(`filter path ${quote(key)}: ${where} needs a string, number, boolean or null; got ${describe(value)}`);
  }
  if (value === null || field.kind === 'metadata') return value;
  return columnValue(field.name, where, value);
}

/** Columns have one type each, so a value of another type is a mistake worth reporting. */
function columnValue(name: FilterColumn, where: string, value: string | number | boolean): FilterScalar {
  switch (name) {
    case 'timestamp': {
      const iso = typeof value === 'boolean' ? undefined : normalizeTimestamp(value);
      if (iso === undefined) {
        fail(
          `filter path "timestamp": ${where} needs an ISO 8601 time with a zone (e.g. 2026-01-01T00:00:00.000Z) ` +
            `or integer epoch milliseconds; got ${describe(value)}`,
        );
      }
      return iso;
    }
    case 'attempts':
      if (typeof value !== 'number') {
        fail(
          `filter path "attempts": ${where} needs a number (attempts is a count); got ${describe(value)}; send it unquoted`,
        );
      }
      return value;
    case 'status':
      if (typeof value !== 'string' || !STATUS_SET.has(value)) {
        fail(`filter path "status": ${where} must be one of ${DOC_STATUSES.join(', ')}; got ${describe(value)}`);
      }
      return value;
    default:
      if (typeof value !== 'string') {
        fail(`filter path ${quote(name)}: ${where} needs a string (${name} is text); got ${describe(value)}; quote it`);
      }
      return value;
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `the string ${quote(value)}`;
    case 'number':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

// ---------------------------------------------------------------------------------------------
// Matching

function matchesCondition(doc: Doc, condition: FilterCondition): boolean {
  const actual = fieldValue(doc, condition.field);
  switch (condition.op) {
    case '$eq':
      return equals(actual, condition.value);
    case '$ne':
      return !equals(actual, condition.value);
    case '$in':
      return condition.value.some((v) => equals(actual, v));
    case '$nin':
      return !condition.value.some((v) => equals(actual, v));
    case '$exists':
      return (actual !== undefined) === condition.value;
    default:
      return compares(actual, condition.op, condition.value);
  }
}

/** The field's value, or undefined when it is missing (a NULL column, an absent metadata key). */
function fieldValue(doc: Doc, field: FilterField): JsonValue | undefined {
  if (field.kind === 'column') return doc[field.name] ?? undefined;
  let node: JsonValue | undefined = doc.metadata;
  for (const key of field.path) {
    // Only objects are descended into, as SQLite's `$."key"` does not index arrays; hasOwn keeps
    // `__proto__` and `constructor` from reaching the prototype.
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

function equals(actual: JsonValue | undefined, value: FilterScalar): boolean {
  if (value === null) return actual === undefined || actual === null;
  return typeof actual === typeof value && actual === value;
}

function compares(actual: JsonValue | undefined, op: '$gt' | '$gte' | '$lt' | '$lte', value: FilterScalar): boolean {
  let order: number;
  if (typeof actual === 'number' && typeof value === 'number') {
    order = actual < value ? -1 : actual > value ? 1 : 0;
  } else if (typeof actual === 'string' && typeof value === 'string') {
    order = compareCodePoints(actual, value);
  } else {
    return false;
  }
  switch (op) {
    case '$gt':
      return order > 0;
    case '$gte':
      return order >= 0;
    case '$lt':
      return order < 0;
    case '$lte':
      return order <= 0;
  }
}

/**
 * Order strings by code point, which is the order of their UTF-8 bytes that SQLite's BINARY
 * collation and Postgres's "C" collation use. JS's `<` compares UTF-16 code units instead, which
 * puts astral characters (surrogate pairs, 0xD800–0xDFFF) before U+E000–U+FFFF.
 */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** Move surrogates above U+E000–U+FFFF, keeping each group's own order. */
function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}
