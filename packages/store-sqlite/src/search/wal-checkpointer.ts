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

/**
 * A checkpoint runs once this many feed changes came since the last one (at 20k inserts/s about
 * every 50 ms), or a second after the last one when fewer came. Each one syncs the WAL and the
 * main file: at 100 inserts/s, checkpointing every 100 ms instead cost 1.77 ms of CPU per insert
 * against 1.37 ms (the server's threads together, measured).
 */
export const CHANGES_PER_CHECKPOINT = 1000;
export const CHECKPOINT_INTERVAL_MS = 1000;

/**
 * The store's own `wal_autocheckpoint` while a background checkpointer runs: a backstop (a
 * ~32 MB WAL) for a checkpointer that cannot keep up, not the usual path.
 */
export const MAIN_AUTOCHECKPOINT_PAGES = 8000;

export class WalCheckpointer {
  readonly #db: Database.Database;
  readonly #checkpoint: Database.Statement;
  readonly #intervalMs: number;
  readonly #changesPerCheckpoint: number;
  readonly #now: () => number;
  #last: number;
  /** Feed changes seen since the last checkpoint. */
  #pending = 0;

  constructor(
    dbPath: string,
    options: { intervalMs?: number; changesPerCheckpoint?: number; now?: () => number } = {},
  ) {
    // Read-write (a checkpoint writes pages into the main file) but it never writes a row. No
    // busy wait: when another connection is checkpointing, this one has nothing to add.
    this.#db = new Database(dbPath, { fileMustExist: true, timeout: 0 });
    this.#checkpoint = this.#db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
    this.#intervalMs = options.intervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.#changesPerCheckpoint = options.changesPerCheckpoint ?? CHANGES_PER_CHECKPOINT;
    this.#now = options.now ?? Date.now;
    this.#last = this.#now();
  }

  /**
   * Count `changes` more feed changes committed (the WAL grew), and copy the WAL's committed
   * pages into the main file when enough came or enough time passed. Returns whether it ran.
   */
  maybeCheckpoint(changes: number): boolean {
    this.#pending += changes;
    if (this.#pending === 0) return false;
    const now = this.#now();
    if (this.#pending < this.#changesPerCheckpoint && now - this.#last < this.#intervalMs) return false;
    this.#last = now;
    this.#pending = 0;
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
