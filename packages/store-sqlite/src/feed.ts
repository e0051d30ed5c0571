// SPDX-License-Identifier: GPL-3.0-or-later
// The global change feed (DESIGN §3): appending inside a write transaction, and reading pages
// back for streams. Seqs are assigned here from `sqlite_sequence` while the writer holds the
// write lock, so a doc's row can carry its insertion seq in the same statement; AUTOINCREMENT
// keeps `sqlite_sequence` at the highest seq ever used, so a seq is never reused.

import {
  type Change,
  type ChangeKind,
  type ChangesPage,
  type ChangesQuery,
  DualStoreError,
  MAX_CHANGES_PAGE,
  matchesSelector,
} from '@dualstore/core';
import type Database from 'better-sqlite3';
import { type DocRow, type DocState, rowToDoc } from './doc-row.js';
import { StatementCache } from './statement-cache.js';

/** How many raw feed rows one `changes()` call examines at most, so a selective filter stays bounded. */
const MAX_SCAN = 10_000;

export class Feed {
  readonly #lastSeq: Database.Statement<[], { seq: number }>;
  readonly #append: Database.Statement<[number, ChangeKind, string, number, string, string, string | null]>;
  readonly #floor: Database.Statement<[], { value: string }>;
  readonly #firstFrom: Database.Statement<[number], { seq: number; at: string }>;
  /** The next seq to hand out within the current write transaction (see resetSequence). */
  #next: number | undefined;
  readonly #db: Database.Database;
  readonly #statements: StatementCache;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#statements = new StatementCache(db, 64);
    this.#lastSeq = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'");
    this.#append = db.prepare(
      'INSERT INTO changes (seq, kind, collection, doc_seq, doc_id, at, state) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.#floor = db.prepare("SELECT value FROM meta WHERE key = 'feed_floor'");
    this.#firstFrom = db.prepare('SELECT seq, at FROM changes WHERE seq >= ? ORDER BY seq LIMIT 1');
  }

  /** The newest seq ever appended (0 for an empty feed). */
  head(): number {
    return this.#lastSeq.get()?.seq ?? 0;
  }

  /**
   * Forget the cached next seq. Called at the start of every write transaction (another process
   * may have appended since) and after an operation is rolled back (its seqs return unused).
   */
  resetSequence(): void {
    this.#next = undefined;
  }

  /**
   * Append one change; must run inside a write transaction. For an insert pass `docSeq`
   * undefined: the change's own seq becomes the doc's seq, and is returned.
   */
  append(
    kind: ChangeKind,
    collection: string,
    docId: string,
    at: string,
    state: DocState | null,
    docSeq?: number,
  ): number {
    // Read once per transaction, then counted here: the write lock is held, nobody else appends.
    const seq = this.#next ?? this.head() + 1;
    this.#next = seq + 1;
    this.#append.run(seq, kind, collection, docSeq ?? seq, docId, at, state === null ? null : JSON.stringify(state));
    return seq;
  }

  floor(): number {
    const row = this.#floor.get();
    return row === undefined ? 0 : Number(row.value);
  }

  setFloor(seq: number): void {
    this.#db
      .prepare(
        "INSERT INTO meta (key, value) VALUES ('feed_floor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(String(seq));
  }

  /**
   * The newest seq appended strictly before `time`: a binary search over the feed, relying on
   * `at` growing with `seq` (appends happen under the write lock with the same system clock), so
   * the feed needs no index on `at`.
   */
  seqBefore(time: string): number {
    let lo = 0;
    let hi = this.head();
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      const row = this.#firstFrom.get(mid);
      if (row === undefined || row.seq > hi || row.at >= time) hi = mid - 1;
      else lo = row.seq;
    }
    return lo;
  }

  /** A page of changes after `after`, in seq order, reconstructed and filtered (see Store.changes). */
  read(after: number, query: ChangesQuery = {}): ChangesPage {
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new DualStoreError('bad_cursor', `expected a non-negative integer feed position, got ${String(after)}`);
    }
    const limit = query.limit ?? MAX_CHANGES_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CHANGES_PAGE) {
      throw new DualStoreError('out_of_range', `limit must be 1..${MAX_CHANGES_PAGE}, got ${limit}`);
    }
    const collections = query.collections;
    // One read transaction: head, floor and the rows come from the same snapshot.
    return this.#db.transaction((): ChangesPage => {
      const head = this.head();
      const floor = this.floor();
      const changes: Change[] = [];
      let next = after;
      const pageSize = Math.min(MAX_SCAN, Math.max(limit, 256));
      const statement = this.#pageStatement(collections?.length ?? -1);
      let scanned = 0;
      while (changes.length < limit && scanned < MAX_SCAN && next < head) {
        const rows = statement.all(next, ...(collections ?? []), pageSize) as FeedRow[];
        if (rows.length === 0) {
          next = head;
          break;
        }
        for (const row of rows) {
          scanned++;
          next = row.c_seq;
          const change = toChange(row);
          if (change !== undefined && (change.doc === undefined || matchesSelector(change.doc, query))) {
            changes.push(change);
            if (changes.length === limit) break;
          }
        }
        if (rows.length < pageSize && changes.length < limit) {
          next = Math.max(next, head);
          break;
        }
      }
      return { changes, next, head, floor };
    })();
  }

  #pageStatement(collectionCount: number): Database.Statement {
    const where =
      collectionCount < 0 ? '' : `AND c.collection IN (${Array(collectionCount).fill('?').join(', ') || 'NULL'})`;
    return this.#statements.get(
      `SELECT c.seq AS c_seq, c.kind AS c_kind, c.collection AS c_collection, c.doc_seq AS c_doc_seq,
              c.doc_id AS c_doc_id, c.at AS c_at, c.state AS c_state, d.*
         FROM changes c LEFT JOIN docs d ON d.seq = c.doc_seq
        WHERE c.seq > ? ${where}
        ORDER BY c.seq LIMIT ?`,
    );
  }
}

type FeedRow = Partial<DocRow> & {
  c_seq: number;
  c_kind: ChangeKind;
  c_collection: string;
  c_doc_seq: number;
  c_doc_id: string;
  c_at: string;
  c_state: string | null;
};

/** A feed row as a Change; undefined for an insert/update whose doc was deleted later (its delete follows). */
function toChange(row: FeedRow): Change | undefined {
  const base = { seq: row.c_seq, kind: row.c_kind, collection: row.c_collection, at: row.c_at };
  if (row.c_kind === 'delete') return { ...base, deleted: { id: row.c_doc_id, seq: row.c_doc_seq } };
  if (row.seq === undefined || row.seq === null) return undefined;
  const state = row.c_state === null ? undefined : (JSON.parse(row.c_state) as DocState);
  return { ...base, doc: rowToDoc(row as DocRow, state) };
}
