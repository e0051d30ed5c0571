// SPDX-License-Identifier: GPL-3.0-or-later
// "The feed may have grown" notifications (DESIGN §3): our own commits are announced at once by
// the store; commits by another process on the same file (the CLI, a second server) are noticed
// by polling `PRAGMA data_version`, which changes only when another connection commits.

import type { ChangeListener } from '@dualstore/core';
import type Database from 'better-sqlite3';

export class ChangeNotifier {
  readonly #db: Database.Database;
  readonly #listeners = new Set<ChangeListener>();
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #dataVersion: number;
  #foreignCommits = 0;
  readonly #onForeignCommit: () => void;

  /** @param onForeignCommit also told about another process's commits (the search indexer). */
  constructor(db: Database.Database, intervalMs: number, onForeignCommit: () => void) {
    this.#db = db;
    this.#intervalMs = intervalMs;
    this.#onForeignCommit = onForeignCommit;
    this.#dataVersion = this.#readVersion();
  }

  #readVersion(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }

  /** How many times another process's commits were seen. */
  get foreignCommits(): number {
    return this.#foreignCommits;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.poll(), this.#intervalMs);
    // A store must not keep a CLI process alive just to poll.
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  /** Check for another process's commit now; returns true when there was one. */
  poll(): boolean {
    if (!this.#db.open) return false;
    const version = this.#readVersion();
    if (version === this.#dataVersion) return false;
    this.#dataVersion = version;
    this.#foreignCommits++;
    this.#onForeignCommit();
    this.emit();
    return true;
  }

  watch(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Tell every listener; a throwing listener must not stop the others or the writer. */
  emit(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch (error) {
        process.emitWarning(`a DualStore change listener threw: ${String(error)}`);
      }
    }
  }
}
