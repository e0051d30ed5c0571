// SPDX-License-Identifier: GPL-3.0-or-later
// What the store contract suite needs from a backend's test file: a factory for a fresh, empty
// store whose clock the suite controls.

import { expect, it } from 'vitest';
import type { DualStoreError, ErrorCode } from '../errors.js';
import type { Store } from '../store.js';

/** A manual clock: leases, delays and timestamps move only when the test says so. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function createTestClock(start = Date.parse('2026-01-01T00:00:00.000Z')): TestClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
  };
}

export interface StoreUnderTest {
  store: Store;
  /** Release everything the store used (files, connections). */
  destroy(): Promise<void>;
}

/**
 * Makes a fresh store with the default collections (`events`, `session_messages`,
 * `agent_tasks`, `opencode_events`) whose clock is `now`.
 */
export type StoreFactory = (options: { now: () => number }) => Promise<StoreUnderTest>;

export interface ContractOptions {
  /** Tests this backend cannot pass yet, each with the reason (shown in the test name). */
  skip?: ReadonlyArray<{ reason: string; tests: readonly string[] }>;
}

export interface SuiteContext {
  readonly store: Store;
  readonly clock: TestClock;
}

/** `it`, but skipped (with its reason in the name) when the backend lists it in `skip`. */
export function createTest(options: ContractOptions) {
  const reasons = new Map<string, string>();
  for (const entry of options.skip ?? []) for (const name of entry.tests) reasons.set(name, entry.reason);
  return (name: string, fn: () => Promise<void>) => {
    const reason = reasons.get(name);
    if (reason === undefined) it(name, fn);
    else it.skip(`${name} — skipped: ${reason}`, fn);
  };
}

/** Assert that `promise` rejects with a DualStoreError carrying `code`. */
export async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<DualStoreError> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a DualStoreError with code ${code}`).toBeInstanceOf(Error);
  expect((caught as DualStoreError).code).toBe(code);
  return caught as DualStoreError;
}
