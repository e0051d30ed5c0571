// SPDX-License-Identifier: GPL-3.0-or-later
// Layout of the search index file (`<db>-search`), shared by the indexer and the searcher.
// The file is a projection of the main file's change feed (DESIGN §3a.3): it can always be
// thrown away and rebuilt, so an unknown schema version is wiped rather than migrated.
//
// Per collection (named by a small integer id, so no user-supplied name is ever spliced into
// SQL) there are contentless FTS5 tables with the doc's seq as rowid:
//   full_<id>        every live doc of the collection;
//   hot_<id>_<gen>   the newest docs only, in at most two live generations of at most
//                    ceil(hotTierSize/2) docs each, so bm25 over a very common word stays cheap
//                    (DESIGN §3a.4). A generation is never trimmed row by row: deletions from a
//                    contentless_delete table leave tombstones that slowed common-word bm25 ~6×
//                    after 20k evictions, and FTS5 keeps counting deleted rows in bm25's N
//                    (measured, SQLite 3.53). Nor is one refilled by copying: re-tokenising the
//                    newest half of the tier took seconds at 1M docs and delayed fresh docs by
//                    hundreds of ms (measured). Instead generations rotate: new docs go to the
//                    current one; when it is full a new empty one starts and the previous one is
//                    dropped whole (one DROP TABLE, no copying, no row deletes).
// Imports nothing from @dualstore/core: worker threads load this file without the workspace's
// source condition.

import type Database from 'better-sqlite3';

/**
 * Bump to make every existing index file rebuild itself from the feed. 3: full tables carry
 * FULL_CRISISMERGE (a table option is set when the table is created).
 */
export const INDEX_SCHEMA_VERSION = 3;

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

/**
 * FTS5 buffers a transaction's new postings in memory and writes them out as a new segment when
 * the buffer passes `hashsize` (default 1 MB) or at commit. A catch-up batch of 20,000 docs
 * holds ~4 MB of postings: with the default it became four small segments that automerge then
 * merged again; with this bound it is one. Only a transaction's own postings are ever held, so
 * this caps memory per batch, not per table.
 */
const HASH_SIZE = 32 * 1024 * 1024;

/**
 * The full table merges segments once 8 of a level exist instead of FTS5's default 4: every
 * posting is rewritten on fewer levels, which made a 1M-doc catch-up ~25% faster (measured).
 * Its readers walk matches by rowid or rank rare words, for which a few more segments cost
 * little; the hot generations, where bm25 reads every posting of common words, keep the default.
 */
const FULL_AUTOMERGE = 8;

/**
 * FTS5 merges a whole level at once, inside whatever commit adds its `crisismerge`th segment
 * (default 16). Live batches of a few docs each add segments faster than automerge's incremental
 * work retires them, so after a build one small commit merged nearly the whole full table: a
 * 6-doc commit wrote ~4,400 index pages and took ~200 ms at 100k docs (proportionally more at 1M).
 * With 64 the worst of 8,000 25-doc commits after a 100k-doc build wrote 355 pages (24 ms)
 * instead of 2,866 (90 ms), with the same pages written on average and no more index rows
 * (measured on a raw table with these options).
 */
const FULL_CRISISMERGE = 64;

function createFtsTableSql(
  table: string,
  ifNotExists: boolean,
  merging?: { automerge: number; crisismerge: number },
): string {
  const merge =
    merging === undefined ? '' : `, ('automerge', ${merging.automerge}), ('crisismerge', ${merging.crisismerge})`;
  return `CREATE VIRTUAL TABLE ${ifNotExists ? 'IF NOT EXISTS ' : ''}${table} USING fts5(text, ${FTS_OPTIONS});
    INSERT INTO ${table} (${table}, rank) VALUES ('hashsize', ${HASH_SIZE})${merge};`;
}

/** A collection's full table and its first hot generation. */
export function createCollectionTablesSql(collectionId: number): string {
  return `${createFtsTableSql(fullTable(collectionId), true, { automerge: FULL_AUTOMERGE, crisismerge: FULL_CRISISMERGE })} ${createHotTableSql(collectionId, 1)}`;
}

/** An empty hot generation (a leftover of an interrupted attempt is dropped first). */
export function createHotTableSql(collectionId: number, generation: number): string {
  const table = hotTable(collectionId, generation);
  return `DROP TABLE IF EXISTS ${table}; ${createFtsTableSql(table, false)}`;
}

const SCHEMA_SQL = `
  CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  -- hot_gen / hot_count / hot_last: the current hot generation, its rows and the newest seq put
  -- in it. prev_gen / prev_last: the previous generation (NULL: none) and the newest seq put in
  -- it; every seq in it is below every seq in the current one. evicted_through: the newest seq
  -- not in a live generation; 0 means the hot tier holds every doc of the collection (searches
  -- need no fallback to the full table).
  CREATE TABLE IF NOT EXISTS collections (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    hot_gen         INTEGER NOT NULL DEFAULT 1,
    hot_count       INTEGER NOT NULL DEFAULT 0,
    hot_last        INTEGER NOT NULL DEFAULT 0,
    prev_gen        INTEGER,
    prev_last       INTEGER NOT NULL DEFAULT 0,
    evicted_through INTEGER NOT NULL DEFAULT 0
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
