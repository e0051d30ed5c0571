// SPDX-License-Identifier: GPL-3.0-or-later
// The stream routes' refusals (always problem+json, before any stream byte), the per-client cap,
// heartbeats under fake timers, and resource hygiene: one store watch for all streams, nothing
// left after clients disconnect, and `app.close()` ending open streams promptly.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { request, startServer, type TestServer } from '../helpers.js';
import { RawStream } from './sse-helpers.js';

let server: TestServer;
const streams: RawStream[] = [];

function raw(path: string, headers?: Record<string, string>): RawStream {
  const stream = RawStream.open(server.url, path, headers);
  streams.push(stream);
  return stream;
}

/** Count the store watch subscriptions that are currently active. */
function countWatches(target: TestServer): { active: () => number; total: () => number } {
  let active = 0;
  let total = 0;
  const watch = target.store.watch.bind(target.store);
  vi.spyOn(target.store, 'watch').mockImplementation((listener) => {
    active++;
    total++;
    const unwatch = watch(listener);
    return () => {
      active--;
      unwatch();
    };
  });
  return { active: () => active, total: () => total };
}

const EMPTY = { streams: 0, live: 0, groups: 0, clients: 0, watching: false, heartbeat: false };

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const stream of streams.splice(0)) stream.close();
  await server.close();
});

describe('refusals', () => {
  it.each<{ name: string; path: string; headers: Record<string, string>; status: number; code: string }>([
    { name: 'an unknown collection', path: '/v1/nope/stream', headers: {}, status: 404, code: 'collection_not_found' },
    {
      name: 'an unknown collection, whatever the query',
      path: '/v1/nope/stream?bogus=1',
      headers: {},
      status: 404,
      code: 'collection_not_found',
    },
    {
      name: 'an unknown collection in a list',
      path: '/v1/stream?collections=events,nope',
      headers: {},
      status: 404,
      code: 'collection_not_found',
    },
    { name: 'a malformed collection name', path: '/v1/Bad!/stream', headers: {}, status: 400, code: 'invalid_name' },
    {
      name: 'an empty name in the list',
      path: '/v1/stream?collections=events,,agent_tasks',
      headers: {},
      status: 400,
      code: 'validation_failed',
    },
    {
      name: 'a non-numeric since',
      path: '/v1/events/stream?since=yesterday',
      headers: {},
      status: 400,
      code: 'bad_cursor',
    },
    { name: 'a fractional since', path: '/v1/events/stream?since=1.5', headers: {}, status: 400, code: 'bad_cursor' },
    {
      name: 'a negative Last-Event-ID',
      path: '/v1/events/stream',
      headers: { 'Last-Event-ID': '-1' },
      status: 400,
      code: 'bad_cursor',
    },
    {
      name: 'a bad Last-Event-ID despite a good since',
      path: '/v1/events/stream?since=0',
      headers: { 'Last-Event-ID': 'x' },
      status: 400,
      code: 'bad_cursor',
    },
    {
      name: 'malformed filter JSON',
      path: `/v1/events/stream?filter=${encodeURIComponent('{"a":')}`,
      headers: {},
      status: 400,
      code: 'bad_filter',
    },
    {
      name: 'a filter on an unknown field',
      path: `/v1/events/stream?filter=${encodeURIComponent('{"nope":1}')}`,
      headers: {},
      status: 400,
      code: 'bad_filter',
    },
    {
      name: 'an unknown parameter',
      path: '/v1/events/stream?sinse=0',
      headers: {},
      status: 400,
      code: 'unknown_parameter',
    },
    {
      name: 'an unknown parameter (multi)',
      path: '/v1/stream?collection=events',
      headers: {},
      status: 400,
      code: 'unknown_parameter',
    },
    {
      name: 'an invalid status',
      path: '/v1/events/stream?status=done',
      headers: {},
      status: 400,
      code: 'validation_failed',
    },
  ])('answers $name with problem+json $status $code', async ({ path, headers, status, code }) => {
    server = await startServer({ store: { search: false } });
    const res = await request(server, 'GET', path, { headers });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe(code);
    expect(server.app.sseHub.stats()).toMatchObject(EMPTY);
  });

  it('answers HEAD with the stream headers and no stream, after the same checks', async () => {
    server = await startServer({ store: { search: false } });
    const head = await request(server, 'HEAD', '/v1/events/stream?since=0');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('text/event-stream');
    expect((await request(server, 'HEAD', '/v1/nope/stream')).status).toBe(404);
    expect(server.app.sseHub.stats()).toMatchObject(EMPTY);
  });

  it('accepts a ticket parameter (the auth hook consumes it) and an ISO since', async () => {
    server = await startServer({ store: { search: false } });
    const stream = raw(`/v1/stream?collections=events&ticket=t0&since=${encodeURIComponent('2026-01-01T00:00:00Z')}`);
    await stream.ready();
    expect(stream.status).toBe(200);
  });
});

describe('collection-limited callers', () => {
  it('refuses a collection outside the token’s list with 403 forbidden, and defaults to its list', async () => {
    // Stand in for a scoped token (the auth hook runs first; this narrows what it decided).
    server = await startServer({
      store: { search: false },
      configure: (app) =>
        app.addHook('onRequest', async (request) => {
          if (request.caller) request.caller = { ...request.caller, collections: ['events'] };
        }),
    });

    const refused = await request(server, 'GET', '/v1/stream?collections=events,agent_tasks');
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('forbidden');
    expect((await request(server, 'GET', '/v1/agent_tasks/stream')).body.code).toBe('forbidden');

    const stream = raw('/v1/stream?since=0');
    await stream.ready();
    await server.store.insert('agent_tasks', { text: 'hidden' });
    const { seq } = await server.store.insert('events', { text: 'visible' });
    await stream.until((s) => s.frames === 2);
    expect(stream.events().map((e) => e.id)).toEqual([String(seq)]);
  });
});

describe('per-client cap', () => {
  it('refuses one stream more than sseMaxPerClient with 429 too_many_streams, and admits again after a close', async () => {
    server = await startServer({ store: { search: false }, sseMaxPerClient: 2 });
    const first = raw('/v1/events/stream');
    const second = raw('/v1/stream');
    await Promise.all([first.ready(), second.ready()]);
    const third = await request(server, 'GET', '/v1/events/stream');
    expect(third.status).toBe(429);
    expect(third.body.code).toBe('too_many_streams');
    expect(third.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(server.app.sseHub.stats()).toMatchObject({ streams: 2, clients: 1 });

    first.close();
    await expect.poll(() => server.app.sseHub.stats().streams).toBe(1);
    const again = raw('/v1/events/stream');
    await again.ready();
    expect(again.status).toBe(200);
  });

  it('does not let concurrent opens pass the cap', async () => {
    server = await startServer({ store: { search: false }, sseMaxPerClient: 3 });
    const opened = Array.from({ length: 8 }, () => raw('/v1/events/stream'));
    await Promise.all(opened.map((s) => s.ready()));
    expect(opened.filter((s) => s.status === 200)).toHaveLength(3);
    expect(opened.filter((s) => s.status === 429)).toHaveLength(5);
    expect(server.app.sseHub.stats().streams).toBe(3);
  });
});

describe('heartbeat', () => {
  // Fake timers replace only setInterval/clearInterval (the hub's heartbeat timer is created when
  // the first stream opens, so after they are installed) and Date (so `t` is known). Sockets and
  // the store keep real timers; the waits below are woken by arriving bytes.
  it('sends `event: heartbeat` with no id every heartbeatMs, and clears its timer when the last stream goes', async () => {
    server = await startServer({ store: { search: false }, heartbeatMs: 15_000 });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'], now: Date.parse('2026-11-21T12:00:00.000Z') });
    const stream = raw('/v1/events/stream');
    await stream.ready();
    expect(server.app.sseHub.stats().heartbeat).toBe(true);
    expect(vi.getTimerCount()).toBe(1);

    vi.advanceTimersByTime(14_999);
    const { seq } = await server.store.insert('events', { text: 'between beats' });
    await stream.until((s) => s.frames === 2);
    expect(stream.events().map((e) => e.event)).toEqual(['insert']);

    vi.advanceTimersByTime(1);
    await stream.until((s) => s.frames === 3);
    vi.advanceTimersByTime(15_000);
    await stream.until((s) => s.frames === 4);
    const beats = stream.events().filter((e) => e.event === 'heartbeat');
    expect(beats.map((e) => JSON.parse(e.data))).toEqual([
      { t: '2026-11-21T12:00:15.000Z' },
      { t: '2026-11-21T12:00:30.000Z' },
    ]);
    // No id: the client's resume position stays at the last change.
    expect(beats.every((e) => e.id === undefined)).toBe(true);
    expect(stream.text).toContain(`id: ${seq}\n`);
    expect(stream.text).toMatch(/\n\nevent: heartbeat\ndata: \{"t":"2026-11-21T12:00:15\.000Z"\}\n\n/);

    stream.close();
    await expect.poll(() => server.app.sseHub.stats().streams).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('resources', () => {
  it('uses one store watch for all streams and releases every listener, timer and entry on disconnect', async () => {
    server = await startServer({ store: { search: false } });
    const watches = countWatches(server);
    const opened = [
      raw('/v1/events/stream'),
      raw('/v1/events/stream?topic=a'),
      raw('/v1/events/stream?topic=a'),
      raw('/v1/stream?collections=events,agent_tasks&since=0'),
      raw('/v1/stream'),
    ];
    await Promise.all(opened.map((s) => s.ready()));
    await expect.poll(() => server.app.sseHub.stats().live).toBe(5);
    expect(server.app.sseHub.stats()).toMatchObject({
      streams: 5,
      groups: 4,
      clients: 1,
      watching: true,
      heartbeat: true,
    });
    expect(watches.active()).toBe(1);

    await server.store.insert('events', { text: 'x', topic: 'a' });
    await Promise.all(opened.map((s) => s.until((x) => x.frames === 2)));
    for (const s of opened) s.close();
    await expect.poll(() => server.app.sseHub.stats()).toMatchObject({ ...EMPTY, cachedFrames: 0 });
    expect(watches.active()).toBe(0);

    // A client that disconnects while its request is still being validated leaves nothing either.
    const quick = raw('/v1/events/stream?since=0');
    quick.close();
    const late = raw('/v1/events/stream');
    await late.ready();
    late.close();
    await expect.poll(() => server.app.sseHub.stats()).toMatchObject(EMPTY);
    expect(watches.active()).toBe(0);
  });

  it('ends every open stream cleanly on app.close(), promptly, leaving nothing behind', async () => {
    server = await startServer({ store: { search: false } });
    const watches = countWatches(server);
    await server.store.insert('events', { text: 'before' });
    const opened = [raw('/v1/events/stream?since=0'), raw('/v1/stream'), raw('/v1/events/stream?topic=none')];
    await Promise.all(opened.map((s) => s.ready()));
    await expect.poll(() => server.app.sseHub.stats().live).toBe(3);

    const started = performance.now();
    await server.app.close();
    expect(performance.now() - started).toBeLessThan(2000);
    await Promise.all(opened.map((s) => s.until((x) => x.closed)));
    // A clean end: the chunked body's terminating zero-length chunk arrived before the close.
    expect(opened.every((s) => s.ended)).toBe(true);
    expect(server.app.sseHub.stats()).toMatchObject(EMPTY);
    expect(watches.active()).toBe(0);
  });
});
