// SPDX-License-Identifier: GPL-3.0-or-later
// Layout of the search index file (`<db>-search`), shared by the indexer and the searcher.
// The file is a projection of the main file's change feed (DESIGN §3a.3): it can always be
// thrown away and rebuilt, so an unknown schema version is wiped rather than migrated.
//
// Per collection (named by a small integer id, so no user-supplied name is ever spliced into
// SQL) there are contentless FTS5 tables with the doc's seq as rowid:
//   full_<id>        every live doc of the collection;
//   hot_<id>_<gen>   the newest docs only (at most hotTierSize), so bm25 over a very common word
//                    stays cheap (DESIGN §3a.4). It is never trimmed row by row: deletions from a
//                    contentless_delete table leave tombstones that slowed common-word bm25 ~6×
//                    after 20k evictions, and FTS5 keeps counting deleted rows in bm25's N
//                    (measured, SQLite 3.53). Instead, once it holds hotTierSize docs, generation
//                    gen+1 is filled with the newest hotTierSize/2 docs in bounded chunks (new docs
//                    go to both meanwhile), then replaces it.
// Imports nothing from @dualstore/core: worker threads load this file without the workspace's
// source condition.

import type Database from 'better-sqlite3';

/** Bump to make every existing index file rebuild itself from the feed. */
export const INDEX_SCHEMA_VERSION = 1;

/** contentless_delete needs SQLite 3.43. */
export const MIN_SQLITE_VERSION = [3, 43, 0] as const;

/** Keys of the `meta` table. */
export const META = {
  /** The last feed seq whose effect the index holds. */
  indexedThrough: 'indexed_through',
  /** Present while a rebuild from the `docs` table runs: it covers docs with seq <= this. */
  buildTarget: 'build_target',
  /** The last doc seq the running rebuild has indexed. */
  buildCursor: 'build_cursor',
} as const;

const FTS_OPTIONS = "content='', contentless_delete=1, prefix='3 4', tokenize='unicode61 remove_diacritics 2'";

export function fullTable(collectionId: number): string {
  return `full_${checkedId(collectionId)}`;
}

export function hotTable(collectionId: number, generation: number): string {
  return `hot_${checkedId(collectionId)}_${checkedId(generation)}`;
}

/** A collection's full table and its first hot generation. */
export function createCollectionTablesSql(collectionId: number): string {
  return `CREATE VIRTUAL TABLE IF NOT EXISTS ${fullTable(collectionId)} USING fts5(text, ${FTS_OPTIONS});
    ${createHotTableSql(collectionId, 1)}`;
}

/** An empty hot generation (a leftover of an interrupted attempt is dropped first). */
export function createHotTableSql(collectionId: number, generation: number): string {
  const table = hotTable(collectionId, generation);
  return `DROP TABLE IF EXISTS ${table}; CREATE VIRTUAL TABLE ${table} USING fts5(text, ${FTS_OPTIONS});`;
}

const SCHEMA_SQL = `
  CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  -- hot_gen / hot_count: the current hot generation and its rows. evicted_through: the newest
  -- seq left out of the current hot generation; 0 means it holds every doc of the collection
  -- (searches need no fallback to the full table). next_*: the generation being filled, if any:
  -- docs with next_floor <= seq <= next_end are copied in from the main file after next_cursor;
  -- docs after next_end reach it through the feed.
  CREATE TABLE IF NOT EXISTS collections (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    hot_gen         INTEGER NOT NULL DEFAULT 1,
    hot_count       INTEGER NOT NULL DEFAULT 0,
    evicted_through INTEGER NOT NULL DEFAULT 0,
    next_floor      INTEGER,
    next_cursor     INTEGER,
    next_end        INTEGER,
    next_count      INTEGER NOT NULL DEFAULT 0
  ) STRICT;
`;

/** Throws when the linked SQLite cannot build this index. */
export function checkSqliteVersion(db: Database.Database): string {
  const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  const parts = version.split('.').map((part) => Number.parseInt(part, 10));
  for (let i = 0; i < MIN_SQLITE_VERSION.length; i++) {
    const have = parts[i] ?? 0;
    const need = MIN_SQLITE_VERSION[i] as number;
    if (have > need) break;
    if (have < need) {
      throw new Error(
        `the search index needs SQLite ${MIN_SQLITE_VERSION.join('.')} or newer (contentless_delete); this build links SQLite ${version}`,
      );
    }
  }
  return version;
}

/**
 * Create the tables of an empty index file, or wipe a file of another schema version. Runs in
 * an IMMEDIATE transaction so two processes opening the same file do not both create it.
 */
export function ensureIndexSchema(db: Database.Database): void {
  const setup = db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version === INDEX_SCHEMA_VERSION) return;
    if (version !== 0) dropEverything(db);
    db.exec(SCHEMA_SQL);
    db.pragma(`user_version = ${INDEX_SCHEMA_VERSION}`);
  });
  setup.immediate();
}

function dropEverything(db: Database.Database): void {
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY sql LIKE 'CREATE VIRTUAL%' DESC",
    )
    .all() as Array<{ name: string }>;
  // Virtual tables first: dropping one drops its shadow tables, which are then skipped. The names
  // come from sqlite_schema itself.
  for (const { name } of tables) {
    if (db.prepare('SELECT 1 FROM sqlite_schema WHERE name = ?').get(name) !== undefined) {
      db.exec(`DROP TABLE IF EXISTS "${name.replaceAll('"', '""')}"`);
    }
  }
}

function checkedId(collectionId: number): number {
  if (!Number.isSafeInteger(collectionId) || collectionId < 1) throw new Error(`bad collection id ${collectionId}`);
  return collectionId;
}
