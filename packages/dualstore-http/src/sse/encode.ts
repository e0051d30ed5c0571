// SPDX-License-Identifier: GPL-3.0-or-later
// SSE framing (WHATWG HTML "Server-sent events", §9.2.6 "Interpreting an event stream"), the one
// place that knows the wire format. Everything that reaches a stream socket is built here, so
// the framing rules are checked once: CR and LF are line terminators in every position, so no
// field name, `event` or `id` may contain them, and `data` is split into one `data:` line each.

import type { Change } from '@dualstore/core';

/**
 * Response headers of every stream. `no-transform` stops proxies from compressing (and so
 * buffering) the stream; `X-Accel-Buffering: no` does the same for nginx.
 */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
} as const;

/** The reconnection delay sent first on every stream (DESIGN §5). */
export const RETRY_MS = 3000;

/** One event as the encoder takes it. */
export interface SseEvent {
  /** Becomes the client's last event ID (and its `Last-Event-ID` on reconnect). */
  id?: number | string;
  /** The event type; the client dispatches `message` when absent. */
  event?: string;
  /** Any text; line breaks are carried as separate `data:` lines. */
  data: string;
}

// [spec] "End of line" is CRLF, a lone LF or a lone CR; any of them ends a field.
const LINE_BREAK = /\r\n|\r|\n/;
// [spec] An `id` field whose value contains U+0000 NULL is ignored by the client, so refuse it.
const BAD_ID = /[\r\n\0]/;
const BAD_EVENT = /[\r\n]/;

/**
 * Encode one event as its wire frame, ending with the blank line that dispatches it.
 *
 * `data` keeps its line breaks: each line goes out as its own `data:` field and the client joins
 * them with LF. A CR or CRLF therefore arrives as LF — callers that need exact bytes (every
 * DualStore event) send JSON, whose text never contains a raw CR or LF.
 *
 * @throws TypeError when `id` or `event` contains a line break (or `id` a NUL): such a field
 * would end early on the client and the rest would be parsed as new fields.
 * @example
 * encodeEvent({ id: 7, event: 'insert', data: '{"id":"a"}' });
 * // 'id: 7\nevent: insert\ndata: {"id":"a"}\n\n'
 */
export function encodeEvent(event: SseEvent): string {
  let frame = '';
  if (event.id !== undefined) {
    const id = String(event.id);
    if (BAD_ID.test(id)) throw new TypeError(`an SSE id must not contain CR, LF or NUL, got ${JSON.stringify(id)}`);
    frame += `id: ${id}\n`;
  }
  if (event.event !== undefined) {
    if (BAD_EVENT.test(event.event)) {
      throw new TypeError(`an SSE event name must not contain CR or LF, got ${JSON.stringify(event.event)}`);
    }
    frame += `event: ${event.event}\n`;
  }
  // [spec] The client strips exactly one space after the colon, so a value that itself starts
  // with a space survives: we always write "data: " + value.
  for (const line of event.data.split(LINE_BREAK)) frame += `data: ${line}\n`;
  // [spec] A blank line dispatches the event.
  return `${frame}\n`;
}

/**
 * The first bytes of every stream. [spec] A `retry` field whose value is all ASCII digits sets
 * the reconnection time; the block has no `data`, so the blank line after it dispatches nothing.
 */
export function encodeRetry(ms: number = RETRY_MS): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new TypeError(`retry must be a non-negative integer, got ${ms}`);
  return `retry: ${ms}\n\n`;
}

/**
 * The frame of one feed change: `insert` / `update` carry the whole doc, `delete` carries the
 * deleted doc's `{ id, seq }`; `id:` is always the change's own seq (DESIGN §10).
 */
export function encodeChange(change: Change): Buffer {
  const data = change.kind === 'delete' ? JSON.stringify(change.deleted) : JSON.stringify(change.doc);
  const text = encodeEvent({ id: change.seq, event: change.kind, data });
  // Not from Buffer's shared 8 KiB pool: the hub caches frames, and a cached frame cut from the
  // pool keeps its whole slab (and the short-lived buffers sharing it) alive. Measured in the
  // soak: Buffers levelled off at ~28 MiB for an 8 MiB frame cache.
  const frame = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  frame.write(text);
  return frame;
}

/** `event: heartbeat` with no id, so it never moves the client's resume position. */
export function encodeHeartbeat(at: Date): Buffer {
  return Buffer.from(encodeEvent({ event: 'heartbeat', data: JSON.stringify({ t: at.toISOString() }) }));
}

/** What a `reset` event tells the client. */
export interface ResetData {
  /** The cursor the client asked for. */
  requested: number;
  /** Where the stream continues instead: the oldest position the store replays faithfully. */
  since: number;
}

/**
 * `event: reset`, sent when the requested cursor is older than what retention kept. Its `id:` is
 * the restart position, so a client that drops right after it resumes there without a second
 * reset.
 */
export function encodeReset(data: ResetData): Buffer {
  return Buffer.from(encodeEvent({ id: data.since, event: 'reset', data: JSON.stringify(data) }));
}

const CRLF = Buffer.from('\r\n');

/**
 * Bytes bound for many sockets, encoded once. `frame` is the SSE text; `chunk` is the same bytes
 * already framed as one HTTP/1.1 chunk (RFC 9112 §7.1: size in hex, CRLF, data, CRLF), built on
 * first use and then shared, so a fan-out write is one `socket.write` of a shared Buffer instead
 * of `res.write`'s three writes and cork per subscriber.
 */
export class Payload {
  readonly frame: Buffer;
  #chunk: Buffer | undefined;

  constructor(frame: Buffer) {
    this.frame = frame;
  }

  get chunk(): Buffer {
    this.#chunk ??= Buffer.concat([Buffer.from(`${this.frame.length.toString(16)}\r\n`), this.frame, CRLF]);
    return this.#chunk;
  }
}
