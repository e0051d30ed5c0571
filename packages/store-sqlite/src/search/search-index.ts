// SPDX-License-Identifier: GPL-3.0-or-later
// The full-text search projection as the SQLite store sees it (DESIGN §3a.3–5): two worker
// threads over an index file beside the main file. The indexer follows the change feed, so FTS5
// tokenising never holds the main write lock nor the event loop; the searcher answers queries,
// so bm25 over a common word never blocks the event loop and never waits behind an indexing
// batch. This class only passes messages, counts and restarts.

import type { Worker } from 'node:worker_threads';
import { DualStoreError, MAX_SEARCH_WAIT_MS } from '@dualstore/core';
import type {
  FromIndexer,
  FromSearcher,
  IndexerWorkerData,
  SearchAnswer,
  SearchRequest,
  ToIndexer,
  ToSearcher,
} from './protocol.js';
import { startWorker } from './worker-thread.js';

export type { SearchRequest, SearchRowHit } from './protocol.js';
export { MAIN_AUTOCHECKPOINT_PAGES } from './wal-checkpointer.js';

export interface SearchIndexOptions {
  /** The main database file; the workers open it read-only. */
  dbPath: string;
  /** The index file, e.g. `${dbPath}-search`; created when missing. Its own WAL and write lock. */
  indexPath: string;
  /**
   * Newest docs per collection kept in the hot FTS tier at most (it holds between half of this
   * and this many, in two generations). Defaults to 100,000.
   */
  hotTierSize?: number;
  /** Feed changes per indexing transaction while following the feed live. Defaults to 2,000. */
  batchSize?: number;
  /**
   * Changes (or docs, in a build) per indexing transaction at most while catching up; never
   * below batchSize. Defaults to 20,000.
   */
  catchUpBatchSize?: number;
  /**
   * How often the indexer looks at the feed when no `notify` came: what picks up another
   * process's commits. Defaults to 250 ms (DESIGN §3).
   */
  pollMs?: number;
  /**
   * After indexing a live batch the indexer waits this long before reading the feed again, so
   * the commits of a busy store share index transactions: each one otherwise pays its own
   * commit and a new FTS5 segment per table. Adds at most this much to the projection's lag.
   * Defaults to 10 ms (measured: 50 inserting connections went from ~22.8k to ~25.7k req/s and
   * the server's CPU per insert from ~55 to ~46 µs; 5 ms gave ~24.7k, 20 ms ~26k).
   */
  lingerMs?: number;
  /**
   * Told about a worker that failed (the indexer is then restarted with backoff; the searcher on
   * the next search). Defaults to `process.emitWarning`.
   */
  onError?: (error: Error) => void;
}

export const DEFAULT_HOT_TIER_SIZE = 100_000;
export const DEFAULT_BATCH_SIZE = 2000;
export const DEFAULT_CATCH_UP_BATCH_SIZE = 20_000;
export const DEFAULT_POLL_MS = 250;
export const DEFAULT_LINGER_MS = 10;
/** Indexer restarts wait 250 ms × 2^(failures−1), at most this long. */
const MAX_RESTART_DELAY_MS = 30_000;
/** How long close() lets a worker finish its batch before terminating it. */
const CLOSE_GRACE_MS = 5000;

/** A worker and the promise of its exit (an `exit` event fires only once). */
class WorkerHandle<Out> {
  readonly worker: Worker;
  readonly exited: Promise<number>;
  failure: Error | undefined;

  constructor(worker: Worker, onMessage: (message: Out) => void) {
    this.worker = worker;
    worker.on('message', onMessage);
    worker.on('error', (error: unknown) => {
      this.failure = error instanceof Error ? error : new Error(String(error));
    });
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
  }

  /** Ask the worker to finish and exit; terminate it if it does not in time. */
  async stop(): Promise<void> {
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
    try {
      this.worker.postMessage({ type: 'close' });
    } catch {
      // Already gone: `exited` is settled or about to be.
    }
    await this.exited;
    clearTimeout(timer);
  }
}

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

interface Searcher {
  handle: WorkerHandle<FromSearcher>;
  pending: Map<number, Pending<SearchAnswer>>;
  /** Settles when the worker has opened both files (or failed to). */
  ready: Promise<void>;
}

/**
 * The search index of one SQLite store.
 *
 * @example
 * const index = await SearchIndex.open({ dbPath, indexPath: `${dbPath}-search` });
 * index.notify(); // after each commit
 * const { hits } = await index.search({ collection: 'events', q: 'deploy', k: 8, mode: 'simple',
 *   order: 'relevance', filterSql: { sql: '1', params: [] }, waitFor: seq });
 * await index.close();
 */
export class SearchIndex {
  readonly #options: IndexerWorkerData;
  readonly #onError: (error: Error) => void;
  #indexer: WorkerHandle<FromIndexer> | undefined;
  #searcher: Searcher | undefined;
  /** Settles when the first indexer is ready: the index file exists from then on. */
  #indexFileReady: Promise<void> = Promise.resolve();
  #indexedThrough = 0;
  readonly #waiters = new Set<{ seq: number; done: () => void }>();
  readonly #rebuilds = new Map<number, Pending<void>>();
  #nextId = 1;
  #notifyMessages = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;

  private constructor(options: SearchIndexOptions) {
    const hotTierSize = options.hotTierSize ?? DEFAULT_HOT_TIER_SIZE;
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const catchUpBatchSize = options.catchUpBatchSize ?? DEFAULT_CATCH_UP_BATCH_SIZE;
    const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    const lingerMs = options.lingerMs ?? DEFAULT_LINGER_MS;
    if (!Number.isSafeInteger(lingerMs) || lingerMs < 0) {
      throw new RangeError(`lingerMs must be a non-negative integer, got ${lingerMs}`);
    }
    for (const [name, value] of [
      ['pollMs', pollMs],
      ['hotTierSize', hotTierSize],
      ['batchSize', batchSize],
      ['catchUpBatchSize', catchUpBatchSize],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1)
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
    this.#options = {
      dbPath: options.dbPath,
      indexPath: options.indexPath,
      hotTierSize,
      batchSize,
      catchUpBatchSize,
      pollMs,
      lingerMs,
      // Shared with every indexer this index starts: a new one reads the feed first whatever it
      // holds, so a 1 left by a crashed one delays no commit.
      readPending: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
    };
    this.#onError = options.onError ?? ((error) => process.emitWarning(error));
  }

  /** Start both workers; resolves once they are ready, rejects if either cannot start. */
  static async open(options: SearchIndexOptions): Promise<SearchIndex> {
    const index = new SearchIndex(options);
    try {
      // Both threads load at once (from sources that is most of the start-up time); the
      // searcher opens the index file read-only, so it is told to open once the indexer made it.
      const indexer = index.#startIndexer();
      index.#indexFileReady = indexer;
      const searcher = index.#startSearcher();
      await indexer;
      await searcher.ready;
    } catch (error) {
      await index.close();
      throw error;
    }
    return index;
  }

  /** `notify` messages posted to the indexer so far (calls that found one pending post none). */
  get notifyMessages(): number {
    return this.#notifyMessages;
  }

  /** The last feed seq the index covers, as last reported by the indexer. */
  get indexedThrough(): number {
    return this.#indexedThrough;
  }

  /** "The feed may have grown": call after each commit and when another process's is seen. */
  notify(): void {
    if (this.#closing || this.#indexer === undefined) return;
    // Already set: the indexer has a read ahead of it that starts after this commit, so a
    // message would only wake it for nothing (indexer-worker.ts). Atomics order the commit
    // before the flag, and the indexer's clear before its next read.
    if (Atomics.exchange(this.#options.readPending, 0, 1) === 1) return;
    this.#notifyMessages += 1;
    this.#indexer.worker.postMessage({ type: 'notify' } satisfies ToIndexer);
  }

  /** Resolves with indexedThrough once it is >= seq, or when `timeoutMs` has passed. */
  waitForIndexed(seq: number, timeoutMs: number): Promise<number> {
    if (this.#indexedThrough >= seq || this.#closing || !(timeoutMs > 0)) return Promise.resolve(this.#indexedThrough);
    return new Promise((resolve) => {
      const waiter = {
        seq,
        done: () => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(this.#indexedThrough);
        },
      };
      const timer = setTimeout(waiter.done, timeoutMs);
      this.#waiters.add(waiter);
      // Someone is waiting: look at the feed now rather than at the next poll.
      this.notify();
    });
  }

  /**
   * Search one collection. With `waitFor`, first waits (≤ MAX_SEARCH_WAIT_MS) for the index to
   * cover that feed position, then searches anyway.
   * @throws DualStoreError `bad_search_syntax` when FTS5 refuses an `fts`-mode query;
   *   `store_closed` after close().
   */
  async search(request: SearchRequest): Promise<SearchAnswer> {
    if (this.#closing) throw closedError();
    if (request.waitFor !== undefined && this.#indexedThrough < request.waitFor) {
      await this.waitForIndexed(request.waitFor, MAX_SEARCH_WAIT_MS);
    }
    const searcher = this.#startSearcher();
    await searcher.ready;
    if (this.#closing) throw closedError();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      searcher.pending.set(id, { resolve, reject });
      // Keep the process alive while an answer is owed; an idle searcher must not.
      searcher.handle.worker.ref();
      try {
        searcher.handle.worker.postMessage({ type: 'search', id, request } satisfies ToSearcher);
      } catch (error) {
        settle(searcher, id);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Drop the index and build it again from the main file (`dualstore reindex`). */
  rebuild(): Promise<void> {
    if (this.#closing) return Promise.reject(closedError());
    const indexer = this.#indexer;
    if (indexer === undefined) return Promise.reject(new Error('the search indexer is restarting; try again shortly'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#rebuilds.set(id, { resolve, reject });
      indexer.worker.ref();
      indexer.worker.postMessage({ type: 'rebuild', id } satisfies ToIndexer);
    });
  }

  /** Stop both workers (each finishes its current batch or search). Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#restartTimer);
    for (const waiter of [...this.#waiters]) waiter.done();
    this.#failRebuilds(closedError());
    const stopping: Array<Promise<void>> = [];
    if (this.#indexer !== undefined) stopping.push(this.#indexer.stop());
    if (this.#searcher !== undefined) stopping.push(this.#searcher.handle.stop());
    await Promise.all(stopping);
  }

  #setIndexedThrough(seq: number): void {
    this.#indexedThrough = seq;
    for (const waiter of [...this.#waiters]) if (waiter.seq <= seq) waiter.done();
  }

  #startIndexer(): Promise<void> {
    return new Promise((resolve, reject) => {
      let ready = false;
      const handle = new WorkerHandle<FromIndexer>(startWorker('indexer-worker', this.#options), (message) => {
        if (message.type === 'ready') {
          ready = true;
          // Indexing is background work: it must not keep a process alive that is otherwise
          // done. (Until ready it must, or an `await open()` could find the loop empty.)
          if (this.#rebuilds.size === 0) handle.worker.unref();
          this.#setIndexedThrough(message.indexedThrough);
          resolve();
          return;
        }
        // A batch went through: whatever made the last worker fail is behind us.
        this.#failures = 0;
        this.#setIndexedThrough(message.indexedThrough);
        if (message.type === 'rebuilt') {
          for (const id of message.ids) {
            this.#rebuilds.get(id)?.resolve();
            this.#rebuilds.delete(id);
          }
          if (this.#rebuilds.size === 0) handle.worker.unref();
        }
      });
      this.#indexer = handle;
      void handle.exited.then((code) => {
        if (this.#indexer === handle) this.#indexer = undefined;
        const error = handle.failure ?? new Error(`the search indexer stopped unexpectedly (exit code ${code})`);
        if (!ready) {
          reject(error);
          return;
        }
        if (this.#closing) return;
        this.#onError(error);
        this.#failRebuilds(error);
        this.#scheduleRestart();
      });
    });
  }

  #scheduleRestart(): void {
    this.#failures += 1;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 250 * 2 ** (this.#failures - 1));
    this.#restartTimer = setTimeout(() => {
      if (this.#closing) return;
      this.#startIndexer().catch((error: unknown) => {
        if (this.#closing) return;
        this.#onError(error instanceof Error ? error : new Error(String(error)));
        this.#scheduleRestart();
      });
    }, delay);
    this.#restartTimer.unref();
  }

  #failRebuilds(error: Error): void {
    for (const pending of this.#rebuilds.values()) pending.reject(error);
    this.#rebuilds.clear();
  }

  /** The running searcher, started (again) on demand: a crashed one is replaced by the next search. */
  #startSearcher(): Searcher {
    if (this.#searcher !== undefined) return this.#searcher;
    let opened = false;
    let markReady: () => void = () => undefined;
    let failReady: (error: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    // A failed start is reported to whoever awaits `ready`; the next search tries again.
    ready.catch(() => undefined);
    const searcher: Searcher = {
      handle: new WorkerHandle<FromSearcher>(
        startWorker('searcher-worker', { dbPath: this.#options.dbPath, indexPath: this.#options.indexPath }),
        (message) => {
          if (message.type === 'ready') {
            opened = true;
            if (searcher.pending.size === 0) searcher.handle.worker.unref();
            markReady();
            return;
          }
          const pending = settle(searcher, message.id);
          if (pending === undefined) return;
          if (message.type === 'result') {
            pending.resolve({ hits: message.hits, indexed_through: message.indexed_through });
          } else if (message.code === 'bad_search_syntax') {
            pending.reject(new DualStoreError('bad_search_syntax', message.message));
          } else {
            pending.reject(new Error(`search failed: ${message.message}`));
          }
        },
      ),
      pending: new Map(),
      ready,
    };
    this.#searcher = searcher;
    this.#indexFileReady.then(
      () => searcher.handle.worker.postMessage({ type: 'open' } satisfies ToSearcher),
      // open() is failing already and will stop this worker.
      () => undefined,
    );
    void searcher.handle.exited.then((code) => {
      if (this.#searcher === searcher) this.#searcher = undefined;
      const error = this.#closing
        ? closedError()
        : (searcher.handle.failure ?? new Error(`the search worker stopped unexpectedly (exit code ${code})`));
      for (const pending of searcher.pending.values()) pending.reject(error);
      searcher.pending.clear();
      failReady(error);
      if (opened && !this.#closing) this.#onError(error);
    });
    return searcher;
  }
}

function settle(searcher: Searcher, id: number): Pending<SearchAnswer> | undefined {
  const pending = searcher.pending.get(id);
  searcher.pending.delete(id);
  if (searcher.pending.size === 0) searcher.handle.worker.unref();
  return pending;
}

function closedError(): DualStoreError {
  return new DualStoreError('store_closed', 'the search index is closed');
}
