// SPDX-License-Identifier: GPL-3.0-or-later
// client.worker() against a real server: exactly-once processing by competing workers when
// nothing fails, redelivery of a dead worker's doc after its lease, lease heartbeats, failing on
// a throw, and graceful / releasing stops.

import { createClient, type DualStoreHttp, type WorkerHandle } from '@dualstore/sse-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import { eventually, Waiter } from './helpers.js';

let server: TestServer;
let client: DualStoreHttp;
const workers: WorkerHandle[] = [];

beforeEach(async () => {
  server = await startServer({ store: { search: false } });
  client = createClient({ baseUrl: server.url });
});
afterEach(async () => {
  for (const worker of workers.splice(0)) await worker.stop({ release: true }).catch(() => {});
  await server.close();
});

function start(...args: Parameters<DualStoreHttp['worker']>): WorkerHandle {
  const worker = client.worker(...args);
  workers.push(worker);
  return worker;
}

describe('worker', () => {
  it('4 concurrent workers process 1,000 tasks exactly once', async () => {
    const docs = Array.from({ length: 1000 }, (_, i) => ({ text: `task ${i}` }));
    await client.batch('agent_tasks', docs);
    const seen = new Map<string, number>();
    const waiter = new Waiter();
    const errors: string[] = [];
    const pool = Array.from({ length: 4 }, (_, n) =>
      // Each worker has its own client, as separate processes would.
      createClient({ baseUrl: server.url }).worker(
        'agent_tasks',
        async ({ doc }) => {
          seen.set(doc.id, (seen.get(doc.id) ?? 0) + 1);
          waiter.notify();
        },
        { agent: `w${n}`, concurrency: 2, waitMs: 1000, onError: (e) => errors.push(e.code) },
      ),
    );
    workers.push(...pool);
    await waiter.until(() => seen.size === 1000, 60_000, '1,000 tasks');
    await Promise.all(pool.map((w) => w.stop()));

    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(pool.reduce((sum, w) => sum + w.stats.completed, 0)).toBe(1000);
    expect(pool.reduce((sum, w) => sum + w.stats.claimed, 0)).toBe(1000);
    expect(pool.every((w) => w.stats.completed > 0)).toBe(true);
    const stats = await client.stats('agent_tasks');
    expect(stats.counts).toEqual({ pending: 0, processing: 0, completed: 1000, failed: 0 });
    expect(errors).toEqual([]);
  }, 90_000);

  it('redelivers a doc whose claimer died, after its lease', async () => {
    const { id } = await client.insert('agent_tasks', { text: 'orphan' });
    // The dead worker: it claimed with a short lease and then never extended, completed or released.
    const [abandoned] = (await client.claim('agent_tasks', { agent: 'dead', leaseMs: 300 })).items;
    expect(abandoned?.doc.id).toBe(id);

    const done: { id: string; attempts: number }[] = [];
    const waiter = new Waiter();
    start(
      'agent_tasks',
      ({ doc }) => {
        done.push({ id: doc.id, attempts: doc.attempts });
        waiter.notify();
      },
      { agent: 'alive', waitMs: 5000 },
    );
    await waiter.until(() => done.length === 1, 10_000, 'redelivery');
    expect(done).toEqual([{ id, attempts: 2 }]);
    await eventually(async () => (await client.get('agent_tasks', id)).status === 'completed', 5000, 'completed');
    // The dead worker's token is fenced off.
    await expect(client.complete('agent_tasks', id, abandoned!.claim.token)).rejects.toMatchObject({
      code: 'already_finished',
    });
  });

  it('redelivers the doc of a worker that hangs and is cut off from the server', async () => {
    const { id } = await client.insert('agent_tasks', { text: 'hang' });
    let partitioned = false;
    const claimed = new Waiter();
    let hungOn: string | undefined;
    // A worker whose network dies after its claim: its lease heartbeats never arrive.
    const cutOff = createClient({
      baseUrl: server.url,
      fetch: (url, init) => (partitioned ? Promise.reject(new TypeError('network down')) : globalThis.fetch(url, init)),
    });
    const hung = cutOff.worker(
      'agent_tasks',
      ({ doc }) => {
        hungOn = doc.id;
        partitioned = true;
        claimed.notify();
        return new Promise(() => {});
      },
      { agent: 'hung', leaseMs: 300, waitMs: 1000 },
    );
    workers.push(hung);
    await claimed.until(() => hungOn === id, 5000, 'the hung claim');

    const rescued: string[] = [];
    const waiter = new Waiter();
    start(
      'agent_tasks',
      ({ doc }) => {
        rescued.push(doc.id);
        waiter.notify();
      },
      { agent: 'rescuer', waitMs: 5000 },
    );
    await waiter.until(() => rescued.length === 1, 10_000, 'redelivery');
    expect(rescued).toEqual([id]);
    await hung.stop({ release: true });
    expect(hung.stats.completed).toBe(0);
  });

  it('extends the lease while a handler runs longer than the lease', async () => {
    const { id } = await client.insert('agent_tasks', { text: 'slow' });
    const waiter = new Waiter();
    let finish!: () => void;
    let started = false;
    const worker = start(
      'agent_tasks',
      () => {
        started = true;
        waiter.notify();
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
      { agent: 'slow', leaseMs: 300, waitMs: 1000 },
    );
    await waiter.until(() => started, 5000, 'start');
    const first = (await client.get('agent_tasks', id)).lease_expires_at!;
    // Past the original lease, the doc is still leased (to a later time) and not claimable.
    await eventually(
      async () =>
        Date.now() > Date.parse(first) + 200 && (await client.get('agent_tasks', id)).lease_expires_at! > first,
      5000,
      'a renewed lease past the first one',
    );
    expect((await client.claim('agent_tasks', { agent: 'thief' })).items).toEqual([]);
    finish();
    await eventually(async () => (await client.get('agent_tasks', id)).status === 'completed', 5000, 'completed');
    expect(worker.stats).toMatchObject({ claimed: 1, completed: 1, lost: 0 });
  });

  it('fails the doc with the error text when the handler throws', async () => {
    const { id } = await client.insert('agent_tasks', { text: 'bad', max_attempts: 1 });
    const worker = start(
      'agent_tasks',
      () => {
        throw new Error('cannot do it');
      },
      { agent: 'thrower', waitMs: 1000 },
    );
    await eventually(async () => (await client.get('agent_tasks', id)).status === 'failed', 5000, 'failed');
    expect((await client.get('agent_tasks', id)).last_error).toBe('cannot do it');
    await worker.stop();
    expect(worker.stats.failed).toBe(1);
  });

  it('stop() stops claiming and waits for in-flight work; stop({ release }) gives it back', async () => {
    const a = await client.insert('agent_tasks', { text: 'a' });
    let finish!: () => void;
    const waiter = new Waiter();
    let running = 0;
    const graceful = start(
      'agent_tasks',
      () => {
        running++;
        waiter.notify();
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
      { agent: 'g', waitMs: 20_000 },
    );
    await waiter.until(() => running === 1, 5000, 'running');
    let stopped = false;
    const stopping = graceful.stop().then(() => {
      stopped = true;
    });
    await client.insert('agent_tasks', { text: 'not for a stopping worker' });
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect((await client.get('agent_tasks', a.id)).status).toBe('completed');
    expect(graceful.stats).toMatchObject({ claimed: 1, completed: 1 });

    // A handler that ignores its signal: a releasing stop still returns, and the doc is free again.
    let signalled = false;
    const stuck = start(
      'agent_tasks',
      ({ signal }) => {
        signal.addEventListener('abort', () => {
          signalled = true;
        });
        running++;
        waiter.notify();
        return new Promise(() => {});
      },
      { agent: 'stuck', waitMs: 20_000 },
    );
    await waiter.until(() => running === 2, 5000, 'second running');
    await stuck.stop({ release: true });
    expect(signalled).toBe(true);
    expect(stuck.stats).toMatchObject({ claimed: 1, released: 1, completed: 0 });
    expect((await client.stats('agent_tasks')).counts.pending).toBe(1);
  });

  it('an aborted signal stops it; a fatal error (unknown collection) rejects done', async () => {
    const controller = new AbortController();
    const worker = start('agent_tasks', () => {}, { agent: 'sig', waitMs: 20_000, signal: controller.signal });
    controller.abort();
    await worker.done;

    const broken = client.worker('nope', () => {}, { agent: 'x' });
    await expect(broken.done).rejects.toMatchObject({ code: 'collection_not_found' });
  });

  it('backs off and carries on through a server that is briefly unreachable', async () => {
    let down = true;
    const codes: string[] = [];
    const flaky = createClient({
      baseUrl: server.url,
      fetch: (url, init) => (down ? Promise.reject(new TypeError('refused')) : globalThis.fetch(url, init)),
    });
    const waiter = new Waiter();
    const processed: string[] = [];
    const worker = flaky.worker(
      'agent_tasks',
      ({ doc }) => {
        processed.push(doc.id);
      },
      {
        agent: 'flaky',
        waitMs: 1000,
        onError: (e) => {
          codes.push(e.code);
          waiter.notify();
        },
      },
    );
    workers.push(worker);
    await waiter.until(() => codes.length >= 2, 10_000, 'two failed claims');
    down = false;
    const { id } = await client.insert('agent_tasks', { text: 'after the outage' });
    await eventually(() => processed.includes(id), 15_000, 'processed after the outage');
    expect(new Set(codes)).toEqual(new Set(['network_error']));
  });
});
