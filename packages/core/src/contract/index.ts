// SPDX-License-Identifier: GPL-3.0-or-later
// The store contract suite: every backend's tests call `runStoreContract` with a factory, and
// must pass all of it (or name what it skips and why).
//
// @example
// runStoreContract('sqlite', async ({ now }) => {
//   const store = await openSqliteStore({ path: tempFile(), now });
//   return { store, destroy: () => store.close() };
// });

import { afterEach, beforeEach, describe } from 'vitest';
import { claimCases } from './claims.cases.js';
import {
  type ContractOptions,
  createTest,
  createTestClock,
  type StoreFactory,
  type StoreUnderTest,
  type SuiteContext,
} from './context.js';
import { docCases } from './docs.cases.js';
import { feedCases } from './feed.cases.js';
import { searchCases } from './search.cases.js';
import { tokenCases } from './tokens.cases.js';

export {
  type ContractOptions,
  createTestClock,
  expectCode,
  type StoreFactory,
  type StoreUnderTest,
  type TestClock,
} from './context.js';
export { sampleDoc } from './sample-doc.js';

export function runStoreContract(name: string, factory: StoreFactory, options: ContractOptions = {}): void {
  describe(`Store contract: ${name}`, () => {
    let current: (SuiteContext & { destroy: () => Promise<void> }) | undefined;
    beforeEach(async () => {
      const clock = createTestClock();
      const made: StoreUnderTest = await factory({ now: clock.now });
      current = { store: made.store, clock, destroy: made.destroy };
    });
    afterEach(async () => {
      await current?.destroy();
      current = undefined;
    });
    const ctx = (): SuiteContext => {
      if (current === undefined) throw new Error('the store contract context is used outside a test');
      return current;
    };
    const test = createTest(options);
    docCases(test, ctx);
    claimCases(test, ctx);
    feedCases(test, ctx);
    searchCases(test, ctx);
    tokenCases(test, ctx);
  });
}
