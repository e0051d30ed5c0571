// SPDX-License-Identifier: GPL-3.0-or-later
// One SSE connection: its cursor, its selector, and its catch-up loop. A stream reads the store
// for itself ("changes after my cursor, page by page, until the page reaches the head") and then
// asks the hub to take it live. The hub only accepts it when its cursor is not behind the hub's
// own reading position; otherwise the stream reads again. Both phases move the same cursor and
// deliver only seqs above it, which is what makes the switch free of gaps and duplicates
// (DESIGN §3). No read transaction is held while a stream waits or writes: every page is a
// separate `changes()` call.

import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Change, DocSelector, Store } from '@dualstore/core';
import { encodeReset, encodeRetry, Payload } from './encode.js';

/** Changes one catch-up read asks for. Bounded so one reader never holds a big page or a long read. */
export const CATCH_UP_PAGE = 500;
/** Catch-up bytes gathered into one socket write (several ready events, one write: DESIGN §3a.7). */
const CATCH_UP_BATCH_BYTES = 64 * 1024;
const RETRY_FRAME = Buffer.from(encodeRetry());

/** What a stream delivers: its collections (all when undefined) and doc conditions. */
export interface StreamQuery {
  collections: readonly string[] | undefined;
  selector: DocSelector;
}

/** What a stream needs from its hub. */
export interface StreamHost {
  readonly store: Store;
  readonly maxBufferedBytes: number;
  /** The cached wire frame of a change. */
  frame(change: Change): Buffer;
  /** Take the stream live if its cursor has caught up with the hub; false: read again. */
  goLive(stream: SseStream): boolean;
  /** Called exactly once, when the connection is gone. */
  release(stream: SseStream): void;
  /** Told about a store failure that ended a stream. */
  onError(error: unknown): void;
}

/**
 * One subscriber. Created by the hub after the response headers went out; `start()` sends
 * `retry:` and runs the catch-up loop.
 */
export class SseStream {
  /** Every change at or below this seq has been delivered, or did not match. */
  cursor: number;
  /** True while the hub pushes to it; false while it reads for itself. */
  live = false;
  readonly query: StreamQuery;
  /** Streams with equal keys share one selector evaluation per live change. */
  readonly groupKey: string;
  readonly clientKey: string;
  readonly #res: ServerResponse;
  readonly #host: StreamHost;
  /** Set once the head is out on an HTTP/1.1 chunked response: then frames go straight to it. */
  #socket: Socket | undefined;
  #closed = false;
  /** Waiting for the socket to drain during catch-up. */
  #waiting = false;
  /** Still waiting at the previous heartbeat: the client has read nothing for a whole interval. */
  #stalled = false;
  #released = false;

  constructor(
    res: ServerResponse,
    host: StreamHost,
    init: { cursor: number; query: StreamQuery; groupKey: string; clientKey: string },
  ) {
    this.#res = res;
    this.#host = host;
    this.cursor = init.cursor;
    this.query = init.query;
    this.groupKey = init.groupKey;
    this.clientKey = init.clientKey;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True while catch-up waits for the client to read what was already sent. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /**
   * Send `retry:` and catch up; resolves when the stream is live or closed. The hub calls it
   * once, after registering the stream, so `release` always finds it.
   */
  async start(): Promise<void> {
    const res = this.#res;
    res.once('close', () => this.#onClose());
    // The client may have gone while the route validated its request: 'close' already fired.
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      this.#onClose();
      return;
    }
    // Through the response once, so it sends the head and settles on chunked encoding; later
    // writes go to the socket as ready-made chunks (see Payload). An HTTP/1.0 client gets no
    // chunking and keeps the plain `res.write` path.
    res.write(RETRY_FRAME);
    if ((res as { chunkedEncoding?: boolean }).chunkedEncoding === true && res.socket !== null) {
      this.#socket = res.socket;
    }
    try {
      await this.#catchUp();
    } catch (error) {
      if (this.#closed) return;
      this.#host.onError(error);
      this.destroy();
    }
  }

  /** Read pages after the cursor until one reaches the head and the hub takes the stream live. */
  async #catchUp(): Promise<void> {
    const { store } = this.#host;
    const { collections, selector } = this.query;
    while (!this.#closed) {
      const before = this.cursor;
      const page = await store.changes(before, {
        ...selector,
        ...(collections === undefined ? {} : { collections }),
        limit: CATCH_UP_PAGE,
      });
      if (this.#closed) return;
      if (this.cursor < page.floor) {
        // Retention pruned deletions after this cursor: replaying from it would show docs that
        // no longer exist. Say so, and continue from the oldest position that replays faithfully.
        await this.#write([encodeReset({ requested: this.cursor, since: page.floor })]);
        if (this.#closed) return;
        this.cursor = page.floor;
        continue;
      }
      if (page.changes.length > 0) {
        const frames: Buffer[] = [];
        for (const change of page.changes) frames.push(this.#host.frame(change));
        await this.#write(frames);
        if (this.#closed) return;
      }
      // `next` can pass the last returned change (later ones did not match): skip those too.
      this.cursor = Math.max(this.cursor, page.next);
      // Caught up: at the head, or stopped short of it with nothing readable (Postgres holds
      // `next` below a transaction that may still commit; its commit will notify the hub).
      const caughtUp = page.next >= page.head || (page.changes.length === 0 && page.next <= before);
      // Synchronous from the check to the hand-over: no change can slip between them.
      if (caughtUp && this.#host.goLive(this)) return;
    }
  }

  /**
   * Write frames pulled from the store, waiting for the socket to drain between batches: the
   * stream reads at the client's pace, so a slow reader costs one page of memory, not more.
   */
  async #write(frames: readonly Buffer[]): Promise<void> {
    let batch: Buffer[] = [];
    let bytes = 0;
    for (let i = 0; i < frames.length; i++) {
      const frame = frames[i] as Buffer;
      batch.push(frame);
      bytes += frame.length;
      if (bytes < CATCH_UP_BATCH_BYTES && i < frames.length - 1) continue;
      if (this.#closed) return;
      const flushed = this.#out(new Payload(batch.length === 1 ? frame : Buffer.concat(batch, bytes)));
      batch = [];
      bytes = 0;
      if (!flushed) await this.#drain();
    }
  }

  /** Write one payload; false when the socket's buffer is full (wait for drain before more). */
  #out(payload: Payload): boolean {
    if (this.#socket !== undefined) return this.#socket.write(payload.chunk);
    return this.#res.write(payload.frame);
  }

  #drain(): Promise<void> {
    this.#waiting = true;
    const res = this.#res;
    // Both paths fill the socket, so the socket's drain is the signal either way.
    const socket = res.socket;
    return new Promise((resolve) => {
      const done = () => {
        socket?.off('drain', done);
        res.off('close', done);
        this.#waiting = false;
        this.#stalled = false;
        resolve();
      };
      if (socket === null || socket.destroyed) {
        done();
        return;
      }
      socket.on('drain', done);
      res.on('close', done);
    });
  }

  /**
   * A live write. A client whose unsent bytes are over the bound when the next frame is due is
   * dropped (it resumes with `Last-Event-ID`): the store keeps the events, the server does not
   * (DESIGN §3). Checked before the write rather than after it, so one large burst (a 1,000-doc
   * batch arrives as one page) does not drop every healthy reader at once; a reader that does
   * not drain is dropped at the next page or heartbeat. A stream thus holds at most the bound
   * plus one page, and that page is the Buffer shared by its whole group.
   */
  send(payload: Payload): void {
    if (this.#closed) return;
    if (this.#res.writableLength > this.#host.maxBufferedBytes) {
      this.destroy();
      return;
    }
    this.#out(payload);
  }

  /** A heartbeat tick: send it, and drop a catch-up reader whose socket has not drained for a whole interval. */
  heartbeat(payload: Payload): void {
    if (this.#waiting) {
      if (this.#stalled) {
        this.destroy();
        return;
      }
      this.#stalled = true;
    }
    this.send(payload);
  }

  /** Drop the connection at once (unsent bytes are discarded). */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#res.destroy();
  }

  /**
   * End cleanly (server shutdown): finish the chunked response and close the socket, so the
   * server's close does not wait on it. A socket with bytes still queued is destroyed instead —
   * a client that is not reading would hold the shutdown.
   */
  end(): void {
    if (this.#closed) return;
    this.#closed = true;
    const res = this.#res;
    if (res.writableLength > 0) {
      res.destroy();
      return;
    }
    res.end();
    res.socket?.end();
  }

  #onClose(): void {
    if (this.#released) return;
    this.#released = true;
    this.#closed = true;
    this.#host.release(this);
  }
}
