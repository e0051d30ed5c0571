// SPDX-License-Identifier: GPL-3.0-or-later
// What reaches stdout and stderr. Machines get one JSON document per command (one JSON line per
// event for `tail`), errors as `{ "error": { "code", "message" } }` on stderr with the API's codes;
// `--pretty` turns the same values into aligned tables for people. Leaf module.

import type { TextSink } from './run.js';

/** How `--pretty` lays out a value: which fields of each row become columns. */
export interface View {
  /** Dotted paths of the row objects, e.g. `doc.id`, `claim.token`. */
  columns: readonly string[];
}

/** Widest cell before it is cut with `…`, so a long text does not wrap the table. */
const MAX_CELL = 60;

/** Write one JSON document (compact: agents parse it, `--pretty` is for people). */
export function writeJson(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value)}\n`);
}

/** The JSON error document for any thrown value. */
export function errorDocument(error: unknown): {
  error: { code: string; message: string; errors?: readonly { path: string; message: string }[] };
} {
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    const coded = error as Error & { code: string; errors?: readonly { path: string; message: string }[] };
    return {
      error: {
        code: coded.code,
        message: coded.message,
        ...(Array.isArray(coded.errors) && coded.errors.length > 0 ? { errors: coded.errors } : {}),
      },
    };
  }
  return { error: { code: 'internal_error', message: error instanceof Error ? error.message : String(error) } };
}

/** Print a value as `--pretty` asks: a table of rows (arrays, `{ items }`), or a field/value table. */
export function writePretty(sink: TextSink, value: unknown, view?: View): void {
  const rows = Array.isArray(value)
    ? value
    : value !== null && typeof value === 'object' && Array.isArray((value as { items?: unknown }).items)
      ? (value as { items: unknown[] }).items
      : undefined;
  if (rows !== undefined) {
    if (rows.length === 0) {
      sink.write('(none)\n');
    } else if (rows.every((row) => row === null || typeof row !== 'object')) {
      for (const row of rows) sink.write(`${cell(row)}\n`);
    } else {
      const columns = view?.columns ?? Object.keys(rows[0] as object);
      sink.write(
        table(
          columns,
          rows.map((row) => columns.map((column) => cell(pick(row, column)))),
        ),
      );
    }
    // Paging and cursors of `{ items, next, cursor, indexed_through }` still matter to a reader.
    if (!Array.isArray(value)) {
      const rest = Object.entries(value as object).filter(([key]) => key !== 'items');
      if (rest.length > 0) sink.write(`${rest.map(([key, v]) => `${key}: ${cell(v)}`).join('  ')}\n`);
    }
    return;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as object);
    sink.write(
      table(
        ['field', 'value'],
        entries.map(([key, v]) => [key, cell(v)]),
      ),
    );
    return;
  }
  sink.write(`${cell(value)}\n`);
}

function pick(row: unknown, path: string): unknown {
  let value: unknown = row;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function cell(value: unknown): string {
  let text: string;
  if (value === undefined || value === null) text = '';
  else if (typeof value === 'string') text = value;
  else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) text = value.join(',');
  else text = JSON.stringify(value);
  // One line per row: newlines and tabs inside a text would break the layout.
  text = text.replace(/[\r\n\t]+/g, ' ');
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const names = header.map((column) => column.split('.').at(-1) ?? column);
  const widths = names.map((name, i) => Math.max(name.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((text, i) => text.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(names), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n')}\n`;
}
