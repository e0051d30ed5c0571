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
// The hot tier is replaced by generations rather than trimmed row by row (see index-schema.ts).
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
  evicted_through: number;
  next_floor: number | null;
  next_cursor: number | null;
  next_end: number | null;
  next_count: number;
}

/** Per-table statements kept at most; older hot generations' statements fall out. */
const STATEMENT_CACHE = 64;

export class Indexer {
  readonly #main: Database.Database;
  readonly #index: Database.Database;
  readonly #hotTierSize: number;
  /** Docs a fresh hot generation starts with: the newest half of the tier. */
  readonly #hotTarget: number;
  readonly #batchSize: number;
  readonly #sql: Statements;
  readonly #statements = new Map<string, Database.Statement>();
  /** Per collection: docs older than this seq will not be among the newest #hotTarget. */
  readonly #hotFloors = new Map<string, number>();
  /** True while working through a backlog: only then are hot floors worth computing. */
  #backlog = false;
  #requested: number[] = [];
  #building: number[] = [];
  #closed = false;

  constructor(options: IndexerOptions) {
    this.#hotTierSize = options.hotTierSize;
    this.#hotTarget = Math.ceil(options.hotTierSize / 2);
    this.#batchSize = options.batchSize;
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

  /** Do one bounded unit of work: at most one batch of the feed and one chunk of hot-tier refill. */
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
    const page = this.#sql.changesPage.all(from, this.#batchSize) as ChangeRow[];
    const last = page.at(-1);
    if (last === undefined) {
      this.#caughtUp();
      return { indexedThrough: from, more: this.#refillStep(), rebuilt: [] };
    }
    const full = page.length === this.#batchSize;
    if (full) this.#backlog = true;
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
        this.#apply(entries, Number.MAX_SAFE_INTEGER, last.seq);
        this.#sql.setMeta.run(META.indexedThrough, last.seq);
        return true;
      })
      .immediate();
    if (!full) this.#caughtUp();
    // Another process's indexer won the race: our page is stale, go again from its position.
    if (!applied) return { indexedThrough: this.indexedThrough, more: true, rebuilt: [] };
    const refilling = this.#refillStep();
    return { indexedThrough: last.seq, more: full || refilling, rebuilt: [] };
  }

  #head(): number {
    return (this.#sql.head.get() as { head: number }).head;
  }

  #startBuild(): void {
    const target = this.#head();
    this.#building.push(...this.#requested);
    this.#requested = [];
    this.#hotFloors.clear();
    this.#backlog = true;
    this.#index
      .transaction(() => {
        for (const state of this.#sql.allCollections.all() as CollectionState[]) {
          // 'delete-all' empties a contentless table without dropping it.
          const full = fullTable(state.id);
          this.#index.exec(`INSERT INTO ${full} (${full}) VALUES ('delete-all')`);
          // A new hot generation: its name has never been used, so no statement anywhere still
          // points at it.
          this.#dropHotGenerations(state);
          const generation = state.hot_gen + 2;
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
    const page = this.#sql.docsPage.all(cursor, target, this.#batchSize) as DocRow[];
    const done = page.length < this.#batchSize;
    const applied = this.#index
      .transaction(() => {
        if (this.#meta(META.buildTarget) !== target || (this.#meta(META.buildCursor) ?? 0) !== cursor) return false;
        this.#apply(
          page.map((doc) => ({ add: true, seq: doc.seq, collection: doc.collection, text: doc.text })),
          target,
          page.at(-1)?.seq ?? cursor,
        );
        if (done) {
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
   * Write one batch; runs inside the caller's transaction. `through` is the last feed (or docs)
   * seq the batch covers: a hot generation started now is refilled from the main file up to it.
   */
  #apply(entries: readonly Entry[], hotFloorLimit: number, through: number): void {
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
          this.#run(
            `INSERT INTO ${hotTable(state.id, state.hot_gen)} (rowid, text) VALUES (?, ?)`,
            entry.seq,
            entry.text,
          );
          state.hot_count += 1;
        } else {
          state.evicted_through = Math.max(state.evicted_through, entry.seq);
        }
        if (state.next_floor !== null) {
          this.#run(
            `INSERT INTO ${hotTable(state.id, state.hot_gen + 1)} (rowid, text) VALUES (?, ?)`,
            entry.seq,
            entry.text,
          );
          state.next_count += 1;
        }
      } else {
        const state = load(entry.collection, false);
        if (state === undefined) continue;
        // Deleting a rowid a contentless_delete table does not hold is a no-op (0 changes).
        this.#run(`DELETE FROM ${fullTable(state.id)} WHERE rowid = ?`, entry.seq);
        state.hot_count -= this.#run(`DELETE FROM ${hotTable(state.id, state.hot_gen)} WHERE rowid = ?`, entry.seq);
        if (state.next_floor !== null) {
          state.next_count -= this.#run(
            `DELETE FROM ${hotTable(state.id, state.hot_gen + 1)} WHERE rowid = ?`,
            entry.seq,
          );
        }
      }
    }
    for (const state of touched.values()) {
      if (state.next_floor === null && state.hot_count >= this.#hotTierSize) this.#startNextGeneration(state, through);
      this.#save(state);
    }
  }

  /**
   * The hot generation is full: start the next one with the newest #hotTarget docs. From now on
   * new docs go to both; the older ones (seq <= through) are copied in by #refillStep.
   */
  #startNextGeneration(state: CollectionState, through: number): void {
    const floor = this.#newestFloor(state.name, Number.MAX_SAFE_INTEGER, this.#hotTarget);
    this.#index.exec(createHotTableSql(state.id, state.hot_gen + 1));
    state.next_floor = floor;
    state.next_cursor = floor - 1;
    state.next_end = through;
    state.next_count = 0;
  }

  /**
   * Copy one chunk of docs into a collection's next hot generation, and switch to it once
   * complete. Returns whether refill work remains.
   */
  #refillStep(): boolean {
    const pending = this.#sql.pendingRefill.get() as CollectionState | undefined;
    if (pending === undefined) return false;
    const cursor = pending.next_cursor as number;
    const end = pending.next_end as number;
    const docs = this.#sql.refillPage.all(pending.name, cursor, end, this.#batchSize) as Array<{
      seq: number;
      text: string;
    }>;
    const done = docs.length < this.#batchSize;
    this.#index
      .transaction(() => {
        const state = this.#sql.collectionById.get(pending.id) as CollectionState;
        // Another process moved it on (or a rebuild reset it): this chunk is stale.
        if (state.hot_gen !== pending.hot_gen || state.next_cursor !== cursor) return;
        const next = hotTable(state.id, state.hot_gen + 1);
        for (const doc of docs) this.#run(`INSERT INTO ${next} (rowid, text) VALUES (?, ?)`, doc.seq, doc.text);
        state.next_count += docs.length;
        state.next_cursor = docs.at(-1)?.seq ?? end;
        if (done) {
          // The new generation holds every doc from next_floor on, and none before it.
          const evictedThrough = Math.max(0, (state.next_floor as number) - 1);
          this.#index.exec(`DROP TABLE IF EXISTS ${hotTable(state.id, state.hot_gen)}`);
          this.#save({
            ...state,
            ...EMPTY_HOT,
            hot_gen: state.hot_gen + 1,
            hot_count: state.next_count,
            evicted_through: evictedThrough,
          });
        } else {
          this.#save(state);
        }
      })
      .immediate();
    return true;
  }

  #dropHotGenerations(state: CollectionState): void {
    this.#index.exec(`DROP TABLE IF EXISTS ${hotTable(state.id, state.hot_gen)}`);
    this.#index.exec(`DROP TABLE IF EXISTS ${hotTable(state.id, state.hot_gen + 1)}`);
  }

  /**
   * While a backlog is worked through, docs that would leave the hot tier before the backlog
   * ends are never put there (it would double the tokenising work of a catch-up). The floor is
   * the seq of the #hotTarget-th newest doc now; deletes after this point can leave the hot tier
   * a little short, which relevance search tolerates.
   */
  #hotFloor(collection: string, limit: number): number {
    if (!this.#backlog) return 0;
    let floor = this.#hotFloors.get(collection);
    if (floor === undefined) {
      floor = this.#newestFloor(collection, limit, this.#hotTarget);
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
      state.evicted_through,
      state.next_floor,
      state.next_cursor,
      state.next_end,
      state.next_count,
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
  evicted_through: 0,
  next_floor: null,
  next_cursor: null,
  next_end: null,
  next_count: 0,
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
    refillPage: main.prepare(
      'SELECT seq, text FROM docs WHERE collection = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
    ),
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
    setMeta: index.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    deleteMeta: index.prepare('DELETE FROM meta WHERE key = ?'),
    findCollection: index.prepare('SELECT * FROM collections WHERE name = ?'),
    collectionById: index.prepare('SELECT * FROM collections WHERE id = ?'),
    addCollection: index.prepare('INSERT INTO collections (name) VALUES (?)'),
    allCollections: index.prepare('SELECT * FROM collections'),
    pendingRefill: index.prepare('SELECT * FROM collections WHERE next_floor IS NOT NULL ORDER BY id LIMIT 1'),
    saveCollection: index.prepare(
      `UPDATE collections SET hot_gen = ?, hot_count = ?, evicted_through = ?, next_floor = ?, next_cursor = ?,
              next_end = ?, next_count = ? WHERE id = ?`,
    ),
  };
}
