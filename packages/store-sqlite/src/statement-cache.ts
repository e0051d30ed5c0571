// SPDX-License-Identifier: GPL-3.0-or-later
// Prepared statements by SQL text, least recently used evicted. Queries whose text varies with
// the request (filters, optional conditions) would otherwise be compiled on every call, which
// costs more than running them.

import type Database from 'better-sqlite3';

export class StatementCache {
  readonly #db: Database.Database;
  readonly #capacity: number;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database, capacity = 256) {
    this.#db = db;
    this.#capacity = capacity;
  }

  get(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      if (this.#statements.size >= this.#capacity) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
    } else {
      // Re-insert so Map order tracks recency.
      this.#statements.delete(sql);
    }
    this.#statements.set(sql, statement);
    return statement;
  }

  clear(): void {
    this.#statements.clear();
  }
}
