// SPDX-License-Identifier: GPL-3.0-or-later
// A real main database in a temp dir, written the way the store writes it: each doc row and its
// `insert` change in one transaction, the doc's seq being the change's seq.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from '../../src/migrations.js';
import type { SearchRequest } from '../../src/search/protocol.js';

export interface TestDb {
  dir: string;
  dbPath: string;
  indexPath: string;
  db: Database.Database;
  /** Close the connection and remove the directory. */
  cleanup(): void;
}

export function createTestDb(): TestDb {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dualstore-search-'));
  const dbPath = path.join(dir, 'main.db');
  const db = new Database(dbPath, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  migrate(db);
  return {
    dir,
    dbPath,
    indexPath: `${dbPath}-search`,
    db,
    cleanup() {
      if (db.open) db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface DocOptions {
  topic?: string;
  timestamp?: string;
}

/** Insert a doc and its feed entry; returns the doc's seq. */
export function insertDoc(db: Database.Database, collection: string, text: string, options: DocOptions = {}): number {
  return db.transaction(() => {
    const at = options.timestamp ?? new Date().toISOString();
    const seq = Number(
      db
        .prepare("INSERT INTO changes (kind, collection, doc_seq, doc_id, at) VALUES ('insert', ?, 0, '', ?)")
        .run(collection, at).lastInsertRowid,
    );
    const id = `doc-${seq}`;
    db.prepare('UPDATE changes SET doc_seq = ?, doc_id = ? WHERE seq = ?').run(seq, id, seq);
    db.prepare(
      `INSERT INTO docs (seq, id, collection, text, timestamp, metadata, topic, status, attempts, max_attempts,
                         mentions, tool_calls, version)
       VALUES (?, ?, ?, ?, ?, '{}', ?, 'pending', 0, 5, '[]', '[]', 1)`,
    ).run(seq, id, collection, text, at, options.topic ?? null);
    return seq;
  })();
}

/** Insert many docs in one transaction; returns their seqs. */
export function insertDocs(
  db: Database.Database,
  collection: string,
  texts: readonly string[],
  options: DocOptions = {},
): number[] {
  return db.transaction(() => texts.map((text) => insertDoc(db, collection, text, options)))();
}

/** Retention-style delete: the doc row goes, a `delete` change is appended; returns its seq. */
export function deleteDoc(db: Database.Database, docSeq: number): number {
  return db.transaction(() => {
    const doc = db.prepare('SELECT id, collection FROM docs WHERE seq = ?').get(docSeq) as {
      id: string;
      collection: string;
    };
    db.prepare('DELETE FROM docs WHERE seq = ?').run(docSeq);
    return Number(
      db
        .prepare("INSERT INTO changes (kind, collection, doc_seq, doc_id, at) VALUES ('delete', ?, ?, ?, ?)")
        .run(doc.collection, docSeq, doc.id, new Date().toISOString()).lastInsertRowid,
    );
  })();
}

/** A status change: an `update` feed entry; returns its seq. */
export function updateDoc(db: Database.Database, docSeq: number, status: string): number {
  return db.transaction(() => {
    const doc = db.prepare('SELECT id, collection FROM docs WHERE seq = ?').get(docSeq) as {
      id: string;
      collection: string;
    };
    db.prepare('UPDATE docs SET status = ?, version = version + 1 WHERE seq = ?').run(status, docSeq);
    return Number(
      db
        .prepare(
          "INSERT INTO changes (kind, collection, doc_seq, doc_id, at, state) VALUES ('update', ?, ?, ?, ?, '{}')",
        )
        .run(doc.collection, docSeq, doc.id, new Date().toISOString()).lastInsertRowid,
    );
  })();
}

export const NO_FILTER: SearchRequest['filterSql'] = { sql: '1', params: [] };

/** A search request with the store's defaults. */
export function searchRequest(collection: string, q: string, overrides: Partial<SearchRequest> = {}): SearchRequest {
  return { collection, q, k: 8, mode: 'simple', order: 'relevance', filterSql: NO_FILTER, ...overrides };
}
