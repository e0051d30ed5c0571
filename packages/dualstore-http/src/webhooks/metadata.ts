// SPDX-License-Identifier: GPL-3.0-or-later
// The stored doc's metadata: `{ webhook: { … delivery facts … }, payload: <the parsed body> }`,
// made to fit core's limits (DESIGN §4: depth ≤ 32, text + metadata ≤ 64 KiB) instead of failing
// a valid delivery. Providers send more than that (GitHub up to 25 MB), so the payload is
// trimmed: subtrees nested too deeply are replaced by a marker string; then, while the doc is too
// large, the biggest parts go first — a long array keeps its first items, a long string its
// start, an object loses its largest fields (or, with thousands of small ones, the excess
// fields altogether) — so small identifying fields (`action`,
// `repository.full_name`, `sender.login`) survive. `webhook.trimmed` lists what was cut and
// `webhook.body_bytes` the size received.

import { MAX_DOC_BYTES, MAX_JSON_DEPTH, utf8Length } from '@dualstore/core';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Container = Json[] | { [key: string]: Json };

/** Paths listed in `webhook.trimmed` at most. */
const MAX_TRIMMED_PATHS = 20;
/** Bytes kept free for the `trimmed` list and rounding (markers, commas) in the size estimate. */
const SLACK = 2048;
/** metadata (1) → payload (2): the payload's own depth may use the rest. */
const PAYLOAD_MAX_DEPTH = MAX_JSON_DEPTH - 1;

function size(value: Json): number {
  return utf8Length(JSON.stringify(value));
}

function isContainer(value: Json): value is Container {
  return value !== null && typeof value === 'object';
}

/** Remember a trimmed path; only the first few are reported, so a huge payload cannot make the list huge. */
function note(cut: string[], path: string): void {
  if (cut.length < MAX_TRIMMED_PATHS) cut.push(path.slice(0, 200));
  else if (cut.length === MAX_TRIMMED_PATHS) cut.push('…');
}

function marker(bytes: number): string {
  return `[trimmed: ${bytes} bytes]`;
}

/** Replace containers below the depth limit by a marker (the recursion stops there, so it is bounded). */
function cutDepth(value: Json, depth: number, path: string, cut: string[]): Json {
  if (!isContainer(value)) return value;
  if (depth >= PAYLOAD_MAX_DEPTH) {
    note(cut, path);
    return '[trimmed: nested too deeply]';
  }
  if (Array.isArray(value)) return value.map((child, i) => cutDepth(child, depth + 1, `${path}[${i}]`, cut));
  // fromEntries defines own properties, so a `__proto__` key stays data.
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => [key, cutDepth(child, depth + 1, `${path}.${key}`, cut)]),
  );
}

/**
 * Remove about `over` bytes from `value` (in place for containers; the result replaces it):
 * descend into the largest child when it alone can give that much, else give up whole children,
 * largest first (objects) or from the end (arrays).
 */
function shrink(value: Json, over: number, path: string, cut: string[]): Json {
  if (typeof value === 'string') {
    const keep = Math.max(0, value.length - over - 40);
    note(cut, path);
    return keep > 64 ? `${value.slice(0, keep)}… [trimmed]` : marker(utf8Length(value));
  }
  if (!isContainer(value)) return value;
  const entries: [string | number, Json, number][] = Array.isArray(value)
    ? value.map((child, i) => [i, child, size(child)])
    : Object.entries(value).map(([key, child]) => [key, child, size(child)]);
  const childPath = (key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : `${path}.${key}`);
  const largest = entries.reduce<[string | number, Json, number] | undefined>(
    (a, b) => (a === undefined || b[2] > a[2] ? b : a),
    undefined,
  );
  if (largest === undefined) return value;
  if (largest[2] > over + 64 && (isContainer(largest[1]) || typeof largest[1] === 'string')) {
    const replaced = shrink(largest[1], over, childPath(largest[0]), cut);
    (value as Record<string | number, Json>)[largest[0]] = replaced;
    return value;
  }
  if (Array.isArray(value)) {
    let freed = 0;
    let keep = value.length;
    while (keep > 0 && freed < over + 64) {
      keep--;
      freed += (entries[keep]?.[2] ?? 0) + 1;
    }
    note(cut, `${path}[${keep}..]`);
    return [...value.slice(0, keep), `[trimmed: ${value.length - keep} more items]`];
  }
  // Big fields become a marker (the key stays visible); when markers alone would still be too
  // much (thousands of small fields), the remaining fields go entirely, largest first.
  let freed = 0;
  const record = value as Record<string, Json>;
  const bySize = [...entries].sort((a, b) => b[2] - a[2]);
  const marked: (string | number)[] = [];
  for (const [key, , bytes] of bySize) {
    if (freed >= over) break;
    const replacement = marker(bytes);
    if (bytes <= utf8Length(replacement) + 16) break;
    record[key as string] = replacement;
    freed += bytes - utf8Length(replacement) - 2;
    marked.push(key);
  }
  // One entry per object, so the list stays readable however many fields went.
  if (marked.length === 1) note(cut, childPath(marked[0]!));
  else if (marked.length > 1) note(cut, `${path}{${marked.length} fields trimmed}`);
  let removed = 0;
  for (const [key] of bySize) {
    if (freed >= over) break;
    freed += utf8Length(JSON.stringify(record[key as string] ?? null)) + utf8Length(JSON.stringify(key)) + 2;
    delete record[key as string];
    removed++;
  }
  if (removed > 0) note(cut, `${path}{${removed} fields removed}`);
  return value;
}

/**
 * Build metadata that passes core's doc limits together with `text`.
 *
 * @param webhook The delivery facts (route, event, delivery id, kept headers): small by construction.
 */
export function fitMetadata(
  webhook: Record<string, Json>,
  payload: Json,
  text: string,
  bodyBytes: number,
): Record<string, Json> {
  const cut: string[] = [];
  let body = cutDepth(payload, 1, 'payload', cut);
  const budget = MAX_DOC_BYTES - utf8Length(text) - SLACK;
  const build = (): Record<string, Json> =>
    cut.length === 0
      ? { webhook, payload: body }
      : { webhook: { ...webhook, body_bytes: bodyBytes, trimmed: [...cut] }, payload: body };
  let metadata = build();
  // Each round removes at least the overshoot it measured; a few rounds settle the rounding.
  for (let round = 0; round < 16; round++) {
    const over = size(metadata) - budget;
    if (over <= 0) return metadata;
    body = shrink(body, over, 'payload', cut);
    metadata = build();
  }
  note(cut, 'payload');
  body = marker(bodyBytes);
  return build();
}
