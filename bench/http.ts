// SPDX-License-Identifier: GPL-3.0-or-later
// `pnpm bench http [--quick] [--soak]`: the HTTP server end to end, each figure beside its ceiling
// measured in the same run (issue 3):
//   1  single inserts at 50 connections (wrk), synchronous=NORMAL and FULL, beside a bare
//      Fastify JSON POST route doing only parse + reply;
//   2  SSE publish→receive latency with 100, 1,000 and 5,000 subscribers, beside a plain Node
//      `res.write` fan-out, and server CPU per delivered event;
//   3  server RSS per idle SSE connection;
//   4  event-loop delay while inserts, searches and 1,000 streams run together;
//   soak (only with --soak, not in CI): 1,000 streams for 5 minutes under 100 inserts/s, RSS per minute,
//      after a prefill (100,000 docs, indexed) and a warm-up burst, as a server that has run a while.
// Servers run as child processes (bench/lib/http-server.ts) so their CPU and memory are their own.

import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Corpus } from './lib/corpus.js';
import { atMost, type Figure, type Row, shareOfCeiling } from './lib/figures.js';
import type { FromServer, ToServer } from './lib/http-server.js';
import type { BenchContext, BenchReport } from './lib/report.js';
import { latencySummary, publish, SseFleet } from './lib/sse-fleet.js';
import { ensureWrk, wrkPost } from './lib/wrk.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER_SCRIPT = path.join(here, 'lib', 'http-server.ts');

interface Config {
  /** Interleaved rounds of bare / NORMAL / FULL: the VM's speed drifts, medians of rounds do not. */
  insertRounds: number;
  insertSeconds: number;
  warmupSeconds: number;
  sseSeconds: number;
  fanouts: ReadonlyArray<{ subscribers: number; rate: number }>;
  idleConnections: number;
  mixedSeconds: number;
}

const FULL: Config = {
  insertRounds: 3,
  insertSeconds: 8,
  warmupSeconds: 2,
  sseSeconds: 10,
  fanouts: [
    { subscribers: 100, rate: 100 },
    { subscribers: 1000, rate: 100 },
    { subscribers: 5000, rate: 20 },
  ],
  idleConnections: 2000,
  mixedSeconds: 10,
};

const QUICK: Config = {
  insertRounds: 1,
  insertSeconds: 4,
  warmupSeconds: 1,
  sseSeconds: 4,
  fanouts: [
    { subscribers: 100, rate: 100 },
    { subscribers: 1000, rate: 100 },
    { subscribers: 5000, rate: 20 },
  ],
  idleConnections: 1000,
  mixedSeconds: 4,
};

interface ServerProcess {
  port: number;
  stats(): Promise<FromServer & { type: 'stats' }>;
  reset(): void;
  gc(): Promise<void>;
  stop(): Promise<void>;
}

function nextMessage<T extends FromServer['type']>(child: ChildProcess, type: T): Promise<FromServer & { type: T }> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromServer) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as FromServer & { type: T });
    };
    const onExit = (code: number | null) => reject(new Error(`server exited with code ${code}`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function startServer(args: string[]): Promise<ServerProcess> {
  // The parent's execArgv (--conditions=@dualstore/source --import tsx) lets the child run TypeScript.
  const child = fork(SERVER_SCRIPT, args, {
    execArgv: [...process.execArgv, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await nextMessage(child, 'ready');
  const send = (message: ToServer) => child.send(message);
  return {
    port,
    stats() {
      const reply = nextMessage(child, 'stats');
      send({ type: 'stats' });
      return reply;
    },
    reset() {
      send({ type: 'reset' });
    },
    async gc() {
      const reply = nextMessage(child, 'gc-done');
      send({ type: 'gc' });
      await reply;
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    },
  };
}

const INSERT_BODY = JSON.stringify({
  text: 'deploy of build 4411 finished on staging @ops',
  metadata: { repo: 'x', n: 1 },
});

async function loadInserts(
  port: number,
  seconds: number,
  dir: string,
): Promise<{ rps: number; p99: number; non2xx: number }> {
  const result = await wrkPost({
    url: `http://127.0.0.1:${port}/v1/events`,
    body: INSERT_BODY,
    connections: 50,
    seconds,
    dir,
  });
  return { rps: result.rps, p99: result.p99Ms, non2xx: result.errors };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function measureInserts(config: Config, dir: string, log: (m: string) => void, notes: string[]): Promise<Row[]> {
  ensureWrk();
  const modes = [
    ['bare', () => ['bare']],
    ['normal', (round: number) => ['dualstore', path.join(dir, `insert-normal-${round}.sqlite`), 'normal']],
    ['full', (round: number) => ['dualstore', path.join(dir, `insert-full-${round}.sqlite`), 'full']],
  ] as const;
  const runs: Record<string, Array<{ rps: number; p99: number; non2xx: number }>> = { bare: [], normal: [], full: [] };
  for (let round = 0; round < config.insertRounds; round++) {
    for (const [name, args] of modes) {
      const server = await startServer([...args(round)]);
      try {
        await loadInserts(server.port, config.warmupSeconds, dir);
        const figure = await loadInserts(server.port, config.insertSeconds, dir);
        runs[name]?.push(figure);
        log(`inserts ${name}, round ${round + 1}: ${Math.round(figure.rps)} req/s, p99 ${figure.p99} ms`);
      } finally {
        await server.stop();
      }
    }
  }
  const summary = (name: string) => {
    const list = runs[name] ?? [];
    return {
      rps: median(list.map((r) => r.rps)),
      p99: median(list.map((r) => r.p99)),
      non2xx: list.reduce((sum, r) => sum + r.non2xx, 0),
    };
  };
  const bare = summary('bare');
  const rows: Row[] = [];
  for (const [name, label, target] of [
    ['normal', 'synchronous=NORMAL (default)', 0.4],
    ['full', 'synchronous=FULL', 0.35],
  ] as const) {
    const figure = summary(name);
    const ratios = (runs[name] ?? []).map((r, i) => Math.round((r.rps / (runs.bare?.[i]?.rps ?? Number.NaN)) * 100));
    notes.push(`inserts ${label}: per-round share of the bare route ${ratios.join('%, ')}% (medians in the table)`);
    rows.push({
      name: `POST /v1/events, 50 connections, ${label}`,
      value: figure.rps,
      unit: 'req/s',
      ceiling: bare.rps,
      target: shareOfCeiling(target),
      note:
        figure.non2xx > 0
          ? `${figure.non2xx} non-2xx`
          : `median of ${config.insertRounds} interleaved rounds; ceiling: bare Fastify parse + reply`,
    });
    rows.push({ name: `  p99 latency, ${label}`, value: figure.p99, unit: 'ms', ceiling: bare.p99 });
  }
  return rows;
}

interface FanoutResult {
  p50: number;
  p99: number;
  /** Server CPU µs per delivered event. */
  cpuPerEventUs: number;
  /** The subscriber fleet's own CPU µs per delivered event (what the load generator costs). */
  fleetCpuPerEventUs: number;
  delivered: number;
  expected: number;
  disconnected: number;
}

async function fanout(
  server: ServerProcess,
  subscribers: number,
  rate: number,
  seconds: number,
): Promise<FanoutResult> {
  const fleet = await SseFleet.open(server.port, subscribers);
  try {
    // Warm-up: JIT, the hub's first page reads.
    await publish(server.port, rate, 1);
    fleet.startRecording();
    server.reset();
    const { sent } = await publish(server.port, rate, seconds);
    // Let the last events arrive: wait until every subscriber has every event (or 5 s pass).
    const expected = sent * subscribers;
    for (let i = 0; i < 100 && (await fleet.delivered()).delivered < expected; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const stats = await server.stats();
    const { latencies, delivered, disconnected, cpuUs: fleetCpuUs } = await fleet.collect();
    const summary = latencySummary(latencies);
    return {
      p50: summary.p50,
      p99: summary.p99,
      cpuPerEventUs: stats.cpuUs / Math.max(1, delivered),
      fleetCpuPerEventUs: fleetCpuUs / Math.max(1, delivered),
      delivered,
      expected,
      disconnected,
    };
  } finally {
    fleet.close();
  }
}

async function measureFanout(config: Config, dir: string, log: (m: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { subscribers, rate } of config.fanouts) {
    const plainServer = await startServer(['plain-sse']);
    let plain: FanoutResult;
    try {
      plain = await fanout(plainServer, subscribers, rate, config.sseSeconds);
    } finally {
      await plainServer.stop();
    }
    const server = await startServer(['dualstore', path.join(dir, `fanout-${subscribers}.sqlite`), 'normal']);
    let ours: FanoutResult;
    try {
      ours = await fanout(server, subscribers, rate, config.sseSeconds);
    } finally {
      await server.stop();
    }
    log(
      `fanout ${subscribers}×${rate}/s: p99 ${ours.p99.toFixed(1)} ms (plain ${plain.p99.toFixed(1)}), ` +
        `cpu ${ours.cpuPerEventUs.toFixed(2)} µs/event (plain ${plain.cpuPerEventUs.toFixed(2)}; ` +
        `subscriber fleet ${ours.fleetCpuPerEventUs.toFixed(2)})`,
    );
    const complete = ours.delivered >= ours.expected ? '' : `, only ${ours.delivered}/${ours.expected} delivered`;
    const target = subscribers === 1000 ? atMost(25) : subscribers === 5000 ? atMost(100) : undefined;
    rows.push({
      name: `SSE publish→receive p50, ${subscribers} subscribers at ${rate} events/s`,
      value: ours.p50,
      unit: 'ms',
      ceiling: plain.p50,
    });
    const p99: Figure = {
      name: `SSE publish→receive p99, ${subscribers} subscribers at ${rate} events/s`,
      value: ours.p99,
      unit: 'ms',
      ceiling: plain.p99,
      note: `ceiling: plain Node res.write fan-out${complete}${ours.disconnected > 0 ? `, ${ours.disconnected} dropped` : ''}`,
    };
    if (target) p99.target = target;
    rows.push(p99);
    if (subscribers === 1000) {
      rows.push({
        name: `server CPU per delivered event, ${subscribers} subscribers`,
        value: ours.cpuPerEventUs,
        unit: 'µs',
        ceiling: plain.cpuPerEventUs,
        // ≤ 0.6× the plain fan-out's CPU: an absolute bound computed from the in-run ceiling.
        target: atMost(0.6 * plain.cpuPerEventUs),
        note: 'target ≤ 0.6× the plain fan-out',
      });
    }
  }
  return rows;
}

async function measureIdleRss(config: Config, dir: string, log: (m: string) => void): Promise<Row[]> {
  const server = await startServer(['dualstore', path.join(dir, 'idle.sqlite'), 'normal']);
  try {
    // One stream first, so per-connection figures exclude the hub's one-time setup.
    const first = await SseFleet.open(server.port, 1);
    await server.gc();
    const before = (await server.stats()).rss;
    const fleet = await SseFleet.open(server.port, config.idleConnections);
    await server.gc();
    const after = (await server.stats()).rss;
    fleet.close();
    first.close();
    const perConnection = (after - before) / config.idleConnections / 1024;
    log(`idle streams: ${perConnection.toFixed(1)} KiB each`);
    return [
      {
        name: `server RSS per idle SSE connection (${config.idleConnections} open)`,
        value: perConnection,
        unit: 'KiB',
        target: atMost(24),
      },
    ];
  } finally {
    await server.stop();
  }
}

/** Event-loop delay p99/p50 of a server while 1,000 streams get 100 inserts/s and searches run. */
async function mixedLoad(args: string[], seconds: number): Promise<{ p99: number; p50: number; searches: number }> {
  const server = await startServer(args);
  const fleet = await SseFleet.open(server.port, 1000);
  try {
    await publish(server.port, 100, 1);
    server.reset();
    let searching = true;
    const searches = (async () => {
      let n = 0;
      while (searching) {
        const response = await fetch(`http://127.0.0.1:${server.port}/v1/events/search?q=deploys&k=8`);
        await response.arrayBuffer();
        n += 1;
        await new Promise((r) => setTimeout(r, 20));
      }
      return n;
    })();
    await publish(server.port, 100, seconds);
    searching = false;
    const searchCount = await searches;
    const stats = await server.stats();
    return { p99: stats.eldP99Ms, p50: stats.eldP50Ms, searches: searchCount };
  } finally {
    fleet.close();
    await server.stop();
  }
}

async function measureMixed(config: Config, dir: string, log: (m: string) => void): Promise<Row[]> {
  // The ceiling: the plain Node fan-out under the same streams and publishing (its "search" is a
  // cheap 404), i.e. what this machine's scheduling alone costs an event loop doing that work.
  const plain = await mixedLoad(['plain-sse'], config.mixedSeconds);
  const ours = await mixedLoad(['dualstore', path.join(dir, 'mixed.sqlite'), 'normal'], config.mixedSeconds);
  log(`mixed load: event-loop delay p99 ${ours.p99.toFixed(1)} ms (plain fan-out ${plain.p99.toFixed(1)} ms)`);
  return [
    {
      name: 'event-loop delay p99: 100 inserts/s + searches + 1,000 streams',
      value: ours.p99,
      unit: 'ms',
      ceiling: plain.p99,
      target: atMost(10),
      note: `p50 ${ours.p50.toFixed(1)} ms, ${ours.searches} searches; ceiling: plain Node fan-out, same load`,
    },
  ];
}

/** Docs in the store before a soak starts, as a long-running server's file would hold. */
const SOAK_PREFILL_DOCS = 100_000;
/**
 * Before the baseline: a burst that fills the bounded caches sooner than 100/s would (the hub's
 * frame cache, SQLite's page caches as the file and the index grow), then a minute at the soak's
 * own rate so the burst's in-flight memory has settled when the baseline is read.
 */
const SOAK_WARMUP = { rate: 1000, seconds: 60, settleSeconds: 60 };

/** Fill a store file directly (batches of 1,000) before the server opens it. */
async function prefill(file: string, docs: number): Promise<void> {
  const { openSqliteStore } = await import('../packages/store-sqlite/src/index.js');
  const store = await openSqliteStore({ path: file, search: false });
  const corpus = new Corpus({ seed: 7 });
  try {
    for (let done = 0; done < docs; done += 1000) {
      await store.insertBatch(
        'events',
        Array.from({ length: Math.min(1000, docs - done) }, () => ({ doc: { text: corpus.next() } })),
      );
    }
  } finally {
    await store.close();
  }
}

/** Resolves once the server's search index covers the whole feed (the prefill is indexed). */
async function waitForIndex(port: number): Promise<void> {
  const deadline = performance.now() + 5 * 60_000;
  for (;;) {
    if (performance.now() > deadline)
      throw new Error('the search index did not catch up with the prefill in 5 minutes');
    const response = await fetch(`http://127.0.0.1:${port}/v1/events/search?q=zzzz&k=1&wait_for=${SOAK_PREFILL_DOCS}`);
    const body = (await response.json()) as { indexed_through?: number };
    if ((body.indexed_through ?? 0) >= SOAK_PREFILL_DOCS) return;
  }
}

async function soak(dir: string, log: (m: string) => void): Promise<{ rows: Row[]; notes: string[] }> {
  // A soak looks for leaks, so it starts where a server that has run for a while is: a file with
  // history, the search index caught up, and the hub's bounded frame cache full. From a cold start
  // RSS also grows while bounded caches fill (SQLite's page caches, 32 MiB per connection, fill
  // as the file grows); that is warm-up, not drift (docs/decisions.md).
  const file = path.join(dir, 'soak.sqlite');
  await prefill(file, SOAK_PREFILL_DOCS);
  log(`soak: ${SOAK_PREFILL_DOCS.toLocaleString('en-US')} docs written before the server starts`);
  const server = await startServer(['dualstore', file, 'normal']);
  const fleet = await SseFleet.open(server.port, 1000);
  const readings: number[] = [];
  const heaps: string[] = [];
  try {
    await waitForIndex(server.port);
    await publish(server.port, SOAK_WARMUP.rate, SOAK_WARMUP.seconds);
    await publish(server.port, 100, SOAK_WARMUP.settleSeconds);
    log('soak: prefill indexed, warm-up published');
    for (let minute = 0; minute <= 5; minute++) {
      if (minute > 0) await publish(server.port, 100, 60);
      await server.gc();
      const { rss, heapUsed, external } = await server.stats();
      readings.push(rss);
      heaps.push(`${(heapUsed / 2 ** 20).toFixed(1)}/${(external / 2 ** 20).toFixed(1)}`);
      log(
        `soak minute ${minute}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB, JS heap ${(heapUsed / 2 ** 20).toFixed(1)} MiB, Buffers ${(external / 2 ** 20).toFixed(1)} MiB`,
      );
    }
  } finally {
    fleet.close();
    await server.stop();
  }
  // Minute 0 is the baseline, taken after the warm-up; the issue asks for RSS within ±10% of it.
  const baseline = readings[0] as number;
  const worst = Math.max(...readings.slice(1).map((rss) => Math.abs(rss / baseline - 1)));
  return {
    rows: [
      {
        name: 'soak: worst RSS drift after warm-up (1,000 streams, 100 inserts/s, 5 min)',
        value: worst * 100,
        unit: '%',
        target: atMost(10),
      },
    ],
    notes: [
      `soak: the store held ${SOAK_PREFILL_DOCS.toLocaleString('en-US')} docs (indexed) before the server started; warm-up ${SOAK_WARMUP.rate} inserts/s for ${SOAK_WARMUP.seconds} s then 100/s for ${SOAK_WARMUP.settleSeconds} s with the 1,000 streams open; minute 0 is the baseline after it`,
      `soak RSS by minute (MiB): ${readings.map((rss) => (rss / 2 ** 20).toFixed(1)).join(', ')}`,
      `soak JS heap used / external (Buffers) by minute (MiB): ${heaps.join(', ')}`,
    ],
  };
}

export async function run({ quick, dir, log, soak: soakMode }: BenchContext): Promise<BenchReport> {
  const config = quick ? QUICK : FULL;
  const rows: Row[] = [];
  const notes: string[] = [];
  const sections: Array<[string, () => Promise<Row[]>]> = soakMode
    ? [
        [
          'soak',
          async () => {
            const result = await soak(dir, log);
            notes.push(...result.notes);
            return result.rows;
          },
        ],
      ]
    : [
        ['inserts', () => measureInserts(config, dir, log, notes)],
        ['fan-out', () => measureFanout(config, dir, log)],
        ['idle streams', () => measureIdleRss(config, dir, log)],
        ['mixed load', () => measureMixed(config, dir, log)],
      ];
  for (const [name, section] of sections) {
    log(`section: ${name}`);
    try {
      rows.push(...(await section()));
    } catch (error) {
      rows.push({ name, error: error instanceof Error ? error.message : String(error) });
    }
  }
  notes.push(
    'Servers run in child processes; the load generator (wrk, the SSE fleet, the publisher) shares the 2 cores with them, for the ceilings as for DualStore.',
    'SSE latency: the publisher stamps the time (performance.timeOrigin + performance.now(), comparable across processes) into each doc; the subscribers — a C epoll client (bench/lib/sse-fleet.c) holding every stream on a raw socket and scanning the bytes — compute receive − send.',
  );
  return { rows, notes };
}
