// SPDX-License-Identifier: GPL-3.0-or-later
// Compiles a parsed filter (core's filter AST) into a parameterised WHERE fragment over `docs`.
// Nothing from the filter is spliced into the SQL text: column names come from the FILTER_COLUMNS
// whitelist and every path and value is a bound parameter. The result must select exactly the
// rows for which core's `matchesFilter` is true; test/filter-sql.test.ts checks that property.
//
// Type bracketing uses `json_type`, which is NULL for a missing path and otherwise one of
// 'integer' 'real' 'text' 'true' 'false' 'null' 'array' 'object'. Booleans are never bound
// (better-sqlite3 refuses them, and json_extract turns them into 1/0): they become json_type tests.

import { DualStoreError, FILTER_COLUMNS, type Filter, type FilterCondition, type FilterScalar } from '@dualstore/core';

/** A WHERE fragment and the values for its `?` placeholders, in order. */
export interface SqlFragment {
  sql: string;
  params: unknown[];
}

const COLUMN_SET: ReadonlySet<string> = new Set(FILTER_COLUMNS);
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMBER_TYPES = "('integer','real')";

/**
 * Compile `filter` for the docs table aliased `alias` (defaults to `docs`).
 *
 * The fragment is 1 for rows that match and 0 or NULL for the others, so it belongs in a WHERE
 * or an AND; to negate it write `(<sql>) IS NOT 1`, not `NOT (<sql>)`.
 *
 * @example
 * const { sql, params } = compileFilter(parseFilter({ topic: 'build', 'metadata.n': { $gt: 1 } }), 'd');
 * db.prepare(`SELECT * FROM docs d WHERE collection = ? AND ${sql}`).all('events', ...params);
 */
export function compileFilter(filter: Filter, alias = 'docs'): SqlFragment {
  if (!IDENTIFIER.test(alias))
    throw new TypeError(`compileFilter: alias must be an SQL identifier, got ${JSON.stringify(alias)}`);
  if (filter.conditions.length === 0) return { sql: '1', params: [] };
  const params: unknown[] = [];
  const parts = filter.conditions.map((condition) => `(${compileCondition(condition, alias, params)})`);
  return { sql: parts.join(' AND '), params };
}

/** Appends to `params` the values for the `?` in the returned SQL. */
function compileCondition(condition: FilterCondition, alias: string, params: unknown[]): string {
  const target =
    condition.field.kind === 'column'
      ? columnTarget(condition.field.name, alias)
      : metadataTarget(condition.field.path, alias);
  switch (condition.op) {
    case '$eq':
      return target.anyOf([condition.value], params);
    case '$ne':
      return `(${target.anyOf([condition.value], params)}) IS NOT 1`;
    case '$in':
      return target.anyOf(condition.value, params);
    case '$nin':
      return `(${target.anyOf(condition.value, params)}) IS NOT 1`;
    case '$exists':
      return target.exists(condition.value, params);
    case '$gt':
      return target.compare('>', condition.value, params);
    case '$gte':
      return target.compare('>=', condition.value, params);
    case '$lt':
      return target.compare('<', condition.value, params);
    case '$lte':
      return target.compare('<=', condition.value, params);
  }
}

/** SQL for one field. Each positive test is 1 on a match and 0 or NULL otherwise. */
interface Target {
  /** Equal to any of `values` (`null` = missing or JSON null). */
  anyOf(values: readonly FilterScalar[], params: unknown[]): string;
  compare(operator: '>' | '>=' | '<' | '<=', value: FilterScalar, params: unknown[]): string;
  exists(present: boolean, params: unknown[]): string;
}

function columnTarget(name: string, alias: string): Target {
  // The whitelist, not the parser, is what keeps a column name safe to splice: the AST may be built by hand.
  if (!COLUMN_SET.has(name))
    throw new DualStoreError('bad_filter', `filter column ${JSON.stringify(name)} is not filterable`);
  const column = `${alias}.${name}`;
  const type = name === 'attempts' ? 'number' : 'string';
  return {
    anyOf(values, params) {
      // A value of the other type can never be equal, and binding it would let SQLite's affinity
      // rules convert it ('3' = 3 on an INTEGER column).
      const typed = values.filter((v) => typeof v === type);
      const tests: string[] = [];
      if (typed.length === 1) tests.push(`${column} = ?`);
      else if (typed.length > 1) tests.push(`${column} IN (${placeholders(typed.length)})`);
      params.push(...typed);
      if (values.includes(null)) tests.push(`${column} IS NULL`);
      return tests.length === 0 ? '0' : tests.join(' OR ');
    },
    compare(operator, value, params) {
      if (typeof value !== type) return '0';
      params.push(value);
      return `${column} ${operator} ?`;
    },
    exists(present) {
      return present ? `${column} IS NOT NULL` : `${column} IS NULL`;
    },
  };
}

function metadataTarget(path: readonly string[], alias: string): Target {
  for (const segment of path) {
    if (!SEGMENT.test(segment)) {
      throw new DualStoreError(
        'bad_filter',
        `filter path segment ${JSON.stringify(segment)} must match [A-Za-z0-9_-]{1,64}`,
      );
    }
  }
  // Segments are [A-Za-z0-9_-], so quoting each one cannot break out of the JSON path; and the
  // path is a bound parameter anyway.
  const jsonPath = `$${path.map((segment) => `."${segment}"`).join('')}`;
  const type = (params: unknown[]) => {
    params.push(jsonPath);
    return `json_type(${alias}.metadata, ?)`;
  };
  const extract = (params: unknown[]) => {
    params.push(jsonPath);
    return `json_extract(${alias}.metadata, ?)`;
  };
  // Numbers are compared as REAL: an integer above 2^53 is stored as JS prints it (2^60 as
  // 1152921504606847000), which SQLite reads as that exact INTEGER, while JS reads it back as
  // the nearest double. Converting to REAL gives that same double.
  const number = (params: unknown[]) => `CAST(${extract(params)} AS REAL)`;
  return {
    anyOf(values, params) {
      const strings = values.filter((v) => typeof v === 'string');
      const numbers = values.filter((v) => typeof v === 'number');
      const booleans = [...new Set(values.filter((v) => typeof v === 'boolean'))];
      const tests: string[] = [];
      if (strings.length > 0) {
        tests.push(`(${type(params)} = 'text' AND ${extract(params)} IN (${placeholders(strings.length)}))`);
        params.push(...strings);
      }
      if (numbers.length > 0) {
        tests.push(`(${type(params)} IN ${NUMBER_TYPES} AND ${number(params)} IN (${placeholders(numbers.length)}))`);
        params.push(...numbers);
      }
      if (booleans.length > 0) {
        tests.push(`${type(params)} IN (${booleans.map((b) => (b ? "'true'" : "'false'")).join(',')})`);
      }
      if (values.includes(null)) tests.push(`COALESCE(${type(params)}, 'null') = 'null'`);
      return tests.length === 0 ? '0' : tests.join(' OR ');
    },
    compare(operator, value, params) {
      if (typeof value === 'string') {
        const sql = `${type(params)} = 'text' AND ${extract(params)} ${operator} ?`;
        params.push(value);
        return sql;
      }
      if (typeof value === 'number') {
        const sql = `${type(params)} IN ${NUMBER_TYPES} AND ${number(params)} ${operator} ?`;
        params.push(value);
        return sql;
      }
      return '0';
    },
    exists(present, params) {
      return `${type(params)} ${present ? 'IS NOT NULL' : 'IS NULL'}`;
    },
  };
}

function placeholders(count: number): string {
  return Array.from({ length: count }, () => '?').join(', ');
}
