// SPDX-License-Identifier: GPL-3.0-or-later
// The SQLite store must pass the whole store contract suite, with no skips.

import { runStoreContract } from '@dualstore/core/contract';
import { openSqliteStore } from '../src/index.js';
import { newTestDb } from './helpers.js';

runStoreContract('sqlite', async ({ now }) => {
  const db = newTestDb();
  const store = await openSqliteStore({ path: db.path, now });
  return {
    store,
    destroy: async () => {
      await store.close();
      db.remove();
    },
  };
});
