// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoints of the main file's WAL, off the event loop. SQLite checkpoints inside the commit
// that pushes the WAL past `wal_autocheckpoint` pages: on the store's connection that is the
// event loop, copying ~1000 pages and syncing the file in the middle of serving requests (~6% of
// the server's time under 50 inserting connections, measured). The indexer thread already wakes
// after the store's commits, so it runs this too: a PASSIVE checkpoint never takes the write
// lock, so the store keeps committing while pages are copied. The store's own autocheckpoint
// stays on at a higher threshold (MAIN_AUTOCHECKPOINT_PAGES) in case this one falls behind.
// Imports nothing from @dualstore/core: it runs in the indexer's worker thread.

import Database from 'better-sqlite3';
import { isBusy } from './sqlite-busy.js';

/** Checkpoints at most this often: each syncs the WAL and the main file. */
export const CHECKPOINT_INTERVAL_MS = 100;

/**
 * The store's own `wal_autocheckpoint` while a background checkpointer runs: a backstop (a
 * ~32 MB WAL) for a checkpointer that cannot keep up, not the usual path.
 */
export const MAIN_AUTOCHECKPOINT_PAGES = 8000;

export class WalCheckpointer {
  readonly #db: Database.Database;
  readonly #checkpoint: Database.Statement;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #last = Number.NEGATIVE_INFINITY;

  constructor(dbPath: string, options: { intervalMs?: number; now?: () => number } = {}) {
    // Read-write (a checkpoint writes pages into the main file) but it never writes a row. No
    // busy wait: when another connection is checkpointing, this one has nothing to add.
    this.#db = new Database(dbPath, { fileMustExist: true, timeout: 0 });
    this.#checkpoint = this.#db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
    this.#intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Copy committed WAL pages into the main file, unless the last checkpoint was under the
   * interval ago. Cheap when there is nothing to copy (no sync then). Returns whether it ran.
   */
  maybeCheckpoint(): boolean {
    const now = this.#now();
    if (now - this.#last < this.#intervalMs) return false;
    this.#last = now;
    try {
      // One row: busy (another connection held the checkpoint lock), WAL frames, frames copied.
      this.#checkpoint.get();
    } catch (error) {
      // Another process checkpointing or writing the header is weather: the next call retries.
      if (!isBusy(error)) throw error;
    }
    return true;
  }

  close(): void {
    this.#db.close();
  }
}
