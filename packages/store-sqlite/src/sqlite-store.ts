// SPDX-License-Identifier: GPL-3.0-or-later
// The embedded SQLite store: one file (plus the search index beside it), WAL, group commit,
// the change feed, claims in IMMEDIATE transactions, and FTS5 search as a projection of the
// feed maintained off the event loop (DESIGN §3a).

import {
  type BatchItem,
  type ChangeListener,
  type ChangesPage,
  type ChangesQuery,
  type ClaimedItem,
  type ClaimRequest,
  type CollectionInfo,
  type CollectionInput,
  type CollectionStats,
  checkCollectionInput,
  checkCollectionName,
  checkFailError,
  checkIdempotencyKey,
  checkInt,
  checkLeaseMs,
  checkToken,
  checkTopicInput,
  checkTopicName,
  DEFAULT_COLLECTIONS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_RETENTION_DAYS,
  type Doc,
  type DocInput,
  type DocStatus,
  DualStoreError,
  type FailRequest,
  type InsertOptions,
  type InsertResult,
  isCollectionName,
  MAX_BATCH_ITEMS,
  MAX_RETRY_IN_MS,
  MAX_SEARCH_WAIT_MS,
  type NewToken,
  normalizeClaimRequest,
  normalizeRecentQuery,
  normalizeRetention,
  normalizeSearchQuery,
  normalizeTimestamp,
  type RecentPage,
  type RecentQuery,
  type ReplyInput,
  type ReplyResult,
  type RetentionRequest,
  type SearchQuery,
  type SearchResult,
  type Store,
  type TokenInfo,
  type Topic,
  type TopicInput,
  toIso,
  validateDocInput,
  validateReplyInput,
} from '@dualstore/core';
import type Database from 'better-sqlite3';
import { ChangeNotifier } from './change-notifier.js';
import { Claims } from './claims.js';
import { type Durability, openConnection } from './connection.js';
import { type DocRow, rowToDoc } from './doc-row.js';
import { DocWriter } from './doc-writer.js';
import { Feed } from './feed.js';
import { compileFilter } from './filter-sql.js';
import { GroupCommit } from './group-commit.js';
import { migrate } from './migrations.js';
import type { SearchIndex } from './search/search-index.js';
import { StatementCache } from './statement-cache.js';
import { Tokens } from './tokens.js';

export interface SqliteStoreOptions {
  /** Path of the database file; created when missing. The search index lives at `${path}-search`. */
  path: string;
  /** Defaults to `normal` (see Durability). */
  durability?: Durability;
  /** Collections created on open when missing. Defaults to DEFAULT_COLLECTIONS. */
  collections?: readonly string[];
  /** Maintain the full-text index (a worker thread). Defaults to true. */
  search?: boolean | { hotTierSize?: number; indexPath?: string };
  /** How often another process's commits are looked for. Defaults to 100 ms (DESIGN: ≤ 250 ms). */
  pollIntervalMs?: number;
  /** Defaults to 5000 ms. */
  busyTimeoutMs?: number;
  /** The clock for leases, delays and timestamps; tests inject one. Defaults to Date.now. */
  now?: () => number;
}

const RETENTION_BATCH = 1000;
/** Feed seqs examined per transaction when compacting after a retention delete. */
const COMPACTION_CHUNK = 20_000;

/**
 * Open (creating and migrating as needed) a SQLite store.
 *
 * @example
 * const store = await openSqliteStore({ path: './dualstore.sqlite' });
 * const { id } = await store.insert('events', { text: 'hello @alice' });
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const db = openConnection(options.path, {
    durability: options.durability ?? 'normal',
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
  });
  try {
    migrate(db);
    const now = options.now ?? Date.now;
    const createdAt = toIso(now());
    const wanted = options.collections ?? DEFAULT_COLLECTIONS;
    for (const name of wanted) {
      if (!isCollectionName(name)) throw new DualStoreError('invalid_name', `"${name}" is not a valid collection name`);
    }
    // Read first: a CLI process opens the file for every command, and taking the write lock just
    // to find every collection already there would queue it behind a busy server's writes.
    const existing = new Set(db.prepare('SELECT name FROM collections').pluck().all() as string[]);
    if (wanted.some((name) => !existing.has(name))) {
      const ensure = db.prepare(
        'INSERT OR IGNORE INTO collections (name, max_attempts, retention_days, created_at) VALUES (?, ?, ?, ?)',
      );
      db.transaction(() => {
        for (const name of wanted) ensure.run(name, DEFAULT_MAX_ATTEMPTS, DEFAULT_RETENTION_DAYS, createdAt);
      }).immediate();
    }
    let search: SearchIndex | undefined;
    if (options.search !== false) {
      const searchOptions = typeof options.search === 'object' ? options.search : {};
      // Loaded only when wanted: a short-lived CLI `push` opens the store without search and
      // should not pay for loading (or starting) the index workers.
      const { SearchIndex, MAIN_AUTOCHECKPOINT_PAGES } = await import('./search/search-index.js');
      search = await SearchIndex.open({
        dbPath: options.path,
        indexPath: searchOptions.indexPath ?? `${options.path}-search`,
        ...(searchOptions.hotTierSize === undefined ? {} : { hotTierSize: searchOptions.hotTierSize }),
      });
      // The indexer thread checkpoints the WAL from now on; this connection only as a backstop.
      db.pragma(`wal_autocheckpoint = ${MAIN_AUTOCHECKPOINT_PAGES}`);
    }
    return new SqliteStore(db, { now, search, pollIntervalMs: options.pollIntervalMs ?? 100 });
  } catch (error) {
    db.close();
    throw error;
  }
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;
  readonly #now: () => number;
  readonly #feed: Feed;
  readonly #writer: DocWriter;
  readonly #claims: Claims;
  readonly #commits: GroupCommit;
  readonly #notifier: ChangeNotifier;
  readonly #search: SearchIndex | undefined;
  readonly #totalChanges: Database.Statement;
  readonly #statements: StatementCache;
  readonly #tokens: Tokens;
  #closed: Promise<void> | undefined;

  /** Use openSqliteStore. */
  constructor(
    db: Database.Database,
    context: { now: () => number; search: SearchIndex | undefined; pollIntervalMs: number },
  ) {
    this.#db = db;
    this.#now = context.now;
    this.#search = context.search;
    this.#feed = new Feed(db);
    this.#writer = new DocWriter(db, this.#feed);
    this.#claims = new Claims(db, this.#writer);
    this.#notifier = new ChangeNotifier(db, context.pollIntervalMs, () => this.#search?.notify());
    this.#commits = new GroupCommit(
      db,
      () => {
        this.#search?.notify();
        this.#notifier.emit();
      },
      () => {
        this.#feed.resetSequence();
        this.#writer.resetCache();
      },
    );
    this.#notifier.start();
    this.#totalChanges = db.prepare('SELECT total_changes()').pluck();
    this.#statements = new StatementCache(db);
    this.#tokens = new Tokens(this.#statements, (operation) => this.#commits.run(operation), this.#now);
  }

  /** Committed write transactions and the operations they carried (group commit shares one). */
  get writeStats(): { transactions: number; operations: number } {
    return this.#commits.stats;
  }

  /** The underlying connection, for tests and maintenance tools. */
  get database(): Database.Database {
    return this.#db;
  }

  #assertOpen(): void {
    if (this.#closed !== undefined) throw new DualStoreError('store_closed');
  }

  #collection(name: string): void {
    this.#assertOpen();
    this.#writer.collectionDefaults(checkCollectionName(name));
  }

  // Collections

  async listCollections(): Promise<string[]> {
    this.#assertOpen();
    return (this.#statements.get('SELECT name FROM collections ORDER BY name').all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
  }

  async getCollection(name: string): Promise<CollectionInfo | undefined> {
    this.#assertOpen();
    return this.#statements.get('SELECT * FROM collections WHERE name = ?').get(name) as CollectionInfo | undefined;
  }

  async putCollection(
    name: string,
    input: CollectionInput = {},
  ): Promise<{ collection: CollectionInfo; created: boolean }> {
    this.#assertOpen();
    checkCollectionName(name);
    checkCollectionInput(input);
    return this.#commits.run(() => {
      const existing = this.#statements.get('SELECT * FROM collections WHERE name = ?').get(name) as
        | CollectionInfo
        | undefined;
      const next: CollectionInfo = {
        name,
        max_attempts: input.max_attempts ?? existing?.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
        retention_days: input.retention_days ?? existing?.retention_days ?? DEFAULT_RETENTION_DAYS,
        created_at: existing?.created_at ?? toIso(this.#now()),
      };
      this.#statements
        .get(
          `INSERT INTO collections (name, max_attempts, retention_days, created_at) VALUES (@name, @max_attempts, @retention_days, @created_at)
           ON CONFLICT (name) DO UPDATE SET max_attempts = excluded.max_attempts, retention_days = excluded.retention_days`,
        )
        .run(next);
      this.#writer.resetCache();
      return { collection: next, created: existing === undefined };
    });
  }

  // Writes

  async insert(collection: string, doc: DocInput, options: InsertOptions = {}): Promise<InsertResult> {
    this.#collection(collection);
    const input = validateDocInput(doc);
    const key = checkIdempotencyKey(options.idempotencyKey);
    return this.#commits.run(() => this.#writer.insert(collection, { input, idempotencyKey: key }, this.#now()));
  }

  async insertBatch(collection: string, items: readonly BatchItem[]): Promise<InsertResult[]> {
    this.#collection(collection);
    if (!Array.isArray(items) || items.length === 0 || items.length > MAX_BATCH_ITEMS) {
      throw new DualStoreError(
        'out_of_range',
        `a batch holds 1..${MAX_BATCH_ITEMS} docs, got ${Array.isArray(items) ? items.length : 'no array'}`,
      );
    }
    const valid = items.map((item, i) => {
      try {
        return { input: validateDocInput(item.doc), idempotencyKey: checkIdempotencyKey(item.idempotencyKey) };
      } catch (error) {
        if (error instanceof DualStoreError) {
          throw new DualStoreError(error.code, `items[${i}]: ${error.message}`, {
            errors: error.errors?.map((e) => ({ path: `items.${i}.${e.path}`, message: e.message })) ?? [],
          });
        }
        throw error;
      }
    });
    const ids = new Set<string>();
    for (const item of valid) {
      if (item.input.id === undefined) continue;
      if (ids.has(item.input.id))
        throw new DualStoreError('id_conflict', `id "${item.input.id}" appears twice in the batch`);
      ids.add(item.input.id);
    }
    // One savepoint for the whole batch: all or nothing.
    return this.#commits.run(() => {
      const now = this.#now();
      return valid.map((item) => this.#writer.insert(collection, item, now));
    });
  }

  // Reads

  async get(collection: string, id: string): Promise<Doc | undefined> {
    this.#collection(collection);
    if (typeof id !== 'string') return undefined;
    const row = this.#writer.find(collection, id);
    return row === undefined ? undefined : rowToDoc(row);
  }

  async recent(collection: string, query: RecentQuery = {}): Promise<RecentPage> {
    this.#collection(collection);
    const q = normalizeRecentQuery(query);
    const limit = q.limit;
    const where = ['d.collection = ?'];
    const params: unknown[] = [collection];
    if (q.before !== undefined) {
      where.push('d.seq < ?');
      params.push(q.before);
    }
    if (q.topic !== undefined) {
      where.push('d.topic = ?');
      params.push(q.topic);
    }
    if (q.status !== undefined) {
      where.push('d.status = ?');
      params.push(q.status);
    }
    if (q.mention !== undefined) {
      where.push('d.seq IN (SELECT doc_seq FROM doc_mentions WHERE collection = ? AND name = ?)');
      params.push(collection, q.mention);
    }
    if (q.tool !== undefined) {
      where.push('d.seq IN (SELECT doc_seq FROM doc_tools WHERE collection = ? AND name = ?)');
      params.push(collection, q.tool);
    }
    if (q.filter !== undefined) {
      const compiled = compileFilter(q.filter, 'd');
      where.push(`(${compiled.sql})`);
      params.push(...compiled.params);
    }
    // The cursor is read by the same statement (one snapshot) so the page and the feed position
    // agree without a transaction; the limit is a literal (validated 1..201) because a bound
    // LIMIT made SQLite's ORDER BY … LIMIT several times slower (see docs/decisions.md).
    const sql = `SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'changes') AS page_cursor, d.* FROM docs d
      WHERE ${where.join(' AND ')} ORDER BY d.seq DESC LIMIT ${limit + 1}`;
    const statement = this.#statements.get(sql);
    let rows = statement.all(...params) as Array<DocRow & { page_cursor: number | null }>;
    let cursor = rows[0]?.page_cursor;
    if (cursor === undefined) {
      // An empty page carries no cursor column: read both in one read transaction instead.
      [rows, cursor] = this.#db.transaction(() => [statement.all(...params), this.#feed.head()] as const)() as [
        typeof rows,
        number,
      ];
    }
    const items = rows.slice(0, limit).map((row) => rowToDoc(row));
    const page: RecentPage = { items, cursor: cursor ?? 0 };
    const last = items.at(-1);
    if (rows.length > limit && last !== undefined) page.next = String(last.seq);
    return page;
  }

  async search(collection: string, query: SearchQuery): Promise<SearchResult> {
    this.#collection(collection);
    if (this.#search === undefined)
      throw new DualStoreError('internal_error', 'this store was opened with search disabled');
    const q = normalizeSearchQuery(query);
    const filterSql = q.filter === undefined ? { sql: '1', params: [] } : compileFilter(q.filter, 'docs');
    const result = await this.#search.search({
      collection,
      q: q.q,
      k: q.k,
      mode: q.mode,
      order: q.order,
      filterSql,
      ...(q.waitFor === undefined ? {} : { waitFor: Math.min(q.waitFor, this.#feed.head()) }),
    });
    return {
      items: result.hits.map((hit) => ({
        doc: rowToDoc(hit.row as unknown as DocRow),
        score: hit.score,
        snippet: hit.snippet,
      })),
      indexed_through: result.indexed_through,
    };
  }

  /** Wait (at most `timeoutMs`, capped at 2 s) until search covers `seq`; returns how far it does. */
  async waitForIndexed(seq: number, timeoutMs = MAX_SEARCH_WAIT_MS): Promise<number> {
    if (this.#search === undefined) return 0;
    return this.#search.waitForIndexed(seq, Math.min(timeoutMs, MAX_SEARCH_WAIT_MS));
  }

  /** Drop and rebuild the full-text index from the feed (`dualstore reindex`). */
  async reindex(): Promise<void> {
    await this.#search?.rebuild();
  }

  async thread(collection: string, id: string): Promise<Doc[]> {
    this.#collection(collection);
    const doc = this.#writer.find(collection, id);
    if (doc === undefined) throw new DualStoreError('not_found', `no doc "${id}" in "${collection}"`);
    const root = doc.correlation_id ?? doc.id;
    const rows = this.#statements
      .get('SELECT * FROM docs WHERE collection = ? AND (correlation_id = ? OR id = ?) ORDER BY seq')
      .all(collection, root, root) as DocRow[];
    return rows.map((row) => rowToDoc(row));
  }

  // Work queue

  async claim(collection: string, request: ClaimRequest): Promise<ClaimedItem[]> {
    this.#collection(collection);
    const params = normalizeClaimRequest(request);
    const waitMs = params.waitMs;
    const deadline = performance.now() + waitMs;
    for (;;) {
      let mark = 0;
      const items = await this.#commits.run(() => {
        const claimed = this.#claims.claim(collection, params, this.#now());
        mark = this.#writeMark();
        return claimed;
      });
      const remaining = deadline - performance.now();
      if (items.length > 0 || remaining <= 0 || request.signal?.aborted || this.#closed !== undefined) return items;
      await this.#waitForWork(collection, remaining, mark, request.signal);
    }
  }

  /**
   * Changes when anything is written after the moment it is read: rows changed through this
   * connection plus commits seen from other processes. A long-poll compares marks so that a
   * write landing between its empty claim and its watch registration is not missed.
   */
  #writeMark(): number {
    return (this.#totalChanges.get() as number) + this.#notifier.foreignCommits;
  }

  /** Resolve on the next feed change, when the next delayed doc or lease comes due, or after `ms`. */
  #waitForWork(collection: string, ms: number, mark: number, signal: AbortSignal | undefined): Promise<void> {
    const due = this.#statements
      .get(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(available_at) AS t FROM docs WHERE collection = ? AND status = 'pending' AND available_at IS NOT NULL
           UNION ALL
           SELECT MIN(lease_expires_at) FROM docs WHERE collection = ? AND status = 'processing')`,
      )
      .get(collection, collection) as { t: string | null };
    const dueIn = due.t === null ? ms : Math.max(1, Date.parse(due.t) - this.#now());
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unwatch();
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(ms, dueIn));
      const unwatch = this.#notifier.watch(done);
      signal?.addEventListener('abort', done, { once: true });
      if (this.#writeMark() !== mark) done();
    });
  }

  async complete(collection: string, id: string, token: string): Promise<Doc> {
    this.#collection(collection);
    checkToken(token);
    return rowToDoc(await this.#commits.run(() => this.#claims.complete(collection, id, token, this.#now())));
  }

  async fail(collection: string, id: string, request: FailRequest): Promise<Doc> {
    this.#collection(collection);
    checkToken(request.token);
    checkFailError(request.error);
    checkInt('retry_in_ms', request.retryInMs, 0, MAX_RETRY_IN_MS);
    return rowToDoc(
      await this.#commits.run(() =>
        this.#claims.fail(collection, id, request.token, request.error, request.retryInMs, this.#now()),
      ),
    );
  }

  async extend(collection: string, id: string, token: string, leaseMs: number): Promise<Doc> {
    this.#collection(collection);
    checkToken(token);
    checkLeaseMs(leaseMs);
    return rowToDoc(await this.#commits.run(() => this.#claims.extend(collection, id, token, leaseMs, this.#now())));
  }

  async release(collection: string, id: string, token: string): Promise<Doc> {
    this.#collection(collection);
    checkToken(token);
    return rowToDoc(await this.#commits.run(() => this.#claims.release(collection, id, token, this.#now())));
  }

  async reply(collection: string, id: string, input: ReplyInput): Promise<ReplyResult> {
    this.#collection(collection);
    const valid = validateReplyInput(input);
    const result = await this.#commits.run(() => this.#claims.reply(collection, id, valid, this.#now()));
    return { reply: rowToDoc(result.reply), original: rowToDoc(result.original) };
  }

  // Change feed

  async changes(after: number, query: ChangesQuery = {}): Promise<ChangesPage> {
    this.#assertOpen();
    return this.#feed.read(after, query);
  }

  async head(): Promise<number> {
    this.#assertOpen();
    return this.#feed.head();
  }

  async seqBefore(time: string): Promise<number> {
    this.#assertOpen();
    const iso = normalizeTimestamp(time);
    if (iso === undefined) throw new DualStoreError('bad_cursor', 'expected an ISO 8601 time');
    return this.#feed.seqBefore(iso);
  }

  watch(listener: ChangeListener): () => void {
    return this.#notifier.watch(listener);
  }

  /** Look for another process's commits now (instead of waiting for the next poll). */
  pollForeignCommits(): boolean {
    return this.#notifier.poll();
  }

  // Topics

  async listTopics(): Promise<Topic[]> {
    this.#assertOpen();
    return this.#statements.get('SELECT * FROM topics ORDER BY name').all() as Topic[];
  }

  async getTopic(name: string): Promise<Topic | undefined> {
    this.#assertOpen();
    return this.#statements.get('SELECT * FROM topics WHERE name = ?').get(name) as Topic | undefined;
  }

  async putTopic(name: string, input: TopicInput): Promise<{ topic: Topic; created: boolean }> {
    this.#assertOpen();
    checkTopicName(name);
    checkTopicInput(input);
    return this.#commits.run(() => {
      const existing = this.#statements.get('SELECT * FROM topics WHERE name = ?').get(name) as Topic | undefined;
      const at = toIso(this.#now());
      const topic: Topic = {
        name,
        description: input.description ?? existing?.description ?? '',
        prompt: input.prompt ?? existing?.prompt ?? '',
        created_at: existing?.created_at ?? at,
        updated_at: at,
      };
      this.#statements
        .get(
          `INSERT INTO topics (name, description, prompt, created_at, updated_at) VALUES (@name, @description, @prompt, @created_at, @updated_at)
           ON CONFLICT (name) DO UPDATE SET description = excluded.description, prompt = excluded.prompt, updated_at = excluded.updated_at`,
        )
        .run(topic);
      return { topic, created: existing === undefined };
    });
  }

  async deleteTopic(name: string): Promise<boolean> {
    this.#assertOpen();
    return this.#commits.run(() => this.#statements.get('DELETE FROM topics WHERE name = ?').run(name).changes > 0);
  }

  // Access tokens

  async createToken(input: NewToken): Promise<TokenInfo> {
    this.#assertOpen();
    return this.#tokens.create(input);
  }

  async listTokens(): Promise<TokenInfo[]> {
    this.#assertOpen();
    return this.#tokens.list();
  }

  async findTokenByHash(hash: string): Promise<TokenInfo | undefined> {
    this.#assertOpen();
    return this.#tokens.findByHash(hash);
  }

  async revokeToken(id: string): Promise<TokenInfo | undefined> {
    this.#assertOpen();
    return this.#tokens.revoke(id);
  }

  async hasTokens(): Promise<boolean> {
    this.#assertOpen();
    return this.#tokens.any();
  }

  // Maintenance

  async stats(collection: string): Promise<CollectionStats> {
    this.#collection(collection);
    return this.#db.transaction((): CollectionStats => {
      const counts: Record<DocStatus, number> = { pending: 0, processing: 0, completed: 0, failed: 0 };
      const rows = this.#statements
        .get('SELECT status, COUNT(*) AS n FROM docs WHERE collection = ? GROUP BY status')
        .all(collection) as Array<{ status: DocStatus; n: number }>;
      for (const row of rows) counts[row.status] = row.n;
      const last = this.#statements.get('SELECT MAX(seq) AS seq FROM changes WHERE collection = ?').get(collection) as {
        seq: number | null;
      };
      return { collection, counts, total: rows.reduce((sum, row) => sum + row.n, 0), last_seq: last.seq ?? 0 };
    })();
  }

  /**
   * Retention: delete matching docs in batches (one transaction each, so writers are not held
   * off for long). Each deletion is a `delete` feed entry. The deleted docs' earlier
   * insert/update entries are then compacted away in one pass over the feed after the oldest
   * deleted doc (the feed replays to the same final state; readers skip such entries meanwhile)
   * — a pass per retention run rather than an index on `changes.doc_seq` that every write would
   * maintain. Delete entries older than the cutoff are pruned, which raises the feed floor.
   */
  async deleteDocs(collection: string, request: RetentionRequest): Promise<{ deleted: number }> {
    this.#collection(collection);
    const { status, cutoff } = normalizeRetention(request);
    const where = ['collection = ?'];
    const params: unknown[] = [collection];
    if (status !== undefined) {
      where.push('status = ?');
      params.push(status);
    }
    if (cutoff !== undefined) {
      where.push('timestamp < ?');
      params.push(cutoff);
    }
    const select = this.#statements.get(
      `SELECT seq, id FROM docs WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ${RETENTION_BATCH}`,
    );
    const deleteDoc = this.#statements.get('DELETE FROM docs WHERE seq = ?');
    const deleteMentions = this.#statements.get('DELETE FROM doc_mentions WHERE doc_seq = ?');
    const deleteTools = this.#statements.get('DELETE FROM doc_tools WHERE doc_seq = ?');
    let deleted = 0;
    let oldestDeleted = Number.POSITIVE_INFINITY;
    for (;;) {
      const count = await this.#commits.run(() => {
        const rows = select.all(...params) as Array<{ seq: number; id: string }>;
        const at = toIso(this.#now());
        for (const row of rows) {
          deleteDoc.run(row.seq);
          deleteMentions.run(row.seq);
          deleteTools.run(row.seq);
          if (row.seq < oldestDeleted) oldestDeleted = row.seq;
          this.#feed.append('delete', collection, row.id, at, null, row.seq);
        }
        return rows.length;
      });
      deleted += count;
      if (count < RETENTION_BATCH) break;
    }
    if (deleted > 0) await this.#compactFeed(oldestDeleted);
    if (cutoff !== undefined) {
      const pruneBefore = cutoff;
      await this.#commits.run(() => {
        const pruned = this.#statements
          .get("SELECT MAX(seq) AS seq FROM changes WHERE kind = 'delete' AND collection = ? AND at < ?")
          .get(collection, pruneBefore) as { seq: number | null };
        if (pruned.seq === null) return;
        this.#statements
          .get("DELETE FROM changes WHERE kind = 'delete' AND collection = ? AND seq <= ?")
          .run(collection, pruned.seq);
        if (pruned.seq > this.#feed.floor()) this.#feed.setFloor(pruned.seq);
      });
    }
    return { deleted };
  }

  /** Drop insert/update entries of docs that no longer exist, from `fromSeq` on, in bounded chunks. */
  async #compactFeed(fromSeq: number): Promise<void> {
    const compact = this.#statements.get(
      `DELETE FROM changes WHERE seq >= ? AND seq < ? AND kind IN ('insert', 'update')
          AND NOT EXISTS (SELECT 1 FROM docs WHERE docs.seq = changes.doc_seq)`,
    );
    const head = this.#feed.head();
    for (let from = fromSeq; from <= head; from += COMPACTION_CHUNK) {
      const to = from + COMPACTION_CHUNK;
      await this.#commits.run(() => compact.run(from, to));
    }
  }

  async close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#commits.close();
      this.#notifier.stop();
      await this.#search?.close();
      try {
        this.#db.pragma('optimize');
      } catch {
        // Optimisation is best effort; closing must not fail because of it.
      }
      this.#db.close();
    })();
    return this.#closed;
  }
}
