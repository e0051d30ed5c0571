import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toIso } from '../src/time.js';

describe('toIso', () => {
  it('agrees with Date#toISOString on any sequence of instants, repeats included', () => {
    const instant = fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 });
    fc.assert(
      fc.property(fc.array(fc.oneof(instant, fc.constant(1_700_000_000_000)), { maxLength: 20 }), (times) => {
        for (const ms of times) expect(toIso(ms)).toBe(new Date(ms).toISOString());
      }),
    );
  });

  it('still throws for a time that has no ISO form, also right after a valid one', () => {
    expect(toIso(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(() => toIso(Number.NaN)).toThrow(RangeError);
    expect(() => toIso(Number.NaN)).toThrow(RangeError);
    expect(() => toIso(8_640_000_000_000_001)).toThrow(RangeError);
    expect(toIso(0)).toBe('1970-01-01T00:00:00.000Z');
  });
});
