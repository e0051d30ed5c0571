// SPDX-License-Identifier: GPL-3.0-or-later
// Flag values → typed values, with `usage` errors that say what was expected, what came and how
// to fix it. Deliberately free of @dualstore/core (whose doc schemas load zod): remote mode and
// `--help` must not pay for it; the store or the server validates everything else.

import { CliError } from './cli-error.js';

const DURATION = /^(\d{1,9})(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The statuses a doc can have (DESIGN §2), for flag checking without loading core. */
export const STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export type Status = (typeof STATUSES)[number];

/**
 * `500ms`, `10s`, `15m`, `12h`, `30d`, `2w` → milliseconds; a bare integer is milliseconds.
 * @throws CliError `usage`
 */
export function parseDurationFlag(flag: string, text: string): number {
  const trimmed = text.trim();
  if (/^\d{1,12}$/.test(trimmed)) return Number(trimmed);
  const match = DURATION.exec(trimmed);
  const unit = match?.[2];
  if (!match || unit === undefined) {
    throw new CliError(
      'usage',
      `${flag} expects a duration like 500ms, 30s, 10m, 12h or 30d; got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return Number(match[1]) * (UNIT_MS[unit] as number);
}

/** A duration flag that may also be an ISO time (`clean --older-than`): passed on as typed. */
export function checkAgeFlag(flag: string, text: string): string {
  if (DURATION.test(text.trim()) || !Number.isNaN(Date.parse(text))) return text.trim();
  throw new CliError(
    'usage',
    `${flag} expects a duration like 30d, 12h or 15m, or an ISO time; got ${JSON.stringify(text.slice(0, 40))}`,
  );
}

/**
 * An integer flag in `min..max`.
 * @throws CliError `usage`
 */
export function parseIntFlag(flag: string, text: string, min: number, max: number): number {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (!/^-?\d{1,16}$/.test(trimmed) || value < min || value > max) {
    throw new CliError(
      'usage',
      `${flag} expects an integer from ${min} to ${max}; got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return value;
}

/**
 * A JSON object flag (`--meta`).
 * @throws CliError `usage` for text that is not JSON, or JSON that is not an object.
 */
export function parseJsonObjectFlag(flag: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(
      'usage',
      `${flag} is not valid JSON (${error instanceof Error ? error.message : String(error)}); ` +
        `quote it for the shell, e.g. ${flag} '{"repo":"x"}'`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError('usage', `${flag} must be a JSON object like '{"repo":"x"}'; got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/**
 * A filter flag: JSON object text (checked here, so a typo is a usage error before any I/O) or
 * base64url of it, which the store or the server decodes.
 */
export function checkFilterFlag(flag: string, text: string): string {
  if (text.trimStart().startsWith('{')) parseJsonObjectFlag(flag, text);
  return text;
}

/** One of `choices`. */
export function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new CliError('usage', `${flag} must be one of ${choices.join(', ')}; got ${JSON.stringify(text.slice(0, 40))}`);
}

/** A comma-separated list without empty entries. */
export function parseList(flag: string, text: string): string[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (items.length === 0) throw new CliError('usage', `${flag} expects a comma-separated list, e.g. read,write`);
  return items;
}

/** A stream position: a non-negative integer seq or an ISO time. */
export function parseSince(flag: string, text: string): number | string {
  if (/^\d{1,16}$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}T/.test(text) && !Number.isNaN(Date.parse(text))) return text;
  throw new CliError(
    'usage',
    `${flag} expects a feed seq (a non-negative integer) or an ISO time like 2026-01-01T00:00:00Z; got ${JSON.stringify(text.slice(0, 40))}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
