// SPDX-License-Identifier: GPL-3.0-or-later
// SSE on the wire, read with a raw `node:net` socket: the exact response head and body bytes
// (`retry:` first, one frame per change, data with CR/LF round-tripping), headers set by earlier
// hooks surviving the hijack, and a consumer that never reads being dropped with its memory.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import { parseSse, RawStream } from './sse-helpers.js';

let server: TestServer;
const streams: RawStream[] = [];

function raw(path: string, headers?: Record<string, string>): RawStream {
  const stream = RawStream.open(server.url, path, headers);
  streams.push(stream);
  return stream;
}

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await server?.close();
});

describe('SSE framing on a raw socket', () => {
  beforeEach(async () => {
    server = await startServer({ store: { search: false } });
  });

  it('sends the SSE headers, `retry: 3000` first, then byte-exact frames', async () => {
    const stream = raw('/v1/events/stream?since=0');
    await stream.ready();
    expect(stream.status).toBe(200);
    expect(stream.headers).toMatchObject({
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      'transfer-encoding': 'chunked',
    });
    expect(stream.text).toBe('retry: 3000\n\n');

    const text = 'line one\nline two\r\nline three\rend \u2028 "quoted" \\ \u0000';
    const inserted = await server.store.insert('events', { text, metadata: { crlf: 'a\r\nb', lf: '\n' } });
    const doc = await server.store.get('events', inserted.id);
    const frame = `id: ${inserted.seq}\nevent: insert\ndata: ${JSON.stringify(doc)}\n\n`;
    await stream.until((s) => s.frames === 2);
    expect(stream.text).toBe(`retry: 3000\n\n${frame}`);
    // No raw CR anywhere in the body, and exactly one blank line per frame.
    expect(stream.body.includes('\r')).toBe(false);

    const parsed = parseSse(stream.text);
    expect(parsed.retry).toEqual([3000]);
    expect(parsed.events).toHaveLength(1);
    const received = JSON.parse(parsed.events[0]?.data ?? '');
    expect(received.text).toBe(text);
    expect(received.metadata).toEqual({ crlf: 'a\r\nb', lf: '\n' });
  });

  it('frames catch-up and live events identically, several per write allowed', async () => {
    const history = await Promise.all([1, 2, 3].map((i) => server.store.insert('events', { text: `h${i}` })));
    const stream = raw('/v1/events/stream?since=0');
    await stream.until((s) => s.events().length === 3);
    await expect.poll(() => server.app.sseHub.stats().live).toBe(1);
    const live = await Promise.all([4, 5].map((i) => server.store.insert('events', { text: `l${i}` })));
    await stream.until((s) => s.events().length === 5);
    let expected = 'retry: 3000\n\n';
    for (const { id, seq } of [...history, ...live]) {
      expected += `id: ${seq}\nevent: insert\ndata: ${JSON.stringify(await server.store.get('events', id))}\n\n`;
    }
    expect(stream.text).toBe(expected);
  });
});

describe('headers from earlier hooks', () => {
  it('keeps headers that onRequest hooks set on the reply (CORS, rate limits)', async () => {
    server = await startServer({
      store: { search: false },
      configure: (app) =>
        app.addHook('onRequest', async (_request, reply) => {
          reply.header('access-control-allow-origin', 'https://app.example');
          reply.header('vary', 'Origin');
        }),
    });
    const stream = raw('/v1/events/stream', { Origin: 'https://app.example' });
    await stream.ready();
    expect(stream.status).toBe(200);
    expect(stream.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(stream.headers.vary).toBe('Origin');
    expect(stream.headers['content-type']).toBe('text/event-stream');
  });
});

describe('slow consumers', () => {
  beforeEach(async () => {
    server = await startServer({ store: { search: false }, sseMaxBufferedBytes: 256 * 1024, heartbeatMs: 15_000 });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('drops a catching-up stream whose client reads nothing for a whole heartbeat interval', async () => {
    const big = 'y'.repeat(48 * 1024);
    // More backlog than loopback kernel buffers hold, so catch-up must wait for the client.
    for (let i = 0; i < 400; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) => server.store.insert('events', { text: `${i + j} ${big}` })),
      );
    }
    // Only the heartbeat interval is faked (it starts with the first stream, after this line).
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const slow = raw('/v1/events/stream?since=0');
    slow.socket.pause(); // never reads
    await expect.poll(() => server.app.sseHub.stats().waiting, { timeout: 10_000 }).toBe(1);
    vi.advanceTimersByTime(15_000); // first tick: still waiting, marked stalled, not dropped yet
    expect(server.app.sseHub.stats().streams).toBe(1);
    vi.advanceTimersByTime(15_000); // a whole interval without a drain: dropped
    await expect.poll(() => server.app.sseHub.stats()).toMatchObject({ streams: 0, waiting: 0, clients: 0 });
  });

  it('drops a live stream whose unsent bytes pass the bound, and forgets it', async () => {
    const slow = raw('/v1/events/stream');
    await slow.ready();
    // A healthy reader on the same feed is not affected.
    const healthy = raw('/v1/events/stream');
    await healthy.ready();
    await expect.poll(() => server.app.sseHub.stats().live).toBe(2);
    slow.socket.pause(); // never reads again: kernel buffers fill, then the server's own queue

    const big = 'x'.repeat(48 * 1024);
    let inserted = 0;
    // Loopback kernel buffers can hold several MB; write until the server gives up on the
    // stream (bounded, so a broken bound fails the test instead of filling the disk).
    while (server.app.sseHub.stats().streams === 2 && inserted < 2000) {
      await Promise.all(
        Array.from({ length: 4 }, (_, i) => server.store.insert('events', { text: `${inserted + i} ${big}` })),
      );
      inserted += 4;
    }
    await expect.poll(() => server.app.sseHub.stats(), { timeout: 10_000 }).toMatchObject({ streams: 1, live: 1 });
    expect(inserted).toBeLessThan(2000);
    // `retry:` and then one frame per insert.
    await healthy.until((s) => s.frames === inserted + 1, 20_000, 'every event at the healthy reader');
    expect(healthy.closed).toBe(false);
    expect(server.app.sseHub.stats()).toMatchObject({ streams: 1, clients: 1 });
  });
});
