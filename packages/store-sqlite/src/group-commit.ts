// SPDX-License-Identifier: GPL-3.0-or-later
// Group commit (DESIGN §3a.1): every write that arrives within one event-loop turn runs in one
// IMMEDIATE transaction and shares one commit (and one sync). A caller's promise settles only
// after the commit, so an acknowledged write is durable. An operation that throws is undone
// alone: the group is then re-run with a savepoint per operation.

import { DualStoreError } from '@dualstore/core';
import type Database from 'better-sqlite3';

type Operation<T> = () => T;

interface Queued {
  run: Operation<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * At most this many operations share one transaction, and the event loop gets a turn between
 * groups: a group runs synchronously, and groups of 1000–2000 queued inserts (a main thread
 * fallen behind) blocked it for 100–200 ms. ~200 small writes take ~10 ms, the commit's fixed
 * cost (~0.25 ms) stays a few per cent.
 */
const MAX_GROUP = 200;

export class GroupCommit {
  readonly #db: Database.Database;
  readonly #onCommit: () => void;
  readonly #resetState: () => void;
  #queue: Queued[] = [];
  #scheduled = false;
  #closed = false;
  #transactions = 0;
  #operations = 0;

  /**
   * @param onCommit called after every successful commit (change notification).
   * @param resetState called when a transaction starts and after an operation is rolled back,
   *   so per-transaction caches (the feed's next seq) never outlive what they describe.
   */
  constructor(db: Database.Database, onCommit: () => void, resetState: () => void = () => {}) {
    this.#db = db;
    this.#onCommit = onCommit;
    this.#resetState = resetState;
  }

  /** Run `operation` in the next group transaction; resolves with its result after the commit. */
  run<T>(operation: Operation<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new DualStoreError('store_closed'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run: operation, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** How many transactions committed and how many operations they carried (group commit at work). */
  get stats(): { transactions: number; operations: number } {
    return { transactions: this.#transactions, operations: this.#operations };
  }

  /** Commit whatever is queued now, then refuse new work. */
  close(): void {
    while (this.#queue.length > 0) this.#commitGroup(this.#queue.splice(0, MAX_GROUP));
    this.#closed = true;
  }

  /** Commit one group, then yield to the event loop before the next. */
  #flush(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    this.#commitGroup(this.#queue.splice(0, MAX_GROUP));
    if (this.#queue.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #commitGroup(group: Queued[]): void {
    let outcomes: Outcome[];
    try {
      outcomes = this.#runOptimistic(group) ?? this.#runIsolated(group);
    } catch (error) {
      // The commit itself failed (lock timeout, disk full): nothing of the group is durable.
      const failure = toStoreError(error);
      for (const item of group) item.reject(failure);
      return;
    }
    this.#transactions++;
    this.#operations += group.length;
    group.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) item.reject(new DualStoreError('internal_error'));
      else if (outcome.ok) item.resolve(outcome.value);
      else item.reject(toStoreError(outcome.error));
    });
    this.#onCommit();
  }

  /**
   * The fast path: every operation in one transaction without savepoints (a SAVEPOINT and its
   * RELEASE per operation cost more than a small insert). Returns undefined, with everything
   * rolled back, when an operation threw: the group then runs again through #runIsolated.
   * A one-operation group needs no isolation, so its failure is final here.
   */
  #runOptimistic(group: Queued[]): Outcome[] | undefined {
    let operationFailed = false;
    let failure: unknown;
    const runAll = (): Outcome[] => {
      this.#resetState();
      return group.map((item): Outcome => {
        try {
          return { ok: true, value: item.run() };
        } catch (error) {
          operationFailed = true;
          failure = error;
          throw error;
        }
      });
    };
    try {
      return this.#db.transaction(runAll).immediate();
    } catch (error) {
      this.#resetState();
      if (!operationFailed) throw error;
      if (group.length === 1) return [{ ok: false, error: failure }];
      return undefined;
    }
  }

  /** The careful path: each operation in its own savepoint, so a throw undoes only that one. */
  #runIsolated(group: Queued[]): Outcome[] {
    const db = this.#db;
    const runEach = (): Outcome[] => {
      this.#resetState();
      return group.map((item): Outcome => {
        // A nested better-sqlite3 transaction is a SAVEPOINT.
        try {
          return { ok: true, value: db.transaction(item.run)() };
        } catch (error) {
          this.#resetState();
          return { ok: false, error };
        }
      });
    };
    try {
      return db.transaction(runEach).immediate();
    } catch (error) {
      this.#resetState();
      throw error;
    }
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Map SQLite's lock errors to the coded `store_busy`; pass everything else through. */
export function toStoreError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code === 'SQLITE_BUSY_SNAPSHOT') {
    return new DualStoreError('store_busy', 'the database is locked by another writer; retry shortly', {
      cause: error,
    });
  }
  return error;
}
