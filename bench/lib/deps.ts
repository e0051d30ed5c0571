// SPDX-License-Identifier: GPL-3.0-or-later
// The workspace code the benches drive, imported by relative path: the root package (where bench/
// lives) does not depend on the workspace packages, so `@dualstore/store-sqlite` and
// `better-sqlite3` do not resolve from here. The store's sources resolve their own dependencies,
// and raw connections come from the store's own `openConnection`, so a ceiling runs with exactly
// the pragmas the store uses (WAL, synchronous=NORMAL, cache size, temp store).

export { newId, toIso } from '../../packages/core/src/index.js';
export { openConnection } from '../../packages/store-sqlite/src/connection.js';
export { openSqliteStore, type SqliteStore } from '../../packages/store-sqlite/src/index.js';
export { migrate } from '../../packages/store-sqlite/src/migrations.js';
