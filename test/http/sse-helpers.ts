// SPDX-License-Identifier: GPL-3.0-or-later
// SSE test clients: a raw `node:net` client that sees the exact bytes (HTTP head, then the
// chunked body decoded), an `eventsource` client with headers, a reference SSE parser, and
// condition waits that are woken by arriving data instead of sleeping.

import { connect, type Socket } from 'node:net';
import { EventSource } from 'eventsource';

// Captured at load: tests that fake timers must not stop these waits from timing out.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** A parsed SSE event. */
export interface ParsedEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * A small parser of the WHATWG algorithm ("Interpreting an event stream") for exact checks:
 * lines end at CRLF, LF or CR; `data` lines join with LF; a blank line dispatches; an event with
 * no data is not dispatched. Returns the dispatched events and the `retry` values seen.
 */
export function parseSse(text: string): { events: ParsedEvent[]; retry: number[] } {
  const events: ParsedEvent[] = [];
  const retry: number[] = [];
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  const lines = text.split(/\r\n|\r|\n/);
  // The text after the last line break is an incomplete line.
  lines.pop();
  for (const line of lines) {
    if (line === '') {
      if (data.length > 0) events.push({ id, event: event || 'message', data: data.join('\n') });
      data = [];
      event = '';
      id = undefined;
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retry.push(Number(value));
  }
  return { events, retry };
}

/** Something tests wait on: `until(predicate)` re-checks whenever `notify()` is called. */
export class Signal {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /** Resolve once `predicate()` holds (checked now and on every notify); reject after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        this.#waiters.delete(check);
        realClearTimeout(timer);
        resolve();
      };
      const timer = realSetTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }
}

/** A raw HTTP/1.1 GET over a plain socket, with the chunked body decoded as it arrives. */
export class RawStream {
  readonly socket: Socket;
  readonly signal = new Signal();
  /** The HTTP response head as received. */
  head = '';
  status = 0;
  headers: Record<string, string> = {};
  /** Blank lines (`\n\n`) in the body so far: frames, counted as they arrive (cheap for big streams). */
  frames = 0;
  /** Decoded body bytes so far. */
  bodyLength = 0;
  /** The zero-length chunk (a clean end of the response) was received. */
  ended = false;
  closed = false;
  #pending: Buffer = Buffer.alloc(0);
  #bodyChunks: Buffer[] = [];
  #body: Buffer | undefined;
  #lastByte = -1;
  #inBody = false;
  #chunked = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.signal.notify();
    });
    socket.on('error', () => {});
  }

  /** Connect and send `GET path` with the given extra headers. */
  static open(url: string, path: string, headers: Record<string, string> = {}): RawStream {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    const stream = new RawStream(socket);
    const lines = [`GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Accept: text/event-stream'];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return stream;
  }

  /** The decoded body bytes (without chunk framing). */
  get body(): Buffer {
    this.#body ??= Buffer.concat(this.#bodyChunks);
    return this.#body;
  }

  get text(): string {
    return this.body.toString('utf8');
  }

  #addBody(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.#bodyChunks.push(bytes);
    this.#body = undefined;
    this.bodyLength += bytes.length;
    let from = 0;
    if (this.#lastByte === 10 && bytes[0] === 10) {
      this.frames++;
      from = 1;
    }
    for (let at = bytes.indexOf('\n\n', from); at >= 0; at = bytes.indexOf('\n\n', at + 2)) this.frames++;
    this.#lastByte = bytes[bytes.length - 1] as number;
  }

  /** The events received so far. */
  events(): ParsedEvent[] {
    return parseSse(this.text).events;
  }

  until(predicate: (stream: RawStream) => boolean, timeoutMs?: number, what?: string): Promise<void> {
    return this.signal.until(() => predicate(this), timeoutMs, what);
  }

  /** Wait for the response head (and, for a 200, the `retry:` frame). */
  async ready(): Promise<void> {
    await this.until((s) => s.status !== 0 || s.closed, 10_000, 'the response head');
    if (this.status === 200) await this.until((s) => s.bodyLength > 0 || s.closed, 10_000, 'the first frame');
  }

  close(): void {
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    if (!this.#inBody) {
      const end = this.#pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = this.#pending.subarray(0, end).toString('latin1');
      const [statusLine, ...headerLines] = this.head.split('\r\n');
      this.status = Number(statusLine?.split(' ')[1]);
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        this.headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.#chunked = this.headers['transfer-encoding'] === 'chunked';
      this.#pending = this.#pending.subarray(end + 4);
      this.#inBody = true;
    }
    if (!this.#chunked) {
      this.#addBody(this.#pending);
      this.#pending = Buffer.alloc(0);
    } else {
      for (;;) {
        const lineEnd = this.#pending.indexOf('\r\n');
        if (lineEnd < 0) break;
        const size = Number.parseInt(this.#pending.subarray(0, lineEnd).toString('latin1'), 16);
        if (this.#pending.length < lineEnd + 2 + size + 2) break;
        if (size === 0) this.ended = true;
        this.#addBody(this.#pending.subarray(lineEnd + 2, lineEnd + 2 + size));
        this.#pending = this.#pending.subarray(lineEnd + 2 + size + 2);
      }
    }
    this.signal.notify();
  }
}

/** An event received by `EsClient`. */
export interface ReceivedEvent {
  type: string;
  id: string;
  data: string;
}

/** The `eventsource` package with extra request headers (it has no headers option: a fetch wrapper adds them). */
export class EsClient {
  readonly es: EventSource;
  readonly signal = new Signal();
  readonly events: ReceivedEvent[] = [];
  readonly errors: Array<{ code: number | undefined }> = [];
  opened = 0;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.es = new EventSource(url, {
      fetch: (input, init) =>
        // Its own headers last: on reconnect its Last-Event-ID must win over the first one.
        fetch(input, { ...init, headers: { ...headers, ...init.headers } }),
    });
    for (const type of ['insert', 'update', 'delete', 'reset', 'heartbeat', 'message']) {
      this.es.addEventListener(type, (event) => {
        this.events.push({ type, id: event.lastEventId, data: event.data });
        this.signal.notify();
      });
    }
    this.es.addEventListener('open', () => {
      this.opened++;
      this.signal.notify();
    });
    this.es.addEventListener('error', (event) => {
      this.errors.push({ code: event.code });
      this.signal.notify();
    });
  }

  of(type: string): ReceivedEvent[] {
    return this.events.filter((event) => event.type === type);
  }

  until(predicate: (client: EsClient) => boolean, timeoutMs?: number, what?: string): Promise<void> {
    return this.signal.until(() => predicate(this), timeoutMs, what);
  }

  close(): void {
    this.es.close();
  }
}
