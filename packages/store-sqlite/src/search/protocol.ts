// SPDX-License-Identifier: GPL-3.0-or-later
// Shapes shared by the main thread and the two search worker threads. The workers load it
// without the workspace's source condition, so it must not import @dualstore/core.

export type SearchMode = 'simple' | 'fts';
export type SearchOrder = 'relevance' | 'recent';

/** One search, as the store hands it to the search index. */
export interface SearchRequest {
  collection: string;
  q: string;
  /** Hits wanted; the store validates 1..50. */
  k: number;
  mode: SearchMode;
  order: SearchOrder;
  /**
   * A WHERE fragment over table alias `docs` of the main file with positional `?` parameters,
   * compiled by the store from a validated filter (`{ sql: '1', params: [] }` when none).
   * Parameters must be structured-cloneable (strings, numbers, bigints, null).
   */
  filterSql: { sql: string; params: unknown[] };
  /** A feed seq: wait up to MAX_SEARCH_WAIT_MS for the index to cover it, then search anyway. */
  waitFor?: number;
}

export interface SearchRowHit {
  /** The raw `docs` row (`SELECT docs.*`); the store maps it to a Doc. */
  row: Record<string, unknown>;
  /** Higher is better (negated bm25). */
  score: number;
  /** Plain text around the first match. */
  snippet: string;
}

export interface SearchAnswer {
  hits: SearchRowHit[];
  /** The feed position the index covered, read in the same transaction as the search. */
  indexed_through: number;
}

export interface IndexerOptions {
  dbPath: string;
  indexPath: string;
  hotTierSize: number;
  batchSize: number;
  /** Changes or docs per transaction at most while working through a backlog or a build. */
  catchUpBatchSize: number;
}

/** What the indexer worker starts with. */
export interface IndexerWorkerData extends IndexerOptions {
  /** Feed check without a notify (another process's commits), in ms. */
  pollMs: number;
  /** Pause after a live batch before reading the feed again, in ms (SearchIndexOptions.lingerMs). */
  lingerMs: number;
  /**
   * One Int32 shared with the main thread, 1 while a feed read is still ahead of the indexer
   * (see the protocol in indexer-worker.ts). The main thread posts `notify` only when it finds
   * 0: a postMessage per group commit was ~3% of the server's time under 50 inserting
   * connections (measured); a busy indexer keeps reading and is posted nothing.
   */
  readPending: Int32Array;
}

export interface SearcherOptions {
  dbPath: string;
  indexPath: string;
}

export type ToIndexer = { type: 'notify' } | { type: 'rebuild'; id: number } | { type: 'close' };

export type FromIndexer =
  | { type: 'ready'; indexedThrough: number }
  | { type: 'progress'; indexedThrough: number }
  /** The rebuilds with these ids have finished. */
  | { type: 'rebuilt'; ids: number[]; indexedThrough: number };

/** `open` comes once the index file exists (the searcher loads in parallel with the indexer). */
export type ToSearcher = { type: 'open' } | { type: 'search'; id: number; request: SearchRequest } | { type: 'close' };

export type FromSearcher =
  | { type: 'ready' }
  | ({ type: 'result'; id: number } & SearchAnswer)
  /** `bad_search_syntax` for a query FTS5 refused; `internal` for anything else (a bug). */
  | { type: 'error'; id: number; code: 'bad_search_syntax' | 'internal'; message: string };

/**
 * An error that survives the trip to the main thread: a worker's uncaught error is cloned, and
 * only a plain Error keeps its message that way (better-sqlite3's SqliteError arrives without
 * its `code`), so the code goes into the message.
 */
export function toPlainError(error: unknown): Error {
  if (error instanceof Error && Object.getPrototypeOf(error) === Error.prototype) return error;
  if (!(error instanceof Error)) return new Error(String(error));
  const code = (error as { code?: unknown }).code;
  const plain = new Error(typeof code === 'string' ? `${code}: ${error.message}` : `${error.name}: ${error.message}`);
  if (error.stack !== undefined) plain.stack = `${plain.message}\n${error.stack.split('\n').slice(1).join('\n')}`;
  return plain;
}
