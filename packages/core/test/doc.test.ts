// SPDX-License-Identifier: GPL-3.0-or-later
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DualStoreError,
  jsonDepth,
  MAX_DOC_BYTES,
  newId,
  normalizeTimestamp,
  notPlainJson,
  parseDuration,
  utf8Length,
  validateDocInput,
  validateReplyInput,
} from '../src/index.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as DualStoreError).code;
  }
  return undefined;
}

describe('validateDocInput', () => {
  it('fills defaults and normalises times', () => {
    expect(validateDocInput({})).toEqual({ text: '', metadata: {} });
    expect(validateDocInput({ text: 'x', timestamp: 0 })).toMatchObject({ timestamp: '1970-01-01T00:00:00.000Z' });
    expect(validateDocInput({ timestamp: '2026-05-05T05:05:05.123456+01:00' }).timestamp).toBe(
      '2026-05-05T04:05:05.123Z',
    );
  });

  it('rejects unknown fields instead of dropping them', () => {
    expect(codeOf(() => validateDocInput({ text: 'x', status: 'completed' }))).toBe('validation_failed');
    expect(codeOf(() => validateDocInput({ text: 'x', seq: 4 }))).toBe('validation_failed');
  });

  it('answers a number outside its bounds with out_of_range, as the HTTP schema checks do', () => {
    expect(codeOf(() => validateDocInput({ text: 'x', max_attempts: 0 }))).toBe('out_of_range');
    expect(codeOf(() => validateDocInput({ text: 'x', max_attempts: 1001 }))).toBe('out_of_range');
    expect(codeOf(() => validateDocInput({ text: 'x', max_attempts: 1.5 }))).toBe('validation_failed');
    expect(codeOf(() => validateReplyInput({ text: 'x', status: 'done' }))).toBe('validation_failed');
  });

  it('carries the offending field in errors', () => {
    try {
      validateDocInput({ text: 'x', max_attempts: 0 });
      expect.unreachable();
    } catch (error) {
      expect((error as DualStoreError).errors?.[0]?.path).toBe('max_attempts');
    }
  });

  it('refuses times without a zone, out of range, or fractional epoch numbers', () => {
    for (const timestamp of [
      '2026-01-01T00:00:00',
      '2026-13-01T00:00:00Z',
      'now',
      1.5,
      1e20,
      '10000-01-01T00:00:00Z',
    ]) {
      expect(
        codeOf(() => validateDocInput({ timestamp })),
        String(timestamp),
      ).toBe('validation_failed');
    }
  });

  it('refuses metadata that is not plain JSON', () => {
    expect(codeOf(() => validateDocInput({ metadata: { n: Number.NaN } }))).toBe('validation_failed');
    expect(codeOf(() => validateDocInput({ metadata: { d: new Date() } }))).toBe('validation_failed');
    expect(codeOf(() => validateDocInput({ metadata: { f: () => 1 } }))).toBe('validation_failed');
    expect(codeOf(() => validateDocInput({ metadata: null }))).toBe('validation_failed');
  });

  it('limits depth (json_too_deep) and size (payload_too_large)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 33; i++) deep = [deep];
    expect(codeOf(() => validateDocInput({ metadata: { a: deep } }))).toBe('json_too_deep');
    expect(codeOf(() => validateDocInput({ text: 'a'.repeat(MAX_DOC_BYTES - 2) }))).toBeUndefined();
    expect(codeOf(() => validateDocInput({ text: 'a'.repeat(MAX_DOC_BYTES - 1) }))).toBe('payload_too_large');
  });

  it('checks ids, sources and topics', () => {
    expect(codeOf(() => validateDocInput({ id: 'ok_ID-1' }))).toBeUndefined();
    for (const id of ['', 'a b', 'x'.repeat(129), 'claim', 'ü'])
      expect(codeOf(() => validateDocInput({ id }))).toBe('validation_failed');
    for (const source of ['agent:x', 'webhook:github', 'human:ann', 'system'])
      expect(codeOf(() => validateDocInput({ source }))).toBeUndefined();
    for (const source of ['agent:', 'bot:x', 'agent:a b'])
      expect(codeOf(() => validateDocInput({ source }))).toBe('validation_failed');
    expect(codeOf(() => validateDocInput({ topic: 'bad topic' }))).toBe('validation_failed');
  });
});

describe('validateReplyInput', () => {
  it('needs text and a success|failure status', () => {
    expect(validateReplyInput({ text: 'ok', status: 'success' })).toEqual({
      text: 'ok',
      status: 'success',
      metadata: {},
    });
    expect(codeOf(() => validateReplyInput({ text: 'ok' }))).toBe('validation_failed');
    expect(codeOf(() => validateReplyInput({ text: 'ok', status: 'done' }))).toBe('validation_failed');
    expect(codeOf(() => validateReplyInput({ text: 'ok', status: 'success', extra: 1 }))).toBe('validation_failed');
  });
});

describe('json helpers', () => {
  it('jsonDepth counts containers, and stops early past a limit', () => {
    expect(jsonDepth(1)).toBe(0);
    expect(jsonDepth({})).toBe(1);
    expect(jsonDepth({ a: [1, { b: 2 }] })).toBe(3);
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepth(deep, 32)).toBe(33);
  });

  it('notPlainJson names the first offending path', () => {
    expect(notPlainJson({ a: [1, 'x', null, true, { b: {} }] })).toBeUndefined();
    expect(notPlainJson({ a: [1, undefined] })).toContain('a[1]');
    expect(notPlainJson({ a: { b: Symbol('s') } })).toContain('a.b');
  });
});

describe('time', () => {
  it('normalises and parses durations', () => {
    expect(normalizeTimestamp('2026-01-01T00:00Z')).toBe('2026-01-01T00:00:00.000Z');
    expect(normalizeTimestamp('garbage')).toBeUndefined();
    expect(parseDuration('30d')).toBe(30 * 86_400_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(codeOf(() => parseDuration('10 years'))).toBe('validation_failed');
  });
});

describe('ids', () => {
  it('are UUIDv7 and strictly increasing within a process', () => {
    const ids = Array.from({ length: 10_000 }, () => newId());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('keep drawing fresh randomness across refills of the pooled random words', () => {
    // 10,000 ids use ~10 refills of the 1,024-word pool; the last 32 bits are random per id,
    // so a repeat among them is a ~1% event, and a pool served twice would repeat hundreds.
    const tails = new Set(Array.from({ length: 10_000 }, () => newId().slice(-8)));
    expect(tails.size).toBeGreaterThanOrEqual(9_998);
  });
});

describe('DualStoreError', () => {
  it('takes its status from the registry', () => {
    const error = new DualStoreError('lease_lost', 'gone');
    expect(error.status).toBe(409);
    expect(error.message).toBe('gone');
    expect(new DualStoreError('not_found').message).toBe('Not found');
  });
});

describe('utf8Length', () => {
  it('agrees with TextEncoder on ASCII, 2-, 3- and 4-byte characters and lone surrogates', () => {
    const encoder = new TextEncoder();
    for (const text of ['', 'abc', 'é', '€', '😀', 'a😀b', '\ud800', '\udc00x', 'x\ud800']) {
      expect(utf8Length(text), JSON.stringify(text)).toBe(encoder.encode(text).byteLength);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => utf8Length(text) === encoder.encode(text).byteLength),
      { numRuns: 2000 },
    );
  });
});
