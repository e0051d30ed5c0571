// SPDX-License-Identifier: GPL-3.0-or-later
// The search projection's write side (DESIGN §3a.3): follows the main file's change feed and
// keeps the FTS5 index file in step with it, one bounded batch per transaction. Synchronous and
// free of thread concerns so it can be driven by indexer-worker.ts, a benchmark or a test alike.
//
// Two modes, both resumable after a crash because their position lives in the index file and is
// written in the same transaction as the batch:
//   feed  — apply `changes` after `indexed_through`: an insert adds the doc's text (an insert
//           whose doc row is already gone was deleted later: skipped), a delete removes it, an
//           update is ignored because a doc's text never changes after insert;
//   build — index the `docs` table itself up to a head captured when the build began, then
//           continue with the feed from there. Used for a fresh file, `rebuild()`, and when the
//           index fell behind the feed's floor (pruned deletions it would never see).
// The hot tier rotates through generations rather than being trimmed or refilled (see
// index-schema.ts), so keeping it costs one tokenising pass per doc and a DROP TABLE now and
// then; nothing delays fresh docs behind bulk copying.
// A backlog (a build, or a feed that fell behind) is worked through in batches that grow up to
// catchUpBatchSize: a large transaction tokenises the same docs in ~30% less time (fewer,
// larger FTS5 segments to merge; measured at 1M docs), while live batches stay small so a
// fresh doc never waits behind a large one.
// Several processes may open the same index file: each batch re-checks the position inside its
// write transaction and drops the batch when another indexer got there first, because a rowid
// inserted twice into a contentless FTS5 table silently corrupts it.

import Database from 'better-sqlite3';
import {
  checkSqliteVersion,
  createCollectionTablesSql,
  createHotTableSql,
  ensureIndexSchema,
  fullTable,
  hotTable,
  META,
} from './index-schema.js';
import type { IndexerOptions } from './protocol.js';

/** How long a statement waits for a lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

export interface StepResult {
  /** The index's feed position after this step. */
  indexedThrough: number;
  /** More work is waiting: step again soon instead of waiting for a notification. */
  more: boolean;
  /** Tokens of the rebuild requests that completed in this step. */
  rebuilt: number[];
}

interface ChangeRow {
  seq: number;
  kind: 'insert' | 'update' | 'delete';
  collection: string;
  doc_seq: number;
  text: string | null;
}

interface DocRow {
  seq: number;
  collection: string;
  text: string;
}

type Entry =
  | { add: true; seq: number; collection: string; text: string }
  | { add: false; seq: number; collection: string };

/** A row of the index file's `collections` table. */
interface CollectionState {
  id: number;
  name: string;
  hot_gen: number;
  hot_count: number;
  hot_last: number;
  prev_gen: number | null;
  prev_last: number;
  evicted_through: number;
}

/**
 * Leaf pages (~1 KB each) one settling step may merge per full table: a few tens of ms, so a
 * fresh doc arriving meanwhile waits no longer than that.
 */
const SETTLE_MERGE_PAGES = 256;

/** Per-table statements kept at most; older hot generations' statements fall out. */
const STATEMENT_CACHE = 64;

export class Indexer {
  readonly #main: Database.Database;
  readonly #index: Database.Database;
  /** Docs per hot generation: two live generations make at most hotTierSize. */
  readonly #generationSize: number;
  readonly #batchSize: number;
  readonly #catchUpBatchSize: number;
  /** Changes the next feed page asks for: batchSize live, growing while a backlog lasts. */
  #pageSize: number;
  readonly #sql: Statements;
  readonly #statements = new Map<string, Database.Statement>();
  /** Per collection: docs older than this seq will not be among the newest #generationSize. */
  readonly #hotFloors = new Map<string, number>();
  /** True while working through a backlog: only then are hot floors worth computing. */
  #backlog = false;
  /**
   * Set when a feed backlog reached catchUpBatchSize pages: those leave the full table with
   * many segments of the same size, and left alone a later small write tipped FTS5 into merging
   * a whole level at once (seconds; see #optimizeAll). So once caught up, and only while the
   * feed is idle, the segments are merged in bounded steps.
   */
  #settling = false;
  #requested: number[] = [];
  #building: number[] = [];
  #closed = false;

  constructor(options: IndexerOptions) {
    this.#generationSize = Math.max(1, Math.floor(options.hotTierSize / 2));
    this.#batchSize = options.batchSize;
    this.#catchUpBatchSize = Math.max(options.batchSize, options.catchUpBatchSize);
    this.#pageSize = options.batchSize;
    this.#index = new Database(options.indexPath, { timeout: BUSY_TIMEOUT_MS });
    try {
      this.#index.pragma('journal_mode = WAL');
      this.#index.pragma('synchronous = NORMAL');
      // FTS5 merges segments while inserting; a larger page cache keeps that off the disk.
      this.#index.pragma('cache_size = -32768');
      checkSqliteVersion(this.#index);
      ensureIndexSchema(this.#index);
      this.#main = new Database(options.dbPath, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    } catch (error) {
      this.#index.close();
      throw error;
    }
    this.#sql = prepareStatements(this.#main, this.#index);
  }

  /** The feed position the index file covers (0 while a build runs). */
  get indexedThrough(): number {
    return this.#meta(META.indexedThrough) ?? 0;
  }

  /** Drop the index and build it again from the main file; `token` comes back in `rebuilt`. */
  requestRebuild(token: number): void {
    this.#requested.push(token);
  }

  /** Do one bounded unit of work: at most one batch of the feed or of a build. */
  step(): StepResult {
    if (this.#closed) throw new Error('the indexer is closed');
    if (this.#requested.length > 0 || this.#meta(META.indexedThrough) === undefined) {
      this.#startBuild();
      return { indexedThrough: 0, more: true, rebuilt: [] };
    }
    if (this.#meta(META.buildTarget) !== undefined) return this.#buildStep();
    return this.#feedStep();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#statements.clear();
    this.#main.close();
    this.#index.close();
  }

  #feedStep(): StepResult {
    const from = this.#meta(META.indexedThrough) ?? 0;
    // Retention pruned delete entries after `from`: the feed can no longer tell us which docs
    // left, so start over from the docs table. (The head check keeps a floor that is somehow
    // past the head from rebuilding forever.)
    if (from < this.#feedFloor() && from < this.#head()) {
      this.#startBuild();
      return { indexedThrough: 0, more: true, rebuilt: [] };
    }
    // One statement, run to completion: the main file's read transaction ends before indexing.
    const pageSize = this.#pageSize;
    const page = this.#sql.changesPage.all(from, pageSize) as ChangeRow[];
    const last = page.at(-1);
    if (last === undefined) {
      this.#caughtUp();
      return { indexedThrough: from, more: this.#settling && this.#settleStep(), rebuilt: [] };
    }
    const full = page.length === pageSize;
    if (full) {
      this.#backlog = true;
      // Behind: take more per transaction next time (doubling, so a brief burst stays in small
      // batches and only a real backlog reaches the large ones).
      this.#pageSize = Math.min(this.#catchUpBatchSize, pageSize * 2);
      if (pageSize >= this.#catchUpBatchSize) this.#settling = true;
    }
    const entries: Entry[] = [];
    for (const change of page) {
      if (change.kind === 'insert' && change.text !== null) {
        entries.push({ add: true, seq: change.doc_seq, collection: change.collection, text: change.text });
      } else if (change.kind === 'delete') {
        entries.push({ add: false, seq: change.doc_seq, collection: change.collection });
      }
    }
    const applied = this.#index
      .transaction(() => {
        if ((this.#meta(META.indexedThrough) ?? 0) !== from || this.#meta(META.buildTarget) !== undefined) return false;
        this.#apply(entries, Number.MAX_SAFE_INTEGER, this.#generationSize);
        this.#sql.setMeta.run(META.indexedThrough, last.seq);
        return true;
      })
      .immediate();
    if (!full) this.#caughtUp();
    // Another process's indexer won the race: our page is stale, go again from its position.
    if (!applied) return { indexedThrough: this.indexedThrough, more: true, rebuilt: [] };
    return { indexedThrough: last.seq, more: full || this.#settling, rebuilt: [] };
  }

  /** One bounded FTS5 merge of each full table; returns whether any work was left to do. */
  #settleStep(): boolean {
    const worked = this.#index
      .transaction(() => {
        let any = false;
        for (const state of this.#sql.allCollections.all() as CollectionState[]) {
          const table = fullTable(state.id);
          const before = this.#sql.totalChanges.get() as number;
          this.#index.exec(`INSERT INTO ${table} (${table}, rank) VALUES ('merge', ${SETTLE_MERGE_PAGES})`);
          // FTS5's documented test: a merge that did any work changed at least two rows.
          if ((this.#sql.totalChanges.get() as number) - before >= 2) any = true;
        }
        return any;
      })
      .immediate();
    if (!worked) this.#settling = false;
    return this.#settling;
  }

  #head(): number {
    return (this.#sql.head.get() as { head: number }).head;
  }

  #startBuild(): void {
    const target = this.#head();
    this.#building.push(...this.#requested);
    this.#requested = [];
    this.#hotFloors.clear();
    this.#settling = false;
    this.#backlog = true;
    this.#index
      .transaction(() => {
        for (const state of this.#sql.allCollections.all() as CollectionState[]) {
          // 'delete-all' empties a contentless table without dropping it.
          const full = fullTable(state.id);
          this.#index.exec(`INSERT INTO ${full} (${full}) VALUES ('delete-all')`);
          // A new hot generation: its name has never been used, so no statement anywhere still
          // points at it.
          this.#index.exec(`DROP TABLE IF EXISTS ${hotTable(state.id, state.hot_gen)}`);
          if (state.prev_gen !== null) this.#index.exec(`DROP TABLE IF EXISTS ${hotTable(state.id, state.prev_gen)}`);
          const generation = state.hot_gen + 1;
          this.#index.exec(createHotTableSql(state.id, generation));
          this.#save({ ...state, ...EMPTY_HOT, hot_gen: generation });
        }
        this.#sql.setMeta.run(META.indexedThrough, 0);
        this.#sql.setMeta.run(META.buildTarget, target);
        this.#sql.setMeta.run(META.buildCursor, 0);
      })
      .immediate();
  }

  #buildStep(): StepResult {
    const target = this.#meta(META.buildTarget) as number;
    const cursor = this.#meta(META.buildCursor) ?? 0;
    this.#backlog = true;
    const page = this.#sql.docsPage.all(cursor, target, this.#catchUpBatchSize) as DocRow[];
    const done = page.length < this.#catchUpBatchSize;
    const applied = this.#index
      .transaction(() => {
        if (this.#meta(META.buildTarget) !== target || (this.#meta(META.buildCursor) ?? 0) !== cursor) return false;
        this.#apply(
          page.map((doc) => ({ add: true, seq: doc.seq, collection: doc.collection, text: doc.text })),
          target,
          // A build leaves the tier as two half generations rather than one full one: ranking a
          // common word reads only the current generation, so right after a build it costs half
          // as much, and the tier still holds the newest #generationSize docs.
          Math.ceil(this.#generationSize / 2),
        );
        if (done) {
          this.#optimizeAll();
          this.#sql.setMeta.run(META.indexedThrough, target);
          this.#sql.deleteMeta.run(META.buildTarget);
          this.#sql.deleteMeta.run(META.buildCursor);
        } else {
          this.#sql.setMeta.run(META.buildCursor, (page.at(-1) as DocRow).seq);
        }
        return true;
      })
      .immediate();
    if (!applied) return { indexedThrough: this.indexedThrough, more: true, rebuilt: [] };
    if (!done) return { indexedThrough: 0, more: true, rebuilt: [] };
    this.#hotFloors.clear();
    const rebuilt = this.#building;
    this.#building = [];
    return { indexedThrough: target, more: true, rebuilt };
  }

  /**
   * Merge every table's segments into one, at the end of a build. A build leaves the full table
   * as dozens of same-sized segments (one per catch-up batch); left alone, a later small write
   * tipped FTS5 into merging a whole level at once — one 18-doc batch took 6.8 s and fresh docs
   * waited that long (measured at 1M docs). Merging here costs ~5 s per 1M docs, while nothing
   * is searchable yet anyway, and leaves live writes small merges only (max 47 ms per batch).
   */
  #optimizeAll(): void {
    for (const state of this.#sql.allCollections.all() as CollectionState[]) {
      const tables = [fullTable(state.id), hotTable(state.id, state.hot_gen)];
      if (state.prev_gen !== null) tables.push(hotTable(state.id, state.prev_gen));
      for (const table of tables) {
        this.#index.exec(`INSERT INTO ${table} (${table}) VALUES ('optimize')`);
      }
    }
  }

  /**
   * Write one batch; runs inside the caller's transaction. The current hot generation rotates
   * before a doc would make it hold more than `rotateAt`.
   */
  #apply(entries: readonly Entry[], hotFloorLimit: number, rotateAt: number): void {
    const touched = new Map<string, CollectionState>();
    const load = (name: string, create: boolean): CollectionState | undefined => {
      let state = touched.get(name);
      if (state === undefined) {
        state = this.#collection(name, create);
        if (state !== undefined) touched.set(name, state);
      }
      return state;
    };
    for (const entry of entries) {
      if (entry.add) {
        const state = load(entry.collection, true) as CollectionState;
        this.#run(`INSERT INTO ${fullTable(state.id)} (rowid, text) VALUES (?, ?)`, entry.seq, entry.text);
        if (entry.seq >= this.#hotFloor(entry.collection, hotFloorLimit)) {
          if (state.hot_count >= rotateAt) this.#rotate(state);
          this.#run(
            `INSERT INTO ${hotTable(state.id, state.hot_gen)} (rowid, text) VALUES (?, ?)`,
            entry.seq,
            entry.text,
          );
          state.hot_count += 1;
          state.hot_last = entry.seq;
        } else {
          state.evicted_through = Math.max(state.evicted_through, entry.seq);
        }
      } else {
        const state = load(entry.collection, false);
        if (state === undefined) continue;
        // Deleting a rowid a contentless_delete table does not hold is a no-op (0 changes).
        this.#run(`DELETE FROM ${fullTable(state.id)} WHERE rowid = ?`, entry.seq);
        // Searches never read a hot-tier row at or below evicted_through (see searcher.ts), and
        // retention deletes old docs, which have mostly left the hot tier: skip two lookups.
        if (entry.seq > state.evicted_through) {
          state.hot_count -= this.#run(`DELETE FROM ${hotTable(state.id, state.hot_gen)} WHERE rowid = ?`, entry.seq);
          if (state.prev_gen !== null) {
            this.#run(`DELETE FROM ${hotTable(state.id, state.prev_gen)} WHERE rowid = ?`, entry.seq);
          }
        }
      }
    }
    for (const state of touched.values()) this.#save(state);
  }

  /**
   * The current hot generation is full: it becomes the previous one, the previous one is
   * dropped whole, and new docs go to a fresh, empty generation.
   */
  #rotate(state: CollectionState): void {
    if (state.prev_gen !== null) {
      this.#index.exec(`DROP TABLE IF EXISTS ${hotTable(state.id, state.prev_gen)}`);
      // Every doc of the dropped generation is at most prev_last.
      state.evicted_through = Math.max(state.evicted_through, state.prev_last);
    }
    state.prev_gen = state.hot_gen;
    state.prev_last = state.hot_last;
    state.hot_gen += 1;
    state.hot_count = 0;
    this.#index.exec(createHotTableSql(state.id, state.hot_gen));
  }

  /**
   * While a backlog is worked through, docs that would leave the hot tier before the backlog
   * ends are never put there (it would double the tokenising work of a catch-up). The floor is
   * the seq of the #generationSize-th newest doc now; deletes after this point can leave the hot
   * tier a little short, which relevance search tolerates.
   */
  #hotFloor(collection: string, limit: number): number {
    if (!this.#backlog) return 0;
    let floor = this.#hotFloors.get(collection);
    if (floor === undefined) {
      floor = this.#newestFloor(collection, limit, this.#generationSize);
      this.#hotFloors.set(collection, floor);
    }
    return floor;
  }

  /** The seq of the `count`-th newest doc of a collection with seq <= limit (0 when fewer). */
  #newestFloor(collection: string, limit: number, count: number): number {
    const row = this.#sql.nthNewest.get(collection, limit, count - 1) as { seq: number } | undefined;
    return row?.seq ?? 0;
  }

  #caughtUp(): void {
    this.#backlog = false;
    this.#pageSize = this.#batchSize;
    this.#hotFloors.clear();
  }

  #collection(name: string, create: boolean): CollectionState | undefined {
    const state = this.#sql.findCollection.get(name) as CollectionState | undefined;
    if (state !== undefined || !create) return state;
    const id = Number(this.#sql.addCollection.run(name).lastInsertRowid);
    this.#index.exec(createCollectionTablesSql(id));
    return this.#sql.collectionById.get(id) as CollectionState;
  }

  #save(state: CollectionState): void {
    this.#sql.saveCollection.run(
      state.hot_gen,
      state.hot_count,
      state.hot_last,
      state.prev_gen,
      state.prev_last,
      state.evicted_through,
      state.id,
    );
  }

  /** Run a statement on a collection's table; returns the rows changed. */
  #run(sql: string, ...params: unknown[]): number {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#index.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE) {
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, statement);
    }
    return statement.run(...params).changes;
  }

  #meta(key: string): number | undefined {
    return (this.#sql.getMeta.get(key) as { value: number } | undefined)?.value;
  }

  #feedFloor(): number {
    const row = this.#sql.feedFloor.get() as { value: unknown } | undefined;
    const floor = Number(row?.value ?? 0);
    return Number.isFinite(floor) ? floor : 0;
  }
}

const EMPTY_HOT = {
  hot_count: 0,
  hot_last: 0,
  prev_gen: null,
  prev_last: 0,
  evicted_through: 0,
} as const;

type Statements = ReturnType<typeof prepareStatements>;

function prepareStatements(main: Database.Database, index: Database.Database) {
  return {
    changesPage: main.prepare(
      `SELECT c.seq AS seq, c.kind AS kind, c.collection AS collection, c.doc_seq AS doc_seq, d.text AS text
         FROM changes c LEFT JOIN docs d ON c.kind = 'insert' AND d.seq = c.doc_seq
        WHERE c.seq > ? ORDER BY c.seq LIMIT ?`,
    ),
    docsPage: main.prepare('SELECT seq, collection, text FROM docs WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?'),
    // sqlite_sequence remembers the highest seq ever handed out, even if its row was pruned.
    head: main.prepare(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0),
                  coalesce((SELECT max(seq) FROM changes), 0)) AS head`,
    ),
    feedFloor: main.prepare("SELECT value FROM meta WHERE key = 'feed_floor'"),
    nthNewest: main.prepare(
      'SELECT seq FROM docs WHERE collection = ? AND seq <= ? ORDER BY seq DESC LIMIT 1 OFFSET ?',
    ),
    getMeta: index.prepare('SELECT value FROM meta WHERE key = ?'),
    totalChanges: index.prepare('SELECT total_changes()').pluck(),
    setMeta: index.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    deleteMeta: index.prepare('DELETE FROM meta WHERE key = ?'),
    findCollection: index.prepare('SELECT * FROM collections WHERE name = ?'),
    collectionById: index.prepare('SELECT * FROM collections WHERE id = ?'),
    addCollection: index.prepare('INSERT INTO collections (name) VALUES (?)'),
    allCollections: index.prepare('SELECT * FROM collections'),
    saveCollection: index.prepare(
      `UPDATE collections SET hot_gen = ?, hot_count = ?, hot_last = ?, prev_gen = ?, prev_last = ?,
              evicted_through = ? WHERE id = ?`,
    ),
  };
}
