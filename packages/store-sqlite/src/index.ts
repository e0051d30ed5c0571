// SPDX-License-Identifier: GPL-3.0-or-later
export type { Durability } from './connection.js';
export { SCHEMA_VERSION } from './migrations.js';
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
