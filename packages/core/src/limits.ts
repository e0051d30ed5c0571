// SPDX-License-Identifier: GPL-3.0-or-later
// Size and shape limits shared by every component, so the store and the server refuse the same
// inputs. All are defaults: the server may lower or raise the configurable ones.

/** Maximum JSON nesting depth accepted anywhere (a doc's metadata, a request body). */
export const MAX_JSON_DEPTH = 32;
/** Maximum UTF-8 bytes of a doc's `text` plus its serialised `metadata`. */
export const MAX_DOC_BYTES = 64 * 1024;
/** Maximum docs in one batch insert. */
export const MAX_BATCH_ITEMS = 1000;
/** `recent` page size bounds. */
export const MAX_RECENT_LIMIT = 200;
export const DEFAULT_RECENT_LIMIT = 50;
/** Search result count bounds. */
export const MAX_SEARCH_K = 50;
export const DEFAULT_SEARCH_K = 8;
/** Claim bounds (DESIGN §10 "Leases"). */
export const MIN_LEASE_MS = 100;
export const MAX_LEASE_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_LEASE_MS = 5 * 60 * 1000;
export const MAX_WAIT_MS = 30_000;
export const MAX_CLAIM_LIMIT = 100;
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Backoff for `fail` without `retry_in_ms`: 1 s × 2^(attempts−1), capped at 1 h. */
export const RETRY_BASE_MS = 1000;
export const RETRY_CAP_MS = 60 * 60 * 1000;
/** `wait_for` on search waits at most this long for the index to catch up. */
export const MAX_SEARCH_WAIT_MS = 2000;
/** Maximum characters of a search query. */
export const MAX_QUERY_CHARS = 10_000;
/** Maximum changes one `changes()` call returns. */
export const MAX_CHANGES_PAGE = 1000;
/** Default retention: completed docs older than this are deleted by `clean`. */
export const DEFAULT_RETENTION_DAYS = 30;

/**
 * UTF-8 byte length of a string, counted without encoding it (works in browsers and Node alike;
 * encoding every doc just to measure it showed up in the insert profile). A lone surrogate
 * counts 3 bytes, as its U+FFFD replacement would.
 */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Nesting depth of a JSON value: a scalar is 0, `{}` / `[]` are 1, `{"a":[1]}` is 2.
 * Iterative, so a hostile value cannot overflow the stack while being measured; stops counting
 * once `limit` is exceeded.
 */
export function jsonDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    const here = depth + 1;
    if (here > max) max = here;
    if (max > limit) return max;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, here]);
    }
  }
  return max;
}

/**
 * Why `value` is not plain JSON (the first offending path), or undefined when it is.
 * Rejects what `JSON.stringify` would silently drop or alter: undefined, functions, symbols,
 * bigints, non-finite numbers, and objects that are not plain.
 */
export function notPlainJson(value: unknown, path = ''): string | undefined {
  const stack: Array<[unknown, string]> = [[value, path]];
  while (stack.length > 0) {
    const [node, at] = stack.pop() as [unknown, string];
    switch (typeof node) {
      case 'string':
      case 'boolean':
        continue;
      case 'number':
        if (!Number.isFinite(node)) return `${at || '(root)'}: numbers must be finite`;
        continue;
      case 'object': {
        if (node === null) continue;
        if (Array.isArray(node)) {
          node.forEach((child, i) => {
            stack.push([child, `${at}[${i}]`]);
          });
          continue;
        }
        const proto = Object.getPrototypeOf(node);
        if (proto !== Object.prototype && proto !== null) return `${at || '(root)'}: must be a plain JSON object`;
        for (const [key, child] of Object.entries(node)) stack.push([child, at ? `${at}.${key}` : key]);
        continue;
      }
      default:
        return `${at || '(root)'}: ${typeof node} is not JSON`;
    }
  }
  return undefined;
}
