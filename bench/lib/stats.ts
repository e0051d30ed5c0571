// SPDX-License-Identifier: GPL-3.0-or-later
// Timing helpers: percentiles of latency samples and a time-boxed sampler, so a slow ceiling
// (bm25 of a very common word over a million docs) cannot stretch a run past its budget.

import { performance } from 'node:perf_hooks';

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN for none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  count: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  return {
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples.length === 0 ? Number.NaN : Math.max(...samples),
    count: samples.length,
  };
}

export interface SampleOptions {
  /** Untimed calls first, so JIT and page cache are warm. */
  warmup: number;
  /** Timed calls wanted. */
  count: number;
  /** Stop timing after this long even if fewer than `count` calls were made (at least `minCount`). */
  budgetMs?: number;
  minCount?: number;
}

/** Latency (ms) of each call of `fn`, run one after another. */
export async function sampleLatency(fn: () => unknown, options: SampleOptions): Promise<number[]> {
  for (let i = 0; i < options.warmup; i++) await fn();
  const samples: number[] = [];
  const start = performance.now();
  const budget = options.budgetMs ?? Number.POSITIVE_INFINITY;
  const minCount = options.minCount ?? options.count;
  while (samples.length < options.count) {
    if (samples.length >= minCount && performance.now() - start > budget) break;
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** Synchronous twin of sampleLatency: no await between calls, as a raw caller would run. */
export function sampleLatencySync(fn: () => unknown, options: SampleOptions): number[] {
  for (let i = 0; i < options.warmup; i++) fn();
  const samples: number[] = [];
  const start = performance.now();
  const budget = options.budgetMs ?? Number.POSITIVE_INFINITY;
  const minCount = options.minCount ?? options.count;
  while (samples.length < options.count) {
    if (samples.length >= minCount && performance.now() - start > budget) break;
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/**
 * Run `step` (which does `n` units of work) repeatedly for about `ms` and return units per second.
 * The clock stops after the last step completes, so a step is never cut in half.
 */
export async function rateFor(ms: number, step: () => Promise<number> | number): Promise<number> {
  let units = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    units += await step();
    now = performance.now();
  }
  return (units * 1000) / (now - start);
}

/** Synchronous twin of rateFor for raw ceilings, so they do not pay for an await per step. */
export function rateForSync(ms: number, step: () => number): number {
  let units = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    units += step();
    now = performance.now();
  }
  return (units * 1000) / (now - start);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
