// SPDX-License-Identifier: GPL-3.0-or-later
// The SSE hub: one store watch and one heartbeat timer for all streams, the per-client cap, and
// live fan-out (DESIGN §3a.7). When the store says the feed may have grown, the hub reads the new
// changes ONCE (unfiltered, all collections) and hands each page to every live stream whose
// cursor it covers. Streams with equal selectors form a group, so a selector is evaluated once
// per change, and each change is encoded once into a frame that every matching socket gets as
// the same Buffer (several changes joined into one write).
//
// Correctness rests on one invariant: every live stream's cursor is at or above the hub's cursor,
// and every change above the hub's cursor will be read by the hub, because its commit notifies
// after the change is readable and a notification always leads to (another) read. A stream
// therefore joins only when its own reads reached the hub's cursor; delivery gives each stream
// only seqs above its own cursor.

import type { ServerResponse } from 'node:http';
import {
  type Change,
  type ChangesPage,
  DualStoreError,
  isEmptySelector,
  matchesSelector,
  type Store,
} from '@dualstore/core';
import { encodeChange, encodeHeartbeat, Payload } from './encode.js';
import { SseStream, type StreamHost, type StreamQuery } from './stream.js';

/** Changes one hub read takes (the store's page maximum). */
const LIVE_PAGE = 1000;
/** Encoded frames kept for catch-up readers that follow one another (reconnect storms). */
const FRAME_CACHE_BYTES = 8 * 1024 * 1024;

export interface SseHubOptions {
  store: Store;
  /** Interval of `heartbeat` events. */
  heartbeatMs: number;
  /** Open streams per client key; one more is 429 `too_many_streams`. */
  maxPerClient: number;
  /** Unsent bytes a live stream may queue before it is dropped. */
  maxBufferedBytes: number;
  /**
   * Subscribers written per event-loop task during a fan-out before yielding, so requests (and
   * the next insert) interleave with a large fan-out (the app's default and why: context.ts).
   */
  fanoutSlice: number;
  /** Told about store failures that ended streams. */
  onError(error: unknown): void;
}

/** What a new stream asks for. */
export interface OpenStream {
  /** Deliver changes after this position (already clamped to the head). */
  cursor: number;
  query: StreamQuery;
  /** The per-client cap's key (token id, else IP). */
  clientKey: string;
}

/** Counters for tests and `/v1/health`-style diagnostics. */
export interface SseHubStats {
  /** Open streams, live or catching up. */
  streams: number;
  /** Streams the hub pushes to. */
  live: number;
  /** Catching-up streams waiting for their client to read (slow or stalled readers). */
  waiting: number;
  /** Selector groups among live streams. */
  groups: number;
  /** Client keys with at least one open stream. */
  clients: number;
  /** True while the hub holds its store watch. */
  watching: boolean;
  /** True while the heartbeat timer runs. */
  heartbeat: boolean;
  /** Frames in the encode cache. */
  cachedFrames: number;
}

/** Live streams with the same collections and selector. */
class Group {
  readonly streams = new Set<SseStream>();
  readonly #collections: ReadonlySet<string> | undefined;
  readonly #query: StreamQuery;
  readonly #everyDoc: boolean;

  constructor(query: StreamQuery) {
    this.#query = query;
    this.#collections = query.collections === undefined ? undefined : new Set(query.collections);
    this.#everyDoc = isEmptySelector(query.selector);
  }

  /** The same rule as the store's `changes()`: deletes pass on collection alone (the doc is gone). */
  matches(change: Change): boolean {
    if (this.#collections !== undefined && !this.#collections.has(change.collection)) return false;
    return change.doc === undefined || this.#everyDoc || matchesSelector(change.doc, this.#query.selector);
  }

  /**
   * Deliver the changes of a hub page that covers (from, next], yielding to the event loop every
   * `fanoutSlice` subscribers. The set is iterated live, so a stream that goes live during a yield
   * (its cursor at `from`: the hub's cursor moves only after the whole page) still gets the page.
   */
  async deliver(
    from: number,
    page: ChangesPage,
    frame: (change: Change) => Buffer,
    slice: { left: number; size: number },
  ): Promise<void> {
    let matched: Change[] | undefined;
    for (const change of page.changes) {
      if (!this.matches(change)) continue;
      if (matched === undefined) matched = [change];
      else matched.push(change);
    }
    let joined: Payload | undefined;
    for (const stream of this.streams) {
      if (matched !== undefined) {
        if (stream.cursor <= from) {
          // The usual case: the stream is exactly at the hub's cursor and gets the shared buffer.
          joined ??= new Payload(join(matched, frame));
          stream.send(joined);
        } else {
          // It joined mid-page (its own read went further than the hub's): only what is new to it.
          const mine = matched.filter((change) => change.seq > stream.cursor);
          if (mine.length > 0) stream.send(new Payload(join(mine, frame)));
        }
      }
      if (page.next > stream.cursor) stream.cursor = page.next;
      if (--slice.left <= 0) {
        slice.left = slice.size;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Bring a stream that went live during a sliced delivery up to the page's end. */
  deliverTo(stream: SseStream, page: ChangesPage, frame: (change: Change) => Buffer): void {
    if (stream.cursor >= page.next) return;
    const mine = page.changes.filter((change) => change.seq > stream.cursor && this.matches(change));
    if (mine.length > 0) stream.send(new Payload(join(mine, frame)));
    stream.cursor = page.next;
  }
}

function join(changes: readonly Change[], frame: (change: Change) => Buffer): Buffer {
  if (changes.length === 1) return frame(changes[0] as Change);
  return Buffer.concat(changes.map(frame));
}

/**
 * Owns every open stream of one server.
 *
 * @example
 * const hub = new SseHub({ store, heartbeatMs: 15_000, maxPerClient: 10, maxBufferedBytes: 1 << 20, fanoutSlice: 64, onError });
 * hub.open(reply.raw, { cursor, query, clientKey }); // after the response headers went out
 */
export class SseHub implements StreamHost {
  readonly store: Store;
  readonly maxBufferedBytes: number;
  readonly #heartbeatMs: number;
  readonly #maxPerClient: number;
  readonly #fanoutSlice: number;
  readonly #onError: (error: unknown) => void;
  readonly #streams = new Set<SseStream>();
  readonly #groups = new Map<string, Group>();
  readonly #clients = new Map<string, number>();
  readonly #frames = new Map<number, Buffer>();
  #frameBytes = 0;
  #live = 0;
  #unwatch: (() => void) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Everything at or below this seq has been delivered to every live stream. */
  #cursor = 0;
  /** A notification arrived that no read has answered yet. */
  #dirty = false;
  #reading = false;
  #closed = false;
  /** Set while a page is delivered in slices: streams that go live meanwhile join at its end. */
  #joinedMidDelivery: SseStream[] | undefined;

  constructor(options: SseHubOptions) {
    this.store = options.store;
    this.maxBufferedBytes = options.maxBufferedBytes;
    this.#heartbeatMs = options.heartbeatMs;
    this.#maxPerClient = options.maxPerClient;
    this.#fanoutSlice = Math.max(1, options.fanoutSlice);
    this.#onError = options.onError;
  }

  /**
   * Throw before any stream byte is written when this client may not open another stream.
   * @throws DualStoreError `too_many_streams` (429), or `store_closed` (503) during shutdown.
   */
  checkCapacity(clientKey: string): void {
    if (this.#closed) throw new DualStoreError('store_closed', 'the server is shutting down');
    if ((this.#clients.get(clientKey) ?? 0) >= this.#maxPerClient) {
      throw new DualStoreError(
        'too_many_streams',
        `this client already has ${this.#maxPerClient} open streams; close one first`,
      );
    }
  }

  /**
   * Register and start a stream on a response whose SSE headers were just written. Call
   * `checkCapacity` first, in the same tick.
   */
  open(res: ServerResponse, spec: OpenStream): SseStream {
    this.checkCapacity(spec.clientKey);
    const stream = new SseStream(res, this, { ...spec, groupKey: groupKey(spec.query) });
    if (this.#streams.size === 0) this.#activate();
    this.#streams.add(stream);
    this.#clients.set(spec.clientKey, (this.#clients.get(spec.clientKey) ?? 0) + 1);
    void stream.start();
    return stream;
  }

  stats(): SseHubStats {
    let waiting = 0;
    for (const stream of this.#streams) if (stream.waiting) waiting++;
    return {
      streams: this.#streams.size,
      live: this.#live,
      waiting,
      groups: this.#groups.size,
      clients: this.#clients.size,
      watching: this.#unwatch !== undefined,
      heartbeat: this.#timer !== undefined,
      cachedFrames: this.#frames.size,
    };
  }

  /** End every stream cleanly and release the watch and the timer (server shutdown). */
  close(): void {
    this.#closed = true;
    for (const stream of [...this.#streams]) stream.end();
    this.#deactivate();
  }

  // StreamHost

  frame(change: Change): Buffer {
    let frame = this.#frames.get(change.seq);
    if (frame !== undefined) return frame;
    frame = encodeChange(change);
    // A seq's change never changes, so a frame stays valid; the cache is bounded by bytes,
    // oldest first (Map keeps insertion order).
    if (frame.length <= FRAME_CACHE_BYTES / 8) {
      this.#frames.set(change.seq, frame);
      this.#frameBytes += frame.length;
      while (this.#frameBytes > FRAME_CACHE_BYTES) {
        const [oldest, bytes] = this.#frames.entries().next().value as [number, Buffer];
        this.#frames.delete(oldest);
        this.#frameBytes -= bytes.length;
      }
    }
    return frame;
  }

  goLive(stream: SseStream): boolean {
    if (stream.closed || this.#closed || !this.#streams.has(stream)) return false;
    if (stream.cursor < this.#cursor) return false;
    if (this.#live === 0 && !this.#reading) {
      // Nobody is live, so nobody needs (hub cursor, stream cursor]: start reading from here.
      // Any change above it has its notification still ahead, or pending in #dirty.
      this.#cursor = stream.cursor;
    }
    stream.live = true;
    this.#live++;
    // During a sliced delivery the stream waits for the page's end, gets the rest of the page
    // there and joins its group then: joining at once could land it in a group already passed.
    if (this.#joinedMidDelivery !== undefined) this.#joinedMidDelivery.push(stream);
    else this.#groupOf(stream).streams.add(stream);
    if (this.#dirty && !this.#reading) void this.#pump();
    return true;
  }

  #groupOf(stream: SseStream): Group {
    let group = this.#groups.get(stream.groupKey);
    if (group === undefined) {
      group = new Group(stream.query);
      this.#groups.set(stream.groupKey, group);
    }
    return group;
  }

  release(stream: SseStream): void {
    if (!this.#streams.delete(stream)) return;
    this.#leaveGroup(stream);
    const count = (this.#clients.get(stream.clientKey) ?? 1) - 1;
    if (count > 0) this.#clients.set(stream.clientKey, count);
    else this.#clients.delete(stream.clientKey);
    if (this.#streams.size === 0) this.#deactivate();
  }

  onError(error: unknown): void {
    this.#onError(error);
  }

  // Internals

  #leaveGroup(stream: SseStream): void {
    if (!stream.live) return;
    stream.live = false;
    this.#live--;
    const group = this.#groups.get(stream.groupKey);
    if (group === undefined) return;
    group.streams.delete(stream);
    if (group.streams.size === 0) this.#groups.delete(stream.groupKey);
  }

  /** First stream: watch the store and start the heartbeat. */
  #activate(): void {
    // Subscribed before the first stream's first read, so every later commit is either in that
    // read or announced to the hub.
    this.#cursor = 0;
    this.#dirty = false;
    this.#unwatch = this.store.watch(this.#onNotify);
    // The global is looked up now, not at import: tests fake it (vi.useFakeTimers) after startup.
    this.#timer = setInterval(this.#beat, this.#heartbeatMs);
    this.#timer.unref?.();
  }

  /** Last stream gone (or shutdown): nothing may be left behind. */
  #deactivate(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#frames.clear();
    this.#frameBytes = 0;
  }

  readonly #frameOf = (change: Change): Buffer => this.frame(change);

  readonly #onNotify = (): void => {
    this.#dirty = true;
    if (this.#live > 0 && !this.#reading) void this.#pump();
  };

  readonly #beat = (): void => {
    const payload = new Payload(encodeHeartbeat(new Date()));
    for (const stream of this.#streams) stream.heartbeat(payload);
  };

  /** Read new changes once for all live streams until the hub reaches the head. */
  async #pump(): Promise<void> {
    this.#reading = true;
    try {
      while (this.#dirty && !this.#closed) {
        if (this.#live === 0) return; // #dirty stays set: the next stream to join resumes reading
        this.#dirty = false;
        for (;;) {
          const from = this.#cursor;
          const page = await this.store.changes(from, { limit: LIVE_PAGE });
          if (this.#closed) return;
          if (page.changes.length > 0 || page.next > from) await this.#deliver(from, page);
          if (this.#closed) return;
          // At the head, or held below it (Postgres: a transaction that may still commit; its
          // commit notifies again, so waiting for that is not a gap).
          if (page.next >= page.head || page.next <= from) break;
          if (this.#live === 0) {
            this.#dirty = true;
            return;
          }
        }
      }
    } catch (error) {
      if (this.#closed) return;
      // The store failed: the live streams cannot be served. Dropping them lets clients resume
      // from their Last-Event-ID once it recovers; the hub starts afresh with the next joiner.
      this.#onError(error);
      this.#dirty = true;
      for (const group of [...this.#groups.values()]) for (const stream of [...group.streams]) stream.destroy();
    } finally {
      this.#reading = false;
    }
  }

  async #deliver(from: number, page: ChangesPage): Promise<void> {
    const slice = { left: this.#fanoutSlice, size: this.#fanoutSlice };
    const joined: SseStream[] = [];
    this.#joinedMidDelivery = joined;
    try {
      for (const group of this.#groups.values()) {
        await group.deliver(from, page, this.#frameOf, slice);
        if (this.#closed) return;
      }
      // Synchronous from here to the cursor move: nobody can join in between.
      for (const stream of joined) {
        if (!stream.live) continue; // released meanwhile
        const group = this.#groupOf(stream);
        group.deliverTo(stream, page, this.#frameOf);
        group.streams.add(stream);
      }
      this.#cursor = page.next;
    } finally {
      this.#joinedMidDelivery = undefined;
    }
  }
}

/** Streams with equal collections and selector share a group. */
function groupKey(query: StreamQuery): string {
  const { selector } = query;
  return JSON.stringify([
    query.collections === undefined ? null : [...query.collections].sort(),
    selector.topic ?? null,
    selector.status ?? null,
    selector.mention ?? null,
    selector.tool ?? null,
    selector.filter ?? null,
  ]);
}
