// SPDX-License-Identifier: GPL-3.0-or-later
// Ceilings: the same rows the store writes (a `docs` row plus its `changes` feed row, on the
// store's own schema and pragmas), written with prepared statements and nothing else — no
// validation, no group-commit queue, no per-doc feed head lookup, no promise. What the store
// reaches as a share of these is the cost of being a store.

import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { migrate, newId, openConnection, toIso } from './deps.js';

/** A new doc's mutable fields as the store snapshots them into its insert feed entry. */
const PENDING_STATE = JSON.stringify({
  status: 'pending',
  attempts: 0,
  claimed_by: null,
  lease_expires_at: null,
  available_at: null,
  processed_at: null,
  last_error: null,
  version: 1,
});

/** Open (creating) a database file on the store's schema, with `collection` present. */
export function openRaw(path: string, collection: string): Database.Database {
  const db = openConnection(path);
  migrate(db);
  db.prepare(
    'INSERT OR IGNORE INTO collections (name, max_attempts, retention_days, created_at) VALUES (?, 5, 30, ?)',
  ).run(collection, toIso(Date.now()));
  return db;
}

/** Inserts docs the way the store lays them out; the caller chooses the transaction size. */
export class RawWriter {
  readonly db: Database.Database;
  readonly #collection: string;
  readonly #insertChange: Database.Statement;
  readonly #insertDoc: Database.Statement;
  #nextSeq: number;

  constructor(db: Database.Database, collection: string) {
    this.db = db;
    this.#collection = collection;
    this.#insertChange = db.prepare(
      "INSERT INTO changes (seq, kind, collection, doc_seq, doc_id, at, state) VALUES (?, 'insert', ?, ?, ?, ?, ?)",
    );
    this.#insertDoc = db.prepare(
      `INSERT INTO docs (seq, id, collection, text, timestamp, metadata, topic, source, correlation_id, parent_id,
                         status, attempts, max_attempts, claimed_by, claim_token, lease_expires_at, available_at,
                         processed_at, last_error, mentions, tool_calls, version, idempotency_key, request_hash)
       VALUES (?, ?, ?, ?, ?, '{}', NULL, NULL, NULL, NULL, 'pending', 0, 5, NULL, NULL, NULL, NULL,
               NULL, NULL, '[]', '[]', 1, NULL, NULL)`,
    );
    // A single writer may keep the head in memory; the store re-reads it per append because
    // other processes write the same file.
    const head = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").get() as
      | { seq: number }
      | undefined;
    this.#nextSeq = (head?.seq ?? 0) + 1;
  }

  /** One doc and its feed row; must run inside a transaction for batching to mean anything. */
  insert(text: string): number {
    const seq = this.#nextSeq++;
    const id = newId();
    const at = toIso(Date.now());
    this.#insertChange.run(seq, this.#collection, seq, id, at, PENDING_STATE);
    this.#insertDoc.run(seq, id, this.#collection, text, at);
    return seq;
  }

  /** `texts.length` docs in one transaction. */
  insertBatch(texts: readonly string[]): void {
    this.db.transaction(() => {
      for (const text of texts) this.insert(text);
    })();
  }
}

/**
 * The work-queue ceiling: one connection claims the oldest pending doc (SELECT + UPDATE + feed
 * row in one IMMEDIATE transaction), then completes it (UPDATE + feed row in another), until
 * none is left. Returns claim→complete pairs done.
 */
export function rawClaimCompleteAll(db: Database.Database, collection: string): number {
  const oldest = db.prepare(
    "SELECT seq, id, attempts, version FROM docs WHERE collection = ? AND status = 'pending' ORDER BY seq LIMIT 1",
  );
  const claim = db.prepare(
    `UPDATE docs SET status = 'processing', attempts = ?, claimed_by = ?, claim_token = ?, lease_expires_at = ?,
            version = ? WHERE seq = ?`,
  );
  const complete = db.prepare(
    `UPDATE docs SET status = 'completed', claim_token = NULL, lease_expires_at = NULL, processed_at = ?,
            version = version + 1 WHERE seq = ? AND claim_token = ? AND status = 'processing'`,
  );
  const head = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").pluck();
  const append = db.prepare(
    "INSERT INTO changes (seq, kind, collection, doc_seq, doc_id, at, state) VALUES (?, 'update', ?, ?, ?, ?, ?)",
  );
  let nextSeq = ((head.get() as number | undefined) ?? 0) + 1;
  type Row = { seq: number; id: string; attempts: number; version: number };
  const claimOne = db.transaction((): { row: Row; token: string } | undefined => {
    const row = oldest.get(collection) as Row | undefined;
    if (row === undefined) return undefined;
    const now = Date.now();
    const token = randomBytes(18).toString('base64url');
    const lease = toIso(now + 300_000);
    claim.run(row.attempts + 1, 'raw', token, lease, row.version + 1, row.seq);
    const state = `{"status":"processing","attempts":${row.attempts + 1},"claimed_by":"raw","lease_expires_at":"${lease}","available_at":null,"processed_at":null,"last_error":null,"version":${row.version + 1}}`;
    append.run(nextSeq++, collection, row.seq, row.id, toIso(now), state);
    return { row, token };
  });
  const completeOne = db.transaction((row: Row, token: string) => {
    const at = toIso(Date.now());
    if (complete.run(at, row.seq, token).changes !== 1) throw new Error('raw complete lost its claim');
    const state = `{"status":"completed","attempts":${row.attempts + 1},"claimed_by":"raw","lease_expires_at":null,"available_at":null,"processed_at":"${at}","last_error":null,"version":${row.version + 2}}`;
    append.run(nextSeq++, collection, row.seq, row.id, at, state);
  });
  let done = 0;
  for (;;) {
    const claimed = claimOne.immediate();
    if (claimed === undefined) return done;
    completeOne.immediate(claimed.row, claimed.token);
    done++;
  }
}
