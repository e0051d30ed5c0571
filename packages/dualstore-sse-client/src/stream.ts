// SPDX-License-Identifier: GPL-3.0-or-later
// Resumable SSE subscriptions over `fetch` + `eventsource-parser`, the same code in Node and in
// browsers. Why not the platform's EventSource: it cannot send headers (Node needs the bearer
// header), it reconnects with the URL it started with (a spent ticket, a stale `since`), and it
// has no backoff. So this file does its own reconnecting: exponential backoff with full jitter,
// the server's `retry:` as the base, a fresh ticket per connection in browsers, and a resume
// position that only moves forward, so no seq is ever delivered twice.

import type { Doc, DocStatus } from '@dualstore/core';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { backoffDelay, sleep } from './backoff.js';
import { DualStoreError, isDualStoreError, isTransient } from './errors.js';
import { type FetchLike, problemError, type Query, Transport } from './transport.js';

/** A filter (DESIGN §4): an object like `{ "metadata.repo": "x" }`, or its JSON / base64url text. */
export type FilterInput = Record<string, unknown> | string;

/** What the server says after `reset`: the cursor asked for and where the stream continues. */
export interface ResetInfo {
  requested: number;
  since: number;
}

/** What `onError` learns besides the error. */
export interface StreamErrorInfo {
  /** False when the subscription has stopped for good (a 4xx, a 204, or a wrong content type). */
  willRetry: boolean;
  /** The wait before the next attempt, when `willRetry`. */
  delayMs?: number;
}

/** How a stream authenticates. */
export type StreamAuth = 'auto' | 'header' | 'ticket';

/** Options of {@link subscribe}. */
export interface SubscribeOptions {
  /**
   * Start after this feed position (a seq, e.g. a `recent` page's `cursor` or a saved
   * `lastEventId`) or at this ISO time. Defaults to "now": the feed position when `subscribe` is
   * called, fetched once, so even the first reconnect misses nothing.
   */
  since?: number | string;
  /** Only docs matching this filter. */
  filter?: FilterInput;
  /** Only docs with this topic. */
  topic?: string;
  /** Only docs mentioning this name (`@alice` or `alice`). */
  mention?: string;
  /** Only docs in this status. */
  status?: DocStatus;
  /** Only docs with this tool call. */
  tool?: string;
  /** A doc was inserted; `seq` is the change's feed position. */
  onInsert?: (doc: Doc, seq: number) => void;
  /** A doc changed (status, attempts, …); `doc` is its new state. */
  onUpdate?: (doc: Doc, seq: number) => void;
  /** Retention deleted a doc. */
  onDelete?: (deleted: { id: string; seq: number }, seq: number) => void;
  /** The requested position was older than what retention kept; the stream continues at `since`. */
  onReset?: (reset: ResetInfo) => void;
  /** The server's keep-alive (every 15 s by default). */
  onHeartbeat?: (heartbeat: { t: string }) => void;
  /** A connection was accepted (200); called again after every reconnect. */
  onOpen?: () => void;
  /** A failure. With `willRetry` false the subscription has stopped. A throwing callback is reported as `handler_error`. */
  onError?: (error: DualStoreError, info: StreamErrorInfo) => void;
  /** Aborting it closes the subscription, like `close()`. */
  signal?: AbortSignal;
  /**
   * `header`: `Authorization: Bearer` and `Last-Event-ID` headers. `ticket`: a fresh single-use
   * ticket from `POST /v1/tickets` and `since=` in the URL for every connection, so the
   * long-lived token never enters a URL. Defaults to `auto`: `ticket` when a token is set and
   * the code runs outside Node (a browser), else `header`.
   */
  auth?: StreamAuth;
  /** The base reconnect delay in ms. Defaults to the server's `retry:` (3000), else 3000. */
  retryMs?: number;
  /** The longest reconnect delay in ms. Defaults to 30 000. */
  maxRetryMs?: number;
}

/** A running subscription. */
export interface Subscription {
  /** Stop: aborts the connection and any pending reconnect; no timer is left. Idempotent. */
  close(): void;
  /** The seq of the last event delivered: save it and pass it as `since` to resume later. */
  readonly lastEventId: number | undefined;
  /** True once closed, by `close()`, the signal, or a fatal error. */
  readonly closed: boolean;
}

const DEFAULT_RETRY_MS = 3000;
const DEFAULT_MAX_RETRY_MS = 30_000;

/** Node (and runtimes that pose as it) can send headers on a stream; a browser page is given tickets. */
function isNode(): boolean {
  return typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
}

/** One subscription's state machine: resolve a start position, connect, read, reconnect. */
class StreamSubscription implements Subscription {
  readonly #transport: Transport;
  readonly #collections: readonly string[];
  readonly #options: SubscribeOptions;
  readonly #controller = new AbortController();
  readonly #useTicket: boolean;
  /** Where the next connection resumes: a seq, or the caller's ISO `since` until an event arrives. */
  #cursor: string | undefined;
  /** The newest seq delivered; events at or below it are dropped. */
  #lastSeq = -1;
  #retryMs: number;
  #attempt = 0;
  #closed = false;
  readonly #onAbort = () => this.close();

  constructor(transport: Transport, collections: readonly string[], options: SubscribeOptions) {
    this.#transport = transport;
    this.#collections = collections;
    this.#options = options;
    this.#retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    const auth = options.auth ?? 'auto';
    this.#useTicket = auth === 'ticket' || (auth === 'auto' && transport.token !== undefined && !isNode());
    if (options.since !== undefined) {
      this.#cursor = String(options.since);
      if (typeof options.since === 'number') this.#lastSeq = options.since;
    }
    if (options.signal?.aborted) {
      this.#closed = true;
      return;
    }
    options.signal?.addEventListener('abort', this.#onAbort);
    void this.#run();
  }

  get lastEventId(): number | undefined {
    return this.#lastSeq < 0 ? undefined : this.#lastSeq;
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    this.#controller.abort();
  }

  async #run(): Promise<void> {
    const signal = this.#controller.signal;
    while (!this.#closed) {
      try {
        await this.#connect(signal);
      } catch (error) {
        if (this.#closed) return;
        const failure = isDualStoreError(error)
          ? error
          : new DualStoreError({ status: 0, code: 'network_error', detail: 'the stream failed', cause: error });
        if (!isTransient(failure)) {
          this.#report(failure, { willRetry: false });
          this.close();
          return;
        }
        const delayMs = failure.retryAfterMs ?? backoffDelay(this.#attempt++, this.#retryMs, this.#maxRetryMs());
        this.#report(failure, { willRetry: true, delayMs });
        await sleep(delayMs, signal);
      }
    }
  }

  #maxRetryMs(): number {
    return this.#options.maxRetryMs ?? DEFAULT_MAX_RETRY_MS;
  }

  /** One connection, from the start position to the end of its body. Always ends by throwing. */
  async #connect(signal: AbortSignal): Promise<never> {
    const transport = this.#transport;
    const first = this.#collections[0] as string;
    // "Now" as a feed position, so a reconnect before the first event still resumes exactly.
    this.#cursor ??= String(
      (await transport.request<{ cursor: number }>('GET', `/v1/${enc(first)}/recent`, { query: { limit: 1 }, signal }))
        .cursor,
    );
    const o = this.#options;
    const query: Query = {
      collections: this.#collections.length > 1 ? this.#collections.join(',') : undefined,
      topic: o.topic,
      mention: o.mention,
      status: o.status,
      tool: o.tool,
      filter: typeof o.filter === 'object' ? JSON.stringify(o.filter) : o.filter,
    };
    let headers: Record<string, string>;
    if (this.#useTicket) {
      // [spec] A browser's EventSource cannot send headers and would reconnect with a spent
      // ticket; here every connection gets its own ticket and carries its position in the URL.
      const minted = await transport.request<{ ticket: string }>('POST', '/v1/tickets', { signal });
      query.ticket = minted.ticket;
      query.since = this.#cursor;
      // Only CORS-safelisted headers, so a cross-origin stream needs no preflight.
      headers = { accept: 'text/event-stream' };
    } else {
      // [spec] What EventSource sends on reconnect; the server prefers it to `since`.
      headers = transport.headers({ accept: 'text/event-stream', 'last-event-id': this.#cursor });
    }
    const path = this.#collections.length > 1 ? '/v1/stream' : `/v1/${enc(first)}/stream`;
    const response = await transport.send(transport.url(path, query), { method: 'GET', headers, signal });
    // [spec] 204 No Content means "stop reconnecting".
    if (response.status === 204) {
      throw new DualStoreError({
        status: 204,
        code: 'stream_refused',
        detail: 'the server answered 204: not reconnecting',
      });
    }
    if (response.status !== 200) throw problemError(response, await response.text());
    // [spec] A wrong content type fails the connection for good.
    if (!/^text\/event-stream/i.test(response.headers.get('content-type') ?? '') || response.body === null) {
      throw new DualStoreError({ status: 200, code: 'bad_response', detail: 'the answer is not text/event-stream' });
    }
    this.#attempt = 0;
    this.#call(() => o.onOpen?.());
    const parser = createParser({
      onEvent: (event) => this.#dispatch(event),
      onRetry: (ms) => {
        // An explicit `retryMs` is the caller's decision; otherwise the server's `retry:` rules.
        if (o.retryMs === undefined) this.#retryMs = ms;
      },
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } finally {
      reader.releaseLock();
    }
    throw new DualStoreError({ status: 200, code: 'stream_ended', detail: 'the server closed the stream' });
  }

  #dispatch(event: EventSourceMessage): void {
    if (this.#closed) return;
    const o = this.#options;
    if (event.event === 'heartbeat') {
      this.#call(() => o.onHeartbeat?.(JSON.parse(event.data)));
      return;
    }
    const seq = Number(event.id);
    if (event.id === undefined || !Number.isSafeInteger(seq)) return;
    // The one rule that makes delivery exactly-once per subscription: positions only move forward.
    if (seq <= this.#lastSeq) return;
    this.#lastSeq = seq;
    this.#cursor = event.id;
    this.#call(() => {
      const data = JSON.parse(event.data);
      if (event.event === 'insert') o.onInsert?.(data, seq);
      else if (event.event === 'update') o.onUpdate?.(data, seq);
      else if (event.event === 'delete') o.onDelete?.(data, seq);
      else if (event.event === 'reset') o.onReset?.(data);
    });
  }

  /** Run a callback; a throw is reported, never allowed to break the read loop. */
  #call(fn: () => void): void {
    try {
      fn();
    } catch (cause) {
      this.#report(new DualStoreError({ status: 0, code: 'handler_error', detail: 'a stream callback threw', cause }), {
        willRetry: true,
      });
    }
  }

  #report(error: DualStoreError, info: StreamErrorInfo): void {
    try {
      this.#options.onError?.(error, info);
    } catch {
      // An onError that throws has nowhere left to report to.
    }
  }
}

function enc(name: string): string {
  return encodeURIComponent(name);
}

/** @internal Used by the client's `subscribe`. */
export function openSubscription(
  transport: Transport,
  collections: string | readonly string[],
  options: SubscribeOptions,
): Subscription {
  const list = typeof collections === 'string' ? [collections] : collections;
  if (list.length === 0) throw new TypeError('subscribe needs at least one collection name, e.g. subscribe("events")');
  return new StreamSubscription(transport, list, options);
}

/** Options of {@link createDualStoreStream}: {@link SubscribeOptions} plus where to connect. */
export interface DualStoreStreamOptions extends Omit<SubscribeOptions, 'since'> {
  /** The server, e.g. `http://127.0.0.1:4261`. */
  baseUrl: string;
  /** One collection… */
  collection?: string;
  /** …or several. */
  collections?: readonly string[];
  /** A bearer token. */
  token?: string;
  /** Resume after this seq (a saved `lastEventId`), or start at an ISO time. Defaults to now. */
  lastEventId?: number | string;
  /** Defaults to `globalThis.fetch`. */
  fetch?: FetchLike;
}

/**
 * The seed design's name for a subscription that needs no client object (DESIGN §1).
 *
 * @example
 * const stream = createDualStoreStream({
 *   baseUrl: 'http://127.0.0.1:4261',
 *   collection: 'events',
 *   token,
 *   lastEventId: localStorage.lastSeq, // resume where the last page view stopped
 *   onInsert: (doc) => render(doc),
 * });
 * // later
 * stream.close();
 */
export function createDualStoreStream(options: DualStoreStreamOptions): Subscription {
  const { baseUrl, collection, collections, token, lastEventId, fetch, ...rest } = options;
  const list = collections ?? (collection === undefined ? [] : [collection]);
  return openSubscription(new Transport(baseUrl, token, fetch), list, { ...rest, since: lastEventId });
}
