// SPDX-License-Identifier: GPL-3.0-or-later
// createClient(): one typed method per REST route of DESIGN §4, plus the higher-level pieces
// (subscribe, worker, ask) that are built on them. Each method is a thin mapping from camelCase
// options to the route's wire shape; the answer is the route's JSON body, unchanged.

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
import { type AskOptions, askReply } from './ask.js';
import { type FilterInput, openSubscription, type SubscribeOptions, type Subscription } from './stream.js';
import { type CallOptions, type FetchLike, Transport } from './transport.js';
import { runWorker, type WorkerHandle, type WorkerHandler, type WorkerOptions } from './worker.js';

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The server, e.g. `http://127.0.0.1:4261` (no `/v1`). */
  baseUrl: string;
  /** A bearer token (AUTH_TOKEN or a scoped token). Defaults to none: an open local server. */
  token?: string;
  /** Defaults to `globalThis.fetch`. */
  fetch?: FetchLike;
}

/** `GET /v1/health`. */
export interface Health {
  ok: boolean;
  collections: string[];
  store: string;
  version: string;
}

/** `GET /v1/:c/recent` options. */
export interface RecentOptions extends CallOptions {
  /** 1..200. Defaults to 50. */
  limit?: number;
  /** The `next` of an earlier page. */
  before?: string;
  filter?: FilterInput;
  topic?: string;
  status?: DocStatus;
  mention?: string;
  tool?: string;
}

/** `GET /v1/:c/search` options. */
export interface SearchOptions extends CallOptions {
  /** 1..50. Defaults to 8. */
  k?: number;
  filter?: FilterInput;
  /** Defaults to `simple`: any text is a safe query. */
  mode?: SearchMode;
  /** Defaults to `relevance`. */
  order?: SearchOrder;
  /** Read-your-writes: wait (≤ 2 s) until the index covers this seq (an insert's `seq`). */
  waitFor?: number;
}

/** `POST /v1/:c/claim` request. */
export interface ClaimOptions extends CallOptions {
  /** Who claims: shown as the doc's `claimed_by`. */
  agent: string;
  topic?: string;
  filter?: FilterInput;
  /** 100 ms .. 24 h. Defaults to 5 min. */
  leaseMs?: number;
  /** 1..100. Defaults to 1. */
  limit?: number;
  /** Long-poll up to this long (≤ 30 000) for work. Defaults to 0. */
  waitMs?: number;
}

/** `POST /v1/:c/:id/fail` request. */
export interface FailOptions extends CallOptions {
  token: string;
  /** Kept as the doc's `last_error`. */
  error: string;
  /** Defaults to the server's backoff: 1 s × 2^(attempts−1), capped at 1 h. */
  retryInMs?: number;
}

/** `DELETE /v1/:c/docs` request: give `status`, `olderThan` or both. */
export interface DeleteDocsOptions extends CallOptions {
  status?: DocStatus;
  /** A duration (`30d`, `12h`, `15m`) or an ISO time. */
  olderThan?: string;
}

/** The topic routes (DESIGN §6). */
export interface TopicsApi {
  list(options?: CallOptions): Promise<Topic[]>;
  get(name: string, options?: CallOptions): Promise<Topic>;
  put(name: string, input: TopicInput, options?: CallOptions): Promise<Topic>;
  delete(name: string, options?: CallOptions): Promise<void>;
}

const c = encodeURIComponent;

function filterText(filter: FilterInput | undefined): string | undefined {
  return typeof filter === 'object' ? JSON.stringify(filter) : filter;
}

/**
 * A DualStore client: every REST route as a method, plus `subscribe`, `worker` and `ask`. Every
 * method takes an optional `{ signal }` and throws {@link DualStoreError} on failure.
 *
 * @example
 * const client = createClient({ baseUrl: 'http://127.0.0.1:4261', token: process.env.DUALSTORE_TOKEN });
 * const { id } = await client.insert('events', { text: 'deploy finished', topic: 'ci' });
 * const doc = await client.get('events', id);
 */
export class DualStoreHttp {
  readonly #t: Transport;
  /** `GET|PUT|DELETE /v1/topics…`. */
  readonly topics: TopicsApi;

  constructor(options: ClientOptions) {
    const t = new Transport(options.baseUrl, options.token, options.fetch);
    this.#t = t;
    this.topics = {
      list: (o) => t.request('GET', '/v1/topics', o),
      get: (name, o) => t.request('GET', `/v1/topics/${c(name)}`, o),
      put: (name, input, o) => t.request('PUT', `/v1/topics/${c(name)}`, { body: input, signal: o?.signal }),
      delete: (name, o) => t.request('DELETE', `/v1/topics/${c(name)}`, o),
    };
  }

  /** `GET /v1/health` (public). */
  health(options?: CallOptions): Promise<Health> {
    return this.#t.request('GET', '/v1/health', options);
  }

  /** `GET /v1/collections`. */
  listCollections(options?: CallOptions): Promise<string[]> {
    return this.#t.request('GET', '/v1/collections', options);
  }

  /** `PUT /v1/collections/:c` (admin): create, or update its settings. Idempotent. */
  putCollection(collection: string, input: CollectionInput = {}, options?: CallOptions): Promise<CollectionInfo> {
    return this.#t.request('PUT', `/v1/collections/${c(collection)}`, { body: input, signal: options?.signal });
  }

  /** `GET /v1/:c/stats`: counts by status and the last change seq. */
  stats(collection: string, options?: CallOptions): Promise<CollectionStats> {
    return this.#t.request('GET', `/v1/${c(collection)}/stats`, options);
  }

  /** `GET /v1/:c/recent`: newest first; `cursor` is the feed position to stream from. */
  recent(collection: string, options: RecentOptions = {}): Promise<RecentPage> {
    const { signal, filter, ...query } = options;
    return this.#t.request('GET', `/v1/${c(collection)}/recent`, {
      query: { ...query, filter: filterText(filter) },
      signal,
    });
  }

  /** `GET /v1/:c/search`. */
  search(collection: string, q: string, options: SearchOptions = {}): Promise<SearchResult> {
    const { signal, filter, waitFor, ...query } = options;
    return this.#t.request('GET', `/v1/${c(collection)}/search`, {
      query: { q, ...query, filter: filterText(filter), wait_for: waitFor },
      signal,
    });
  }

  /** `GET /v1/:c/:id`: the doc (404 `not_found` when there is none). */
  get(collection: string, id: string, options?: CallOptions): Promise<Doc> {
    return this.#t.request('GET', `/v1/${c(collection)}/${c(id)}`, options);
  }

  /** `GET /v1/:c/:id/thread`: the doc's thread, oldest first. */
  thread(collection: string, id: string, options?: CallOptions): Promise<{ items: Doc[] }> {
    return this.#t.request('GET', `/v1/${c(collection)}/${c(id)}/thread`, options);
  }

  /**
   * `POST /v1/:c`. With `idempotencyKey`, a repeat returns the first doc's `{ id, seq }`.
   * @example
   * const { id, seq } = await client.insert('events', { text: 'hello @alice' }, { idempotencyKey: 'msg-42' });
   */
  insert(
    collection: string,
    doc: DocInput,
    options: CallOptions & { idempotencyKey?: string } = {},
  ): Promise<{ id: string; seq: number }> {
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    return this.#t.request('POST', `/v1/${c(collection)}`, { body: doc, headers, signal: options.signal });
  }

  /** `POST /v1/:c/batch`: up to 1000 docs, all or nothing. */
  batch(collection: string, docs: readonly DocInput[], options?: CallOptions): Promise<{ ids: string[] }> {
    return this.#t.request('POST', `/v1/${c(collection)}/batch`, { body: { items: docs }, signal: options?.signal });
  }

  /**
   * `POST /v1/:c/claim`: lease the oldest due docs; `items` is empty when nothing came within `waitMs`.
   * @example
   * const { items } = await client.claim('agent_tasks', { agent: 'bot', waitMs: 25_000 });
   */
  claim(collection: string, options: ClaimOptions): Promise<{ items: ClaimedItem[] }> {
    const { signal, agent, topic, filter, leaseMs, limit, waitMs } = options;
    return this.#t.request('POST', `/v1/${c(collection)}/claim`, {
      body: { agent, topic, filter, lease_ms: leaseMs, limit, wait_ms: waitMs },
      signal,
    });
  }

  /** `POST /v1/:c/:id/complete` with the claim token. */
  complete(collection: string, id: string, token: string, options?: CallOptions): Promise<Doc> {
    return this.#action(collection, id, 'complete', { token }, options);
  }

  /** `POST /v1/:c/:id/fail`: pending again after a backoff, or `failed` after `max_attempts`. */
  fail(collection: string, id: string, options: FailOptions): Promise<Doc> {
    const { signal, token, error, retryInMs } = options;
    return this.#action(collection, id, 'fail', { token, error, retry_in_ms: retryInMs }, { signal });
  }

  /** `POST /v1/:c/:id/extend`: a heartbeat for long work. */
  extend(collection: string, id: string, token: string, leaseMs: number, options?: CallOptions): Promise<Doc> {
    return this.#action(collection, id, 'extend', { token, lease_ms: leaseMs }, options);
  }

  /** `POST /v1/:c/:id/release`: give it back untouched. */
  release(collection: string, id: string, token: string, options?: CallOptions): Promise<Doc> {
    return this.#action(collection, id, 'release', { token }, options);
  }

  /** `POST /v1/:c/:id/reply`: store a reply and finish the original, in one transaction. */
  reply(collection: string, id: string, input: ReplyInput, options?: CallOptions): Promise<Doc> {
    return this.#action(collection, id, 'reply', input, options);
  }

  /** `DELETE /v1/:c/docs` (admin): retention. */
  deleteDocs(collection: string, options: DeleteDocsOptions): Promise<{ deleted: number }> {
    const { signal, status, olderThan } = options;
    return this.#t.request('DELETE', `/v1/${c(collection)}/docs`, {
      query: { status, older_than: olderThan },
      signal,
    });
  }

  /** `POST /v1/tickets`: a single-use stream ticket (streams mint their own; this is for custom use). */
  tickets(options?: CallOptions): Promise<{ ticket: string; expires_at: string }> {
    return this.#t.request('POST', '/v1/tickets', options);
  }

  /**
   * Stream changes of one or more collections; see {@link SubscribeOptions}.
   * @example
   * const sub = client.subscribe(['events', 'agent_tasks'], { onInsert: (doc) => console.log(doc.text) });
   * // later
   * sub.close();
   */
  subscribe(collections: string | readonly string[], options: SubscribeOptions = {}): Subscription {
    return openSubscription(this.#t, collections, options);
  }

  /**
   * Process a collection's work; see {@link WorkerOptions}.
   * @example
   * const worker = client.worker('agent_tasks', async ({ doc }) => build(doc.metadata), { agent: 'builder' });
   * process.on('SIGTERM', () => void worker.stop());
   */
  worker(collection: string, handler: WorkerHandler, options: WorkerOptions): WorkerHandle {
    return runWorker(this, collection, handler, options);
  }

  /**
   * Durable request/reply: insert `doc` and resolve with the first reply to it.
   * @example
   * const answer = await client.ask('agent_tasks', { text: 'summarise PR 12', topic: 'review' }, { timeoutMs: 60_000 });
   */
  ask(collection: string, doc: DocInput, options: AskOptions = {}): Promise<Doc> {
    return askReply(this, collection, doc, options);
  }

  #action(collection: string, id: string, action: string, body: object, options?: CallOptions): Promise<Doc> {
    const method = 'POST';
    return this.#t.request(method, `/v1/${c(collection)}/${c(id)}/${action}`, { body, signal: options?.signal });
  }
}

/**
 * Create a client for one DualStore server.
 * @example
 * const client = createClient({ baseUrl: 'http://127.0.0.1:4261' });
 * const page = await client.recent('events', { limit: 20 });
 */
export function createClient(options: ClientOptions): DualStoreHttp {
  return new DualStoreHttp(options);
}
