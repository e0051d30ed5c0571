// SPDX-License-Identifier: GPL-3.0-or-later
// subscribe / createDualStoreStream against a real server (events, filters, resume, auth by
// header and by ticket, fatal answers, a server restart mid-stream), and against a scripted
// fetch for what a correct server never does (repeated ids, 204, custom `retry:`).

import {
  createClient,
  createDualStoreStream,
  type DualStoreError,
  type FetchLike,
  type StreamErrorInfo,
  type SubscribeOptions,
  type Subscription,
} from '@dualstore/sse-client';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay } from '../../packages/dualstore-sse-client/src/backoff.js';
import { startServer, type TestServer } from '../helpers.js';
import { type RestartableServer, scriptedFetch, startRestartableServer, Waiter } from './helpers.js';

/** A subscription's deliveries, recorded, with a waiter woken by each. */
function recorder() {
  const waiter = new Waiter();
  const events: { kind: string; seq: number; id: string; text?: string; status?: string }[] = [];
  const errors: { error: DualStoreError; info: StreamErrorInfo }[] = [];
  let opens = 0;
  const handlers: SubscribeOptions = {
    onInsert: (doc, seq) => {
      events.push({ kind: 'insert', seq, id: doc.id, text: doc.text, status: doc.status });
      waiter.notify();
    },
    onUpdate: (doc, seq) => {
      events.push({ kind: 'update', seq, id: doc.id, text: doc.text, status: doc.status });
      waiter.notify();
    },
    onDelete: (deleted, seq) => {
      events.push({ kind: 'delete', seq, id: deleted.id });
      waiter.notify();
    },
    onOpen: () => {
      opens++;
      waiter.notify();
    },
    onError: (error, info) => {
      errors.push({ error, info });
      waiter.notify();
    },
  };
  return {
    waiter,
    events,
    errors,
    handlers,
    get opens() {
      return opens;
    },
  };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
function track<T extends Subscription>(sub: T): T {
  cleanups.push(() => sub.close());
  return sub;
}
async function server(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const started = await startServer({ store: { search: false }, ...options });
  cleanups.push(() => started.close());
  return started;
}

describe('subscribe against the server', () => {
  it('delivers insert, update and delete events in feed order, from "now"', async () => {
    const s = await server();
    const client = createClient({ baseUrl: s.url });
    await client.insert('events', { text: 'before' });
    const r = recorder();
    const sub = track(client.subscribe('events', r.handlers));
    await r.waiter.until(() => r.opens === 1, 5000, 'open');

    const { id } = await client.insert('events', { text: 'one', timestamp: '2020-01-01T00:00:00.000Z' });
    await client.claim('events', { agent: 'a', filter: { id } });
    await client.deleteDocs('events', { olderThan: '2021-01-01T00:00:00.000Z' });
    await r.waiter.until(() => r.events.length >= 3, 5000, 'three events');

    expect(r.events.map((e) => [e.kind, e.id])).toEqual([
      ['insert', id],
      ['update', id],
      ['delete', id],
    ]);
    expect(r.events[1]?.status).toBe('processing');
    const seqs = r.events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(sub.lastEventId).toBe(seqs[2]);
    expect(r.errors).toEqual([]);
  });

  it('resumes from a recent page cursor with nothing missed, and applies filters to catch-up', async () => {
    const s = await server();
    const client = createClient({ baseUrl: s.url });
    await client.insert('events', { text: 'old' });
    const { cursor } = await client.recent('events', { limit: 1 });
    await client.insert('events', { text: 'a', topic: 't1' });
    await client.insert('events', { text: 'b', topic: 't2' });
    await client.insert('events', { text: 'c', topic: 't1', metadata: { keep: true } });

    const all = recorder();
    track(client.subscribe('events', { ...all.handlers, since: cursor }));
    const topic = recorder();
    track(client.subscribe('events', { ...topic.handlers, since: cursor, topic: 't1' }));
    const filtered = recorder();
    track(client.subscribe('events', { ...filtered.handlers, since: cursor, filter: { 'metadata.keep': true } }));

    await all.waiter.until(() => all.events.length === 3, 5000, 'catch-up');
    await topic.waiter.until(() => topic.events.length === 2, 5000, 'topic catch-up');
    await filtered.waiter.until(() => filtered.events.length === 1, 5000, 'filtered catch-up');
    expect(all.events.map((e) => e.text)).toEqual(['a', 'b', 'c']);
    expect(topic.events.map((e) => e.text)).toEqual(['a', 'c']);
    expect(filtered.events.map((e) => e.text)).toEqual(['c']);
  });

  it('streams several collections on one connection', async () => {
    const s = await server();
    const client = createClient({ baseUrl: s.url });
    const r = recorder();
    track(client.subscribe(['events', 'agent_tasks'], r.handlers));
    await r.waiter.until(() => r.opens === 1, 5000, 'open');
    await client.insert('agent_tasks', { text: 'task' });
    await client.insert('events', { text: 'event' });
    await client.insert('session_messages', { text: 'not subscribed' });
    await client.insert('events', { text: 'last' });
    await r.waiter.until(() => r.events.length === 3, 5000, 'three');
    expect(r.events.map((e) => e.text)).toEqual(['task', 'event', 'last']);
  });

  it('passes heartbeats to onHeartbeat without moving the resume position', async () => {
    const s = await server({ heartbeatMs: 50 });
    const waiter = new Waiter();
    const beats: string[] = [];
    const sub = track(
      createClient({ baseUrl: s.url }).subscribe('events', {
        since: 0,
        onHeartbeat: ({ t }) => {
          beats.push(t);
          waiter.notify();
        },
      }),
    );
    await waiter.until(() => beats.length >= 2, 5000, 'two heartbeats');
    expect(Number.isNaN(Date.parse(beats[0]!))).toBe(false);
    expect(sub.lastEventId).toBe(0);
  });

  it('createDualStoreStream resumes after lastEventId', async () => {
    const s = await server();
    const client = createClient({ baseUrl: s.url });
    const first = await client.insert('events', { text: 'seen' });
    await client.insert('events', { text: 'missed 1' });
    await client.insert('events', { text: 'missed 2' });
    const r = recorder();
    track(createDualStoreStream({ baseUrl: s.url, collection: 'events', lastEventId: first.seq, ...r.handlers }));
    await r.waiter.until(() => r.events.length === 2, 5000, 'catch-up');
    expect(r.events.map((e) => e.text)).toEqual(['missed 1', 'missed 2']);
  });

  it.each([
    ['collection_not_found', 'nope', {}],
    ['bad_cursor', 'events', { since: 'yesterday' }],
    ['bad_filter', 'events', { since: 0, filter: { 'metadata.x': { $nope: 1 } } }],
  ] as const)('stops with %s and does not reconnect', async (code, collection, options) => {
    const s = await server();
    const r = recorder();
    const sub = track(createClient({ baseUrl: s.url }).subscribe(collection, { ...r.handlers, ...options }));
    await r.waiter.until(() => r.errors.length > 0, 5000, 'error');
    expect(r.errors.map((e) => [e.error.code, e.info.willRetry])).toEqual([[code, false]]);
    expect(sub.closed).toBe(true);
  });

  it('Node sends the bearer header, never the token in the URL; without a token: unauthorized, no retry', async () => {
    const s = await server({ authToken: 'root-token-123' });
    const seen: { url: string; headers: Record<string, string> }[] = [];
    const spy: FetchLike = (url, init) => {
      seen.push({ url, headers: init.headers });
      return globalThis.fetch(url, init);
    };
    const client = createClient({ baseUrl: s.url, token: 'root-token-123', fetch: spy });
    const r = recorder();
    track(client.subscribe('events', r.handlers));
    await r.waiter.until(() => r.opens === 1, 5000, 'open');
    await client.insert('events', { text: 'authed' });
    await r.waiter.until(() => r.events.length === 1, 5000, 'event');
    const stream = seen.find((call) => call.url.includes('/stream'))!;
    expect(stream.headers.authorization).toBe('Bearer root-token-123');
    expect(stream.headers['last-event-id']).toMatch(/^\d+$/);
    expect(seen.every((call) => !call.url.includes('root-token-123'))).toBe(true);

    const anonymous = recorder();
    const sub = track(createClient({ baseUrl: s.url }).subscribe('events', { ...anonymous.handlers, since: 0 }));
    await anonymous.waiter.until(() => anonymous.errors.length > 0, 5000, 'error');
    expect(anonymous.errors.map((e) => [e.error.code, e.info.willRetry])).toEqual([['unauthorized', false]]);
    expect(sub.closed).toBe(true);
  });

  it('ticket auth: the ticket in the URL, the bearer header only on POST /v1/tickets', async () => {
    const s = await server({ authToken: 'root-token-123' });
    const seen: { url: string; method: string; headers: Record<string, string> }[] = [];
    const spy: FetchLike = (url, init) => {
      seen.push({ url, method: init.method, headers: init.headers });
      return globalThis.fetch(url, init);
    };
    const client = createClient({ baseUrl: s.url, token: 'root-token-123', fetch: spy });
    const r = recorder();
    track(client.subscribe('events', { ...r.handlers, auth: 'ticket', retryMs: 20 }));
    await r.waiter.until(() => r.opens === 1, 5000, 'open');
    const { seq } = await client.insert('events', { text: 'via ticket' });
    await r.waiter.until(() => r.events.length === 1, 5000, 'event');

    const streams = () => seen.filter((call) => call.url.includes('/stream'));
    expect(streams()).toHaveLength(1);
    const first = new URL(streams()[0]!.url);
    expect(first.searchParams.get('ticket')).toMatch(/^dstk_/);
    expect(streams()[0]!.headers.authorization).toBeUndefined();
    expect(seen.find((call) => call.method === 'POST' && call.url.endsWith('/v1/tickets'))?.headers.authorization).toBe(
      'Bearer root-token-123',
    );
    expect(seq).toBe(r.events[0]?.seq);
  });
});

describe('subscribe across a server restart', () => {
  let restartable: RestartableServer | undefined;
  afterEach(async () => {
    await restartable?.close();
    restartable = undefined;
  });

  for (const auth of ['header', 'ticket'] as const) {
    it(`loses nothing and repeats nothing (${auth} auth)`, async () => {
      const token = auth === 'ticket' ? 'restart-token' : undefined;
      restartable = await startRestartableServer(token === undefined ? {} : { authToken: token });
      const server = restartable;
      const client = createClient({ baseUrl: server.url, token });
      const r = recorder();
      track(client.subscribe('events', { ...r.handlers, auth, retryMs: 50, maxRetryMs: 400 }));
      await r.waiter.until(() => r.opens === 1, 5000, 'open');

      for (let i = 0; i < 5; i++) await client.insert('events', { text: `doc ${i}` });
      await r.waiter.until(() => r.events.length === 5, 5000, 'first five');

      await server.stop();
      await r.waiter.until(() => r.errors.length > 0, 5000, 'the disconnect');
      // Written while the server is down, straight into its file: only a resume from the last
      // seen seq can deliver them.
      const offline = await openSqliteStore({ path: server.path, search: false });
      for (let i = 5; i < 10; i++) await offline.insert('events', { text: `doc ${i}` });
      await offline.close();
      await server.start();

      await r.waiter.until(() => r.events.length >= 10, 15_000, 'the offline five');
      for (let i = 10; i < 15; i++) await client.insert('events', { text: `doc ${i}` });
      await r.waiter.until(() => r.events.length >= 15, 5000, 'all fifteen');

      expect(r.events.map((e) => e.text)).toEqual(Array.from({ length: 15 }, (_, i) => `doc ${i}`));
      const seqs = r.events.map((e) => e.seq);
      expect(new Set(seqs).size).toBe(15);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(r.opens).toBeGreaterThanOrEqual(2);
      expect(r.errors.every((e) => e.info.willRetry)).toBe(true);
    });
  }
});

describe('subscribe protocol details (scripted fetch)', () => {
  const frame = (id: number, text = `t${id}`) =>
    `id: ${id}\nevent: insert\ndata: ${JSON.stringify({ id: `d${id}`, seq: id, text })}\n\n`;

  it('never delivers a seq twice, and resumes with Last-Event-ID of the last delivered one', async () => {
    const { fetch, calls, waiter } = scriptedFetch((_url, index) =>
      index === 0
        ? { body: `retry: 1\n\n${frame(1)}${frame(2)}${frame(3)}` }
        : { body: `retry: 1\n\n${frame(2)}${frame(3)}${frame(4)}`, open: true },
    );
    const r = recorder();
    track(createClient({ baseUrl: 'http://scripted.invalid', fetch }).subscribe('events', { ...r.handlers, since: 0 }));
    await r.waiter.until(() => r.events.length === 4, 5000, 'four');
    await waiter.until(() => calls.length === 2);
    expect(r.events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(calls[0]?.headers['last-event-id']).toBe('0');
    expect(calls[1]?.headers['last-event-id']).toBe('3');
    expect(r.errors.map((e) => [e.error.code, e.info.willRetry])).toEqual([['stream_ended', true]]);
    // The server's `retry: 1` is the backoff base: the first delay is below it.
    expect(r.errors[0]?.info.delayMs).toBeLessThan(1);
  });

  it('delivers reset and resumes from where the server restarted the stream', async () => {
    const { fetch, calls, waiter } = scriptedFetch((_url, index) =>
      index === 0
        ? { body: `retry: 1\n\nid: 40\nevent: reset\ndata: {"requested":3,"since":40}\n\n` }
        : { body: frame(41), open: true },
    );
    const resets: unknown[] = [];
    const r = recorder();
    track(
      createClient({ baseUrl: 'http://x.invalid', fetch }).subscribe('events', {
        ...r.handlers,
        since: 3,
        onReset: (reset) => resets.push(reset),
      }),
    );
    await r.waiter.until(() => r.events.length === 1, 5000, 'event after reset');
    await waiter.until(() => calls.length === 2);
    expect(resets).toEqual([{ requested: 3, since: 40 }]);
    expect(calls[1]?.headers['last-event-id']).toBe('40');
  });

  it('stops on 204 (stream_refused) and on a wrong content type (bad_response)', async () => {
    for (const [answer, code] of [
      [{ status: 204 }, 'stream_refused'],
      [{ headers: { 'content-type': 'text/html' }, body: '<html>' }, 'bad_response'],
    ] as const) {
      const { fetch, calls } = scriptedFetch(() => answer);
      const r = recorder();
      const sub = track(
        createClient({ baseUrl: 'http://x.invalid', fetch }).subscribe('events', { ...r.handlers, since: 5 }),
      );
      await r.waiter.until(() => r.errors.length > 0, 5000, code);
      expect(r.errors.map((e) => [e.error.code, e.info.willRetry])).toEqual([[code, false]]);
      expect(sub.closed).toBe(true);
      expect(calls).toHaveLength(1);
    }
  });

  it('retries a 503 and a 429, waiting Retry-After', async () => {
    const { fetch, calls, waiter } = scriptedFetch((_url, index) =>
      index === 0
        ? {
            status: 503,
            headers: { 'content-type': 'application/problem+json', 'retry-after': '0' },
            body: '{"code":"store_busy","status":503}',
          }
        : { body: frame(7), open: true },
    );
    const r = recorder();
    track(createClient({ baseUrl: 'http://x.invalid', fetch }).subscribe('events', { ...r.handlers, since: 5 }));
    await r.waiter.until(() => r.events.length === 1, 5000, 'event after retry');
    await waiter.until(() => calls.length === 2);
    expect(r.errors.map((e) => [e.error.code, e.info.willRetry, e.info.delayMs])).toEqual([['store_busy', true, 0]]);
  });

  it('in ticket mode mints a ticket per connection and carries the position as since', async () => {
    let tickets = 0;
    const { fetch, calls } = scriptedFetch((url, _index) => {
      if (url.endsWith('/v1/tickets')) {
        tickets++;
        return { status: 201, headers: { 'content-type': 'application/json' }, body: `{"ticket":"tk${tickets}"}` };
      }
      return tickets === 1 ? { body: `retry: 1\n\n${frame(10)}${frame(11)}` } : { body: frame(12), open: true };
    });
    const r = recorder();
    track(
      createClient({ baseUrl: 'http://x.invalid', token: 'secret', fetch }).subscribe('events', {
        ...r.handlers,
        since: 9,
        auth: 'ticket',
      }),
    );
    await r.waiter.until(() => r.events.length === 3, 5000, 'three');
    const streams = calls.filter((c) => c.url.includes('/stream')).map((c) => new URL(c.url).searchParams);
    expect(streams.map((q) => [q.get('ticket'), q.get('since')])).toEqual([
      ['tk1', '9'],
      ['tk2', '11'],
    ]);
    expect(calls.filter((c) => c.url.includes('/stream')).every((c) => c.headers.authorization === undefined)).toBe(
      true,
    );
    expect(calls.filter((c) => c.url.includes('secret'))).toEqual([]);
  });

  it('close() aborts the connection and leaves no reconnect; the signal option does the same', async () => {
    const { fetch, calls } = scriptedFetch(() => ({ body: frame(1), open: true }));
    const r = recorder();
    const sub = createClient({ baseUrl: 'http://x.invalid', fetch }).subscribe('events', { ...r.handlers, since: 0 });
    await r.waiter.until(() => r.events.length === 1);
    sub.close();
    expect(calls[0]?.signal?.aborted).toBe(true);
    expect(sub.closed).toBe(true);

    const controller = new AbortController();
    const second = scriptedFetch(() => ({ body: frame(1), open: true }));
    const r2 = recorder();
    const sub2 = createClient({ baseUrl: 'http://x.invalid', fetch: second.fetch }).subscribe('events', {
      ...r2.handlers,
      since: 0,
      signal: controller.signal,
    });
    await r2.waiter.until(() => r2.events.length === 1);
    controller.abort();
    expect(sub2.closed).toBe(true);
    expect(second.calls[0]?.signal?.aborted).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r2.errors).toEqual([]);
  });

  it('a throwing callback is reported as handler_error and the stream goes on', async () => {
    const { fetch } = scriptedFetch(() => ({ body: frame(1) + frame(2), open: true }));
    const seen: number[] = [];
    const errors: string[] = [];
    const waiter = new Waiter();
    track(
      createClient({ baseUrl: 'http://x.invalid', fetch }).subscribe('events', {
        since: 0,
        onInsert: (_doc, seq) => {
          seen.push(seq);
          waiter.notify();
          if (seq === 1) throw new Error('bad handler');
        },
        onError: (error) => errors.push(error.code),
      }),
    );
    await waiter.until(() => seen.length === 2);
    expect(errors).toEqual(['handler_error']);
  });
});

describe('backoff', () => {
  it('grows exponentially to the cap, with full jitter', () => {
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValue(0.9999);
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, 1000, 10_000))).toEqual([999, 1999, 3999, 7999, 9999, 9999]);
    random.mockReturnValue(0);
    expect(backoffDelay(5, 1000, 10_000)).toBe(0);
    random.mockRestore();
  });
});
