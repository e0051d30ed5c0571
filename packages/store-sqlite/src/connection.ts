// SPDX-License-Identifier: GPL-3.0-or-later
// Opening the main database file with the settings every DualStore process must agree on.

import Database from 'better-sqlite3';

/**
 * How commits reach the disk (DESIGN §3a.6). `normal` (the default, WAL + synchronous=NORMAL):
 * a process crash loses nothing acknowledged; an OS crash or power loss can lose the last
 * commits since the previous WAL sync. `full`: every commit is synced before it is acknowledged.
 */
export type Durability = 'normal' | 'full';

export interface ConnectionOptions {
  readonly?: boolean;
  durability?: Durability;
  /** How long a writer waits for another process's write lock. Defaults to 5000 ms. */
  busyTimeoutMs?: number;
}

export function openConnection(path: string, options: ConnectionOptions = {}): Database.Database {
  const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  }
  db.pragma('temp_store = MEMORY');
  db.pragma('cache_size = -32768');
  return db;
}
