// SPDX-License-Identifier: GPL-3.0-or-later
// The one interface every command is written against. Two implementations: local-backend.ts (the
// SQLite file, through the Store) and remote-backend.ts (a server, through @dualstore/sse-client).
// Every method answers in the HTTP API's wire shape (DESIGN §4, §10), so both modes print the
// same JSON for the same data. Types only: importing this loads nothing.

import type {
  ClaimedItem,
  CollectionInfo,
  CollectionInput,
  CollectionStats,
  Doc,
  DocInput,
  DocStatus,
  RecentPage,
  ReplyInput,
  SearchMode,
  SearchOrder,
  SearchResult,
  Topic,
  TopicInput,
} from '@dualstore/core';

/** Narrowing shared by `query` and `tail`; `filter` is the JSON text as typed (parsed by the store or the server). */
export interface Selector {
  filter?: string;
  topic?: string;
  status?: DocStatus;
  mention?: string;
  tool?: string;
}

export interface RecentRequest extends Selector {
  limit?: number;
  before?: string;
}

export interface SearchRequest {
  q: string;
  k?: number;
  filter?: string;
  mode?: SearchMode;
  order?: SearchOrder;
  /** Read-your-writes: wait (≤ 2 s) until the index covers this feed position. */
  waitFor?: number;
}

export interface ClaimRequest {
  agent: string;
  topic?: string;
  filter?: string;
  leaseMs?: number;
  limit?: number;
  waitMs?: number;
}

/** One line of `tail`: a feed change, or the stream restarting after retention pruned its start. */
export type TailEvent =
  | { event: 'insert' | 'update'; seq: number; doc: Doc }
  | { event: 'delete'; seq: number; deleted: { id: string; seq: number } }
  | { event: 'reset'; requested: number; since: number };

export interface TailRequest extends Selector {
  collections: readonly string[];
  /** A feed seq or an ISO time; absent: from now. */
  since?: number | string;
  /** Stops the stream; `tail` then resolves. */
  signal: AbortSignal;
  onEvent(event: TailEvent): void;
}

/** Everything the commands need, in API shapes. Errors carry the API's `code`. */
export interface Backend {
  readonly mode: 'local' | 'remote';
  listCollections(): Promise<string[]>;
  putCollection(name: string, input: CollectionInput): Promise<CollectionInfo>;
  insert(collection: string, doc: DocInput, idempotencyKey?: string): Promise<{ id: string; seq: number }>;
  get(collection: string, id: string): Promise<Doc>;
  recent(collection: string, request: RecentRequest): Promise<RecentPage>;
  search(collection: string, request: SearchRequest): Promise<SearchResult>;
  /** The newest feed position: what `search` waits for by default. */
  head(collection: string): Promise<number>;
  thread(collection: string, id: string): Promise<{ items: Doc[] }>;
  claim(collection: string, request: ClaimRequest): Promise<{ items: ClaimedItem[] }>;
  complete(collection: string, id: string, token: string): Promise<Doc>;
  fail(collection: string, id: string, request: { token: string; error: string; retryInMs?: number }): Promise<Doc>;
  extend(collection: string, id: string, token: string, leaseMs: number): Promise<Doc>;
  release(collection: string, id: string, token: string): Promise<Doc>;
  /** The reply doc (the original is finished in the same transaction). */
  reply(collection: string, id: string, input: ReplyInput): Promise<Doc>;
  listTopics(): Promise<Topic[]>;
  putTopic(name: string, input: TopicInput): Promise<Topic>;
  /** Throws `not_found` when there is no such topic. */
  deleteTopic(name: string): Promise<void>;
  stats(collection: string): Promise<CollectionStats>;
  /** `olderThan`: a duration (`30d`) or an ISO time, as the API takes it. */
  deleteDocs(collection: string, request: { status?: DocStatus; olderThan?: string }): Promise<{ deleted: number }>;
  /** Follow the change feed until `signal` aborts; rejects on a failure that will not heal. */
  tail(request: TailRequest): Promise<void>;
  close(): Promise<void>;
}
