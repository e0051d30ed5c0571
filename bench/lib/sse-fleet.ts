// SPDX-License-Identifier: GPL-3.0-or-later
// Many SSE subscribers in one process for `pnpm bench http`. Each is a plain HTTP request whose
// body is scanned as bytes for the publisher's send time (`"bench_sent":<ms>`), so the client
// spends as little CPU per event as possible and the figures reflect the server.

import http from 'node:http';
import { performance } from 'node:perf_hooks';

const MARKER = Buffer.from('"bench_sent":');
const FRAME_END = Buffer.from('\n\n');
/** Connections opened at once while building the fleet (keeps the accept queue from overflowing). */
const OPEN_BATCH = 250;

class Subscriber {
  pending: Buffer | undefined;
  constructor(
    readonly request: http.ClientRequest,
    readonly fleet: SseFleet,
  ) {}

  onData(chunk: Buffer): void {
    const data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    const end = data.lastIndexOf(FRAME_END);
    if (end < 0) {
      this.pending = data;
      return;
    }
    this.pending = end + 2 < data.length ? Buffer.from(data.subarray(end + 2)) : undefined;
    const now = performance.now();
    let at = data.indexOf(MARKER);
    while (at >= 0 && at < end) {
      const start = at + MARKER.length;
      let stop = start;
      while (stop < data.length) {
        const byte = data[stop] as number;
        if ((byte < 48 || byte > 57) && byte !== 46) break;
        stop += 1;
      }
      this.fleet.record(now - Number(data.toString('latin1', start, stop)));
      at = data.indexOf(MARKER, stop);
    }
  }
}

export class SseFleet {
  readonly #subscribers: Subscriber[] = [];
  #latencies: number[] = [];
  #recording = false;
  delivered = 0;
  disconnected = 0;

  private constructor(
    readonly port: number,
    readonly path: string,
  ) {}

  /** Open `count` streams and wait until every one has its 200 response headers. */
  static async open(port: number, count: number, path = '/v1/events/stream'): Promise<SseFleet> {
    const fleet = new SseFleet(port, path);
    for (let opened = 0; opened < count; opened += OPEN_BATCH) {
      const batch = Math.min(OPEN_BATCH, count - opened);
      await Promise.all(Array.from({ length: batch }, () => fleet.#openOne()));
    }
    return fleet;
  }

  #openOne(): Promise<void> {
    return new Promise((resolve, reject) => {
      const request = http.get({ host: '127.0.0.1', port: this.port, path: this.path, agent: false }, (response) => {
        if (response.statusCode !== 200) {
          reject(new Error(`stream answered ${response.statusCode}`));
          response.resume();
          return;
        }
        const subscriber = new Subscriber(request, this);
        this.#subscribers.push(subscriber);
        response.on('data', (chunk: Buffer) => subscriber.onData(chunk));
        response.on('close', () => {
          this.disconnected += 1;
        });
        resolve();
      });
      request.on('error', (error) => {
        if (!this.#closing) reject(error);
      });
    });
  }

  #closing = false;

  get size(): number {
    return this.#subscribers.length;
  }

  record(latencyMs: number): void {
    this.delivered += 1;
    if (this.#recording) this.#latencies.push(latencyMs);
  }

  /** Start collecting latencies (events before this were warm-up). */
  startRecording(): void {
    this.#latencies = [];
    this.delivered = 0;
    this.#recording = true;
  }

  stopRecording(): number[] {
    this.#recording = false;
    return this.#latencies;
  }

  close(): void {
    this.#closing = true;
    for (const subscriber of this.#subscribers) subscriber.request.destroy();
    this.#subscribers.length = 0;
  }
}

/** POST `rate` docs per second for `seconds`, each carrying its send time; resolves when all are answered. */
export async function publish(port: number, rate: number, seconds: number): Promise<{ sent: number; failed: number }> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const start = performance.now();
  let failed = 0;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const body = JSON.stringify({
      text: `bench event ${i} about deploys and builds`,
      metadata: { bench_sent: performance.now(), i },
    });
    inflight.push(
      fetch(`http://127.0.0.1:${port}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }).then(
        async (response) => {
          await response.arrayBuffer();
          if (response.status !== 201) failed += 1;
        },
        () => {
          failed += 1;
        },
      ),
    );
  }
  await Promise.all(inflight);
  return { sent: total, failed };
}

/** p50 / p99 / max of a large sample without spreading it into Math.max. */
export function latencySummary(samples: readonly number[]): { p50: number; p99: number; max: number; count: number } {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, count: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
  return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] as number, count: sorted.length };
}
