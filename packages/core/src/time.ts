// SPDX-License-Identifier: GPL-3.0-or-later
// Time values on the wire are ISO 8601 UTC strings with milliseconds; that fixed width makes them
// sort correctly as text, which the stores rely on.

import { DualStoreError } from './errors.js';

/** Earliest and latest instants whose ISO form has a four-digit year (sortable as text). */
const MIN_INSTANT = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds of an ISO time (with `Z` or an offset) or epoch-ms number, or undefined if invalid. */
export function parseInstant(value: unknown): number | undefined {
  let ms: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return undefined;
    ms = value;
  } else if (typeof value === 'string' && ISO_WITH_ZONE.test(value)) {
    ms = Date.parse(value);
  } else {
    return undefined;
  }
  if (!Number.isFinite(ms) || ms < MIN_INSTANT || ms > MAX_INSTANT) return undefined;
  return ms;
}

/** The last conversion: the docs of one group commit share a millisecond, so they share it too. */
let lastMs = Number.NaN;
let lastIso = '';

/** The canonical wire form: `2026-11-21T12:00:00.000Z`. */
export function toIso(ms: number): string {
  if (ms === lastMs) return lastIso;
  const iso = new Date(ms).toISOString();
  lastMs = ms;
  lastIso = iso;
  return iso;
}

/** Normalise an ISO string or epoch-ms number to the canonical form, or undefined if invalid. */
export function normalizeTimestamp(value: unknown): string | undefined {
  const ms = parseInstant(value);
  return ms === undefined ? undefined : toIso(ms);
}

const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Parse a duration such as `500ms`, `10s`, `15m`, `12h`, `30d`, `2w` into milliseconds.
 * @throws DualStoreError `validation_failed` on anything else.
 */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  const unit = match?.[2];
  if (!match || unit === undefined) {
    throw new DualStoreError(
      'validation_failed',
      `expected a duration like 500ms, 10s, 15m, 12h, 30d or 2w; got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return Number(match[1]) * (UNIT_MS[unit] as number);
}
