// SPDX-License-Identifier: GPL-3.0-or-later
// A server under test for `pnpm bench http`, run as a child process so its CPU, RSS and event-loop
// delay are its own and not the load generator's. Modes:
//   dualstore <dbPath> <normal|full>  buildApp over the SQLite store (search on: the default)
//   bare                                the ceiling for REST: a Fastify JSON POST route, parse + reply
//   plain-sse                           the ceiling for SSE: node:http, `res.write` to every subscriber
// It reports `{ type: 'ready', port }` over IPC, then answers `stats` with its RSS, CPU time and
// event-loop delay since the last `reset`.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
// By file: the contract's index loads vitest.
import { sampleDoc } from '../../packages/core/src/contract/sample-doc.js';
import type { Doc, JsonObject } from '../../packages/core/src/index.js';

export type ToServer = { type: 'stats' } | { type: 'reset' } | { type: 'gc' };
export type FromServer =
  | { type: 'ready'; port: number }
  | {
      type: 'stats';
      rss: number;
      heapUsed: number;
      external: number;
      cpuUs: number;
      eldP50Ms: number;
      eldP99Ms: number;
    }
  | { type: 'gc-done' };

const [mode = 'dualstore', dbPath = '', durability = 'normal'] = process.argv.slice(2);

/** A doc-shaped object, so the plain fan-out writes frames of the same size as DualStore's. */
function fakeDoc(seq: number, body: { text?: string; metadata?: JsonObject }): Doc {
  return sampleDoc({
    id: `0196${seq.toString(16).padStart(28, '0')}`,
    seq,
    text: body.text ?? '',
    timestamp: new Date().toISOString(),
    metadata: body.metadata ?? {},
  });
}

async function startDualstore(): Promise<http.Server> {
  const { buildApp } = await import('../../packages/dualstore-http/src/index.js');
  const { openSqliteStore } = await import('../../packages/store-sqlite/src/index.js');
  const store = await openSqliteStore({ path: dbPath, durability: durability === 'full' ? 'full' : 'normal' });
  const app = await buildApp({ store, rateLimitMax: 0, sseMaxPerClient: 100_000 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server;
}

async function startBare(): Promise<http.Server> {
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  let seq = 0;
  app.post('/v1/events', async (request, reply) => {
    const body = request.body as { text?: unknown };
    if (typeof body?.text !== 'string') return reply.code(400).send({ code: 'validation_failed' });
    seq += 1;
    return reply.code(201).send({ id: `bare-${seq}`, seq });
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app.server;
}

function startPlainSse(): Promise<http.Server> {
  const subscribers = new Set<http.ServerResponse>();
  let seq = 0;
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/v1/events/stream')) {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 3000\n\n');
      subscribers.add(res);
      req.on('close', () => subscribers.delete(res));
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/events') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seq += 1;
        const doc = fakeDoc(seq, JSON.parse(Buffer.concat(chunks).toString('utf8')));
        const frame = `id: ${seq}\nevent: insert\ndata: ${JSON.stringify(doc)}\n\n`;
        for (const subscriber of subscribers) subscriber.write(frame);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: doc.id, seq }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const server =
  mode === 'bare' ? await startBare() : mode === 'plain-sse' ? await startPlainSse() : await startDualstore();
// Thousands of subscribers connect at once in the SSE sections.
server.maxConnections = 100_000;

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let cpuMark = process.cpuUsage();

process.on('message', (message: ToServer) => {
  if (message.type === 'reset') {
    delay.reset();
    cpuMark = process.cpuUsage();
    return;
  }
  if (message.type === 'gc') {
    // Started with --expose-gc: settle the heap so an RSS reading reflects live memory.
    (globalThis as { gc?: () => void }).gc?.();
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ type: 'gc-done' } satisfies FromServer);
    return;
  }
  const cpu = process.cpuUsage(cpuMark);
  process.send?.({
    type: 'stats',
    rss: process.memoryUsage.rss(),
    // The JS heap and Buffers: flat while RSS grows means native memory (SQLite's page caches,
    // bounded by cache_size) rather than a leak in JS.
    heapUsed: process.memoryUsage().heapUsed,
    external: process.memoryUsage().external,
    cpuUs: cpu.user + cpu.system,
    eldP50Ms: delay.percentile(50) / 1e6,
    eldP99Ms: delay.percentile(99) / 1e6,
  } satisfies FromServer);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port } satisfies FromServer);
