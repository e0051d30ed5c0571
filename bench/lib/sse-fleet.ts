// SPDX-License-Identifier: GPL-3.0-or-later
// Many SSE subscribers for `pnpm bench http`: a small C program (sse-fleet.c, compiled with the
// system's `cc` on first use) holds the streams in one epoll loop and scans their bytes for the
// publisher's send time, on the clock both sides share (shared-clock.ts). A Node client spent as
// much CPU per delivered event as the server under test; on two shared cores that measured the
// load generator (see docs/decisions.md).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sharedNow } from './shared-clock.js';

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sse-fleet.c');

let compiled: { binary: string; dir: string } | undefined;

/** Compile the fleet once per bench process; its directory also holds the latency files. */
function fleetBinary(): { binary: string; dir: string } {
  if (compiled === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'dualstore-sse-fleet-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const binary = path.join(dir, 'sse-fleet');
    try {
      execFileSync('cc', ['-O2', '-o', binary, SOURCE], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      throw new Error(`cannot compile bench/lib/sse-fleet.c with cc (apt-get install gcc): ${String(error)}`);
    }
    compiled = { binary, dir };
  }
  return compiled;
}

let fleets = 0;

export class SseFleet {
  readonly #child: ChildProcess;
  readonly #lines: Interface;
  readonly #latencyFile: string;
  readonly #waiting: Array<(line: string) => void> = [];

  private constructor(child: ChildProcess, latencyFile: string) {
    this.#child = child;
    this.#latencyFile = latencyFile;
    this.#lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    this.#lines.on('line', (line) => this.#waiting.shift()?.(line));
  }

  /** Open `count` streams; resolves once every one has its 200 response. */
  static async open(port: number, count: number, streamPath = '/v1/events/stream'): Promise<SseFleet> {
    const { binary, dir } = fleetBinary();
    const latencyFile = path.join(dir, `latencies-${process.pid}-${fleets++}.f64`);
    const child = spawn(binary, [String(port), streamPath, String(count), latencyFile], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const fleet = new SseFleet(child, latencyFile);
    const opened = await fleet.#next();
    if (opened !== 'opened') {
      fleet.close();
      throw new Error(`the SSE fleet could not open ${count} streams: ${opened}`);
    }
    return fleet;
  }

  /** The fleet's next answer line (or why there will be none). */
  #next(): Promise<string> {
    return new Promise((resolve) => {
      const onExit = (code: number | null) => resolve(`failed: the fleet exited with code ${code}`);
      this.#child.once('exit', onExit);
      this.#waiting.push((line) => {
        this.#child.off('exit', onExit);
        resolve(line);
      });
    });
  }

  #ask(command: string): Promise<string[]> {
    const answer = this.#next();
    this.#child.stdin?.write(`${command}\n`);
    return answer.then((line) => {
      if (line.startsWith('failed')) throw new Error(`the SSE fleet ${line}`);
      return line.split(' ').slice(1);
    });
  }

  /** Start collecting latencies and counting deliveries (events before this were warm-up). */
  startRecording(): void {
    this.#child.stdin?.write('record\n');
  }

  /** Events delivered since startRecording, and streams the server dropped. */
  async delivered(): Promise<{ delivered: number; disconnected: number }> {
    const [delivered, disconnected] = (await this.#ask('delivered')).map(Number);
    return { delivered: delivered as number, disconnected: disconnected as number };
  }

  /** Stop recording: every latency sample (ms), the delivery counts and the fleet's own CPU time. */
  async collect(): Promise<{ latencies: Float64Array; delivered: number; disconnected: number; cpuUs: number }> {
    const [, delivered, disconnected, cpuUs] = (await this.#ask('collect')).map(Number);
    const bytes = readFileSync(this.#latencyFile);
    // Copied out: a Float64Array view needs an 8-byte-aligned offset, which a pooled Buffer may lack.
    const latencies = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    rmSync(this.#latencyFile, { force: true });
    return {
      latencies,
      delivered: delivered as number,
      disconnected: disconnected as number,
      cpuUs: cpuUs as number,
    };
  }

  /** Close every stream and end the fleet. */
  close(): void {
    this.#lines.close();
    if (this.#child.exitCode === null) {
      this.#child.stdin?.end('close\n');
      setTimeout(() => this.#child.kill(), 2000).unref();
    }
  }
}

/** One POST over a kept-alive connection; resolves with the status (0 when the request failed). */
function post(agent: http.Agent, port: number, body: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/events',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', () => resolve(0));
    request.end(body);
  });
}

/**
 * POST `rate` docs per second for `seconds`, each carrying its send time; resolves when all are
 * answered. node:http with a keep-alive agent: `fetch` cost the publisher ~3 ms of CPU per
 * request here, a third of a core taken from the server at 100 requests a second.
 */
export async function publish(port: number, rate: number, seconds: number): Promise<{ sent: number; failed: number }> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const start = performance.now();
  let failed = 0;
  const inflight: Promise<void>[] = [];
  try {
    for (let i = 0; i < total; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const body = JSON.stringify({
        text: `bench event ${i} about deploys and builds`,
        metadata: { bench_sent: sharedNow(), i },
      });
      inflight.push(
        post(agent, port, body).then((status) => {
          if (status !== 201) failed += 1;
        }),
      );
    }
    await Promise.all(inflight);
  } finally {
    agent.destroy();
  }
  return { sent: total, failed };
}

/** p50 / p99 / max of a large sample without spreading it into Math.max. */
export function latencySummary(samples: ArrayLike<number>): { p50: number; p99: number; max: number; count: number } {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, count: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
  return { p50: at(50), p99: at(99), max: sorted[sorted.length - 1] as number, count: sorted.length };
}
