// SPDX-License-Identifier: GPL-3.0-or-later
// The Store interface: everything the HTTP server, the CLI and the SSE hub need from a backend
// (DESIGN §3–§7). Backends implement it; `@dualstore/core/contract` proves that they do.
// Every method validates its own input and throws DualStoreError with a registry code, so a
// caller that is not the HTTP server (the CLI in local mode) gets the same answers.

import type { Doc, DocInput, DocStatus, ReplyInput } from './doc.js';
import type { Filter } from './filter.js';
import type { NewToken, TokenInfo } from './tokens.js';

export interface InsertOptions {
  /** Scoped to the collection; a repeat with the same body returns the first doc (`created: false`). */
  idempotencyKey?: string;
}

export interface InsertResult {
  id: string;
  seq: number;
  /** False when an idempotency key matched an earlier insert. */
  created: boolean;
}

export interface BatchItem {
  doc: DocInput;
  idempotencyKey?: string;
}

/** Narrowing shared by `recent`, `changes` and streams. All given conditions must hold. */
export interface DocSelector {
  filter?: Filter;
  topic?: string;
  status?: DocStatus;
  /** `@alice` or `alice`; case-insensitive. */
  mention?: string;
  /** A tool name from `tool_calls`. */
  tool?: string;
}

export interface RecentQuery extends DocSelector {
  /** 1..200, defaults to 50. */
  limit?: number;
  /** The `next` of a previous page. */
  before?: string;
}

export interface RecentPage {
  /** Newest first by `seq`. */
  items: Doc[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  next?: string;
  /** The feed position this page reflects: stream from here to miss nothing. */
  cursor: number;
}

export type SearchMode = 'simple' | 'fts';
export type SearchOrder = 'relevance' | 'recent';

export interface SearchQuery {
  q: string;
  /** 1..50, defaults to 8. */
  k?: number;
  filter?: Filter;
  /** Defaults to `simple`: any text is safe. `fts` passes FTS5 syntax through. */
  mode?: SearchMode;
  /** Defaults to `relevance`. */
  order?: SearchOrder;
  /** Wait (≤ 2 s) until the index covers this feed position: read-your-writes. */
  waitFor?: number;
}

export interface SearchHit {
  doc: Doc;
  /** Higher is better. */
  score: number;
  /** A plain-text excerpt of the doc's text around the first match. */
  snippet: string;
}

export interface SearchResult {
  items: SearchHit[];
  /** The feed position the index had reached when the search ran. */
  indexed_through: number;
}

export interface ClaimRequest {
  agent: string;
  topic?: string;
  filter?: Filter;
  /** 100 ms .. 24 h, defaults to 5 min. */
  leaseMs?: number;
  /** 1..100, defaults to 1. */
  limit?: number;
  /** ≤ 30,000: long-poll until work is due. Defaults to 0. */
  waitMs?: number;
  /** Aborts a long-poll early (returns what is claimable then, usually nothing). */
  signal?: AbortSignal;
}

export interface Claim {
  /** The fencing token: complete / fail / extend / release need it. */
  token: string;
  expires_at: string;
}

export interface ClaimedItem {
  doc: Doc;
  claim: Claim;
  /** The topic's system prompt, when the doc has a topic that has one. */
  prompt?: string;
}

export interface FailRequest {
  token: string;
  error: string;
  /** Defaults to exponential backoff: 1 s × 2^(attempts−1), capped at 1 h, with jitter. */
  retryInMs?: number;
}

export interface ReplyResult {
  reply: Doc;
  original: Doc;
}

export type ChangeKind = 'insert' | 'update' | 'delete';

/** One entry of the global change feed. */
export interface Change {
  seq: number;
  kind: ChangeKind;
  collection: string;
  /** When the change was appended (ISO). */
  at: string;
  /** For insert and update: the doc as it was right after this change. Absent for delete. */
  doc?: Doc;
  /** For delete: the deleted doc's id and insertion seq. */
  deleted?: { id: string; seq: number };
}

export interface ChangesQuery extends DocSelector {
  /** Restrict to these collections; all when absent. */
  collections?: readonly string[];
  /** At most this many changes (1..1000, default 1000). */
  limit?: number;
}

export interface ChangesPage {
  changes: Change[];
  /**
   * Resume from here: the position up to which the feed was examined. It can be past the last
   * returned change when later changes did not match the query.
   */
  next: number;
  /** The newest feed position when the page was read. */
  head: number;
  /**
   * The oldest position the store can replay faithfully. A reader behind it missed deletions
   * that were pruned and must reset (SSE `reset` event).
   */
  floor: number;
}

export interface Topic {
  name: string;
  description: string;
  prompt: string;
  created_at: string;
  updated_at: string;
}

export interface TopicInput {
  description?: string;
  prompt?: string;
}

export interface CollectionInfo {
  name: string;
  max_attempts: number;
  retention_days: number;
  created_at: string;
}

export interface CollectionInput {
  max_attempts?: number;
  retention_days?: number;
}

export interface CollectionStats {
  collection: string;
  counts: Record<DocStatus, number>;
  total: number;
  /** The newest feed position that touched this collection (0 when none). */
  last_seq: number;
}

export interface RetentionRequest {
  /** Only docs in this status. */
  status?: DocStatus;
  /** Only docs whose `timestamp` is older than this ISO time. */
  olderThan?: string;
}

/** Called when the feed may have grown; read it with `changes(after)`. */
export type ChangeListener = () => void;

/** The storage contract every backend implements (DESIGN §3–§7). */
export interface Store {
  /** `sqlite` or `postgres`; shown by `/v1/health`. */
  readonly kind: string;

  // Collections
  listCollections(): Promise<string[]>;
  getCollection(name: string): Promise<CollectionInfo | undefined>;
  /** Creates or updates; `created` is true the first time. */
  putCollection(name: string, input?: CollectionInput): Promise<{ collection: CollectionInfo; created: boolean }>;

  // Writes
  insert(collection: string, doc: DocInput, options?: InsertOptions): Promise<InsertResult>;
  /** All or nothing, up to 1000 docs. */
  insertBatch(collection: string, items: readonly BatchItem[]): Promise<InsertResult[]>;

  // Reads
  get(collection: string, id: string): Promise<Doc | undefined>;
  recent(collection: string, query?: RecentQuery): Promise<RecentPage>;
  search(collection: string, query: SearchQuery): Promise<SearchResult>;
  /** Every doc sharing the doc's thread (its correlation id, or its id), oldest first. */
  thread(collection: string, id: string): Promise<Doc[]>;

  // Work queue
  claim(collection: string, request: ClaimRequest): Promise<ClaimedItem[]>;
  complete(collection: string, id: string, token: string): Promise<Doc>;
  fail(collection: string, id: string, request: FailRequest): Promise<Doc>;
  extend(collection: string, id: string, token: string, leaseMs: number): Promise<Doc>;
  release(collection: string, id: string, token: string): Promise<Doc>;
  reply(collection: string, id: string, input: ReplyInput): Promise<ReplyResult>;

  // Change feed
  changes(after: number, query?: ChangesQuery): Promise<ChangesPage>;
  /** The newest feed position. */
  head(): Promise<number>;
  /** The newest feed position appended strictly before `time` (ISO): stream `since=<time>`. */
  seqBefore(time: string): Promise<number>;
  /** Subscribe to "the feed may have grown". Returns the unsubscribe function. */
  watch(listener: ChangeListener): () => void;

  // Topics
  listTopics(): Promise<Topic[]>;
  getTopic(name: string): Promise<Topic | undefined>;
  putTopic(name: string, input: TopicInput): Promise<{ topic: Topic; created: boolean }>;
  deleteTopic(name: string): Promise<boolean>;

  // Access tokens (DESIGN §8). Stores keep only the secret's hash; none of these ever returns a
  // secret or a hash. The server reads them on every request (no cache), so a token created or
  // revoked by the CLI in another process takes effect on the next request.

  /** Store a new scoped token (validated with validateNewToken); its id is generated. */
  createToken(input: NewToken): Promise<TokenInfo>;
  /** Every token, revoked ones included, oldest first. */
  listTokens(): Promise<TokenInfo[]>;
  /** The token whose hash is `hash` (revoked ones included: check `revoked_at`), or undefined. */
  findTokenByHash(hash: string): Promise<TokenInfo | undefined>;
  /**
   * Revoke a token; revoking it again keeps the first `revoked_at`. Returns the token, or
   * undefined when no token has this id.
   */
  revokeToken(id: string): Promise<TokenInfo | undefined>;
  /**
   * True once any token was ever created, revoked ones included: the server then requires
   * authentication, so revoking the last token never reopens the API.
   */
  hasTokens(): Promise<boolean>;

  // Maintenance
  stats(collection: string): Promise<CollectionStats>;
  deleteDocs(collection: string, request: RetentionRequest): Promise<{ deleted: number }>;
  /** Flush, stop background work and release the database. Idempotent. */
  close(): Promise<void>;
}
