// SPDX-License-Identifier: GPL-3.0-or-later
// SSE delivery semantics with the `eventsource` package against a real server (DESIGN §3, §5):
// live delivery, resume with Last-Event-ID under concurrent writes (no gap, no duplicate across
// the catch-up → live switch), `since` as an ISO time, filters on catch-up and live, update
// events for claim/complete, delete events after retention, and `reset` below the feed floor.

import type { Doc, Store } from '@dualstore/core';
import type { SqliteStore } from '@dualstore/store-sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually, startServer, type TestServer } from '../helpers.js';
import { EsClient, RawStream } from './sse-helpers.js';

let server: TestServer;
const clients: Array<{ close(): void }> = [];

function client(path: string, headers?: Record<string, string>): EsClient {
  const es = new EsClient(`${server.url}${path}`, headers);
  clients.push(es);
  return es;
}

function raw(path: string, headers?: Record<string, string>): RawStream {
  const stream = RawStream.open(server.url, path, headers);
  clients.push(stream);
  return stream;
}

/**
 * A store that answers streams' `changes()` a few event-loop turns after reading, as a store over
 * a network would (Postgres): a stream's catch-up read and its hand-over to the hub are then
 * separated by other work, including the hub's sliced fan-out.
 */
function slowStreamReads(store: SqliteStore): Store {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key === 'changes') {
        return async (...args: Parameters<SqliteStore['changes']>) => {
          const page = await target.changes(...args);
          // Streams' catch-up reads (pages of 500) answer a few turns late, the hub's (1,000)
          // at once: a stream's read then often predates a commit the hub is already fanning out.
          const turns = args[1]?.limit === 1000 ? 0 : 1;
          for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
          return page;
        };
      }
      const value = Reflect.get(target, key, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function insertMany(count: number, collection = 'events', make = (i: number) => ({ text: `doc ${i}` })) {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) seqs.push((await server.store.insert(collection, make(i))).seq);
  return seqs;
}

beforeEach(async () => {
  server = await startServer({ store: { search: false } });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.close();
});

describe('SSE with the eventsource package', () => {
  it('starts live without a cursor and delivers inserts with id = seq and the whole doc', async () => {
    await insertMany(3); // history that a live-only stream must not replay
    const es = client('/v1/events/stream');
    await es.until((c) => c.opened === 1, 10_000, 'open');
    // The stream is live once the hub holds it; an insert after that must arrive.
    await expect.poll(() => server.app.sseHub.stats().live).toBe(1);
    const { id, seq } = await server.store.insert('events', { text: 'hello @alice', metadata: { n: 1 } });
    await es.until((c) => c.of('insert').length === 1);
    const [event] = es.of('insert');
    expect(event?.id).toBe(String(seq));
    const doc = JSON.parse(event?.data ?? '') as Doc;
    expect(doc).toEqual(await server.store.get('events', id));
    expect(es.events.filter((e) => e.type !== 'heartbeat')).toHaveLength(1);
  });

  it('resumes with Last-Event-ID while 1,000 docs are written concurrently: exactly the missing docs, in order', async () => {
    const before = await insertMany(1200); // more than two catch-up pages
    const resumeAt = before[99] as number;
    // The writer runs while the stream catches up, so the switch to live happens mid-write.
    let written: number[] = [];
    const writer = (async () => {
      const seqs: number[] = [];
      for (let i = 0; i < 1000; i += 25) {
        const batch = await Promise.all(
          Array.from({ length: 25 }, (_, j) => server.store.insert('events', { text: `concurrent ${i + j}` })),
        );
        seqs.push(...batch.map((r) => r.seq));
      }
      written = seqs;
    })();
    const es = client('/v1/events/stream', { 'Last-Event-ID': String(resumeAt) });
    await writer;
    const expected = [...before.filter((s) => s > resumeAt), ...written].sort((a, b) => a - b);
    await es.until((c) => c.of('insert').length >= expected.length, 20_000, `${expected.length} inserts`);
    const ids = es.of('insert').map((e) => Number(e.id));
    expect(ids).toEqual(expected);
    expect(ids.map((id, i) => JSON.parse(es.of('insert')[i]?.data ?? '').seq === id).every(Boolean)).toBe(true);
  });

  it('serves several streams at different cursors during writes, each exactly its own range', async () => {
    const before = await insertMany(300);
    const cursors = [0, 50, 150, 299, 300].map((i) => (i === 0 ? 0 : (before[i - 1] as number)));
    const writer = Promise.all(
      Array.from({ length: 200 }, (_, i) => server.store.insert('events', { text: `w ${i}` })),
    );
    const streams = cursors.map((cursor) => ({ cursor, es: client(`/v1/events/stream?since=${cursor}`) }));
    const written = (await writer).map((r) => r.seq);
    const all = [...before, ...written].sort((a, b) => a - b);
    for (const { cursor, es } of streams) {
      const expected = all.filter((s) => s > cursor);
      await es.until((c) => c.of('insert').length >= expected.length, 20_000, `stream from ${cursor}`);
      expect(es.of('insert').map((e) => Number(e.id))).toEqual(expected);
    }
    // One store watch serves them all.
    expect(server.app.sseHub.stats()).toMatchObject({ streams: 5, live: 5, watching: true });
  });

  it('streams going live while a page is fanned out in slices, in any group, miss nothing', async () => {
    // Guards the sliced fan-out: with a slice of 1 and 40 live streams in two selector groups a
    // page takes ~40 event-loop turns to fan out, and streams' catch-up reads answer a turn late
    // (as a networked store's do), so new streams regularly go live in the middle of a page with
    // a cursor inside it; the hub must hand them the rest of the page before moving its cursor.
    await server.close();
    server = await startServer({
      store: { search: false },
      wrapStore: slowStreamReads,
      sseMaxPerClient: 100,
      sseFanoutSlice: 1,
    });
    const history = await insertMany(100);
    const head = history.at(-1) as number;
    // Inserted docs are pending, so both selectors match every doc: the same expected range.
    const pathFor = (i: number, since: number) =>
      i % 2 === 0 ? `/v1/events/stream?since=${since}` : `/v1/events/stream?status=pending&since=${since}`;
    const opened: Array<{ since: number; stream: RawStream }> = [];
    for (let i = 0; i < 40; i++) opened.push({ since: head, stream: raw(pathFor(i, head)) });
    await Promise.all(opened.map(({ stream }) => stream.ready()));
    await eventually(() => server.app.sseHub.stats().live === 40, 10_000, 'background streams live');
    const written: number[] = [];
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 40; round++) {
      const since = (written.at(-1) ?? head) - random(3);
      opened.push({ since, stream: raw(pathFor(round, since)) });
      for (let burst = 0; burst < 3; burst++) {
        const batch = await Promise.all(
          Array.from({ length: 1 + random(3) }, (_, i) => server.store.insert('events', { text: `s${round}.${i}` })),
        );
        written.push(...batch.map((r) => r.seq));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const all = [...history, ...written];
    for (const { since, stream } of opened) {
      await stream.ready();
      expect(stream.status).toBe(200);
      const expected = all.filter((seq) => seq > since);
      await stream.until((s) => s.frames >= expected.length + 1, 20_000, `stream from ${since}`);
      expect(stream.events().map((e) => Number(e.id))).toEqual(expected);
    }
  });

  it('gives streams opened at random moments during writes exactly their own range', async () => {
    await server.close();
    server = await startServer({ store: { search: false }, sseMaxPerClient: 50 });
    const history = await insertMany(200);
    const written: number[] = [];
    const opened: Array<{ since: number; stream: RawStream }> = [];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 20; round++) {
      const known = [...history, ...written];
      const since = round % 5 === 4 ? (known.at(-1) as number) : (known[random(known.length)] as number);
      opened.push({ since, stream: raw(`/v1/events/stream?since=${since}`) });
      const batch = await Promise.all(
        Array.from({ length: 1 + random(40) }, (_, i) => server.store.insert('events', { text: `r${round}.${i}` })),
      );
      written.push(...batch.map((r) => r.seq));
    }
    const all = [...history, ...written];
    for (const { since, stream } of opened) {
      await stream.ready();
      expect(stream.status).toBe(200);
      const expected = all.filter((seq) => seq > since);
      // `retry:` plus one frame per event; parsed once at the end.
      await stream.until((s) => s.frames >= expected.length + 1, 20_000, `stream from ${since}`);
      expect(stream.events().map((e) => Number(e.id))).toEqual(expected);
    }
  });

  it('lets a reconnecting client continue from its last event id (no duplicate)', async () => {
    await insertMany(5);
    const first = raw('/v1/events/stream?since=0');
    await first.until((s) => s.events().length === 5);
    const lastId = first.events().at(-1)?.id as string;
    first.close();
    await insertMany(3);
    // `since` in the URL is stale (a browser repeats it); the header says where the client is.
    const es = client('/v1/events/stream?since=0', { 'Last-Event-ID': lastId });
    await es.until((c) => c.of('insert').length === 3);
    expect(es.of('insert').map((e) => JSON.parse(e.data).text)).toEqual(['doc 0', 'doc 1', 'doc 2']);
    expect(Number(es.of('insert')[0]?.id)).toBe(Number(lastId) + 1);
  });

  it('loses nothing when the server drops the connection: EventSource comes back with Last-Event-ID', async () => {
    const es = client('/v1/events/stream?since=0');
    const first = await insertMany(3);
    await es.until((c) => c.of('insert').length === 3);
    // Drop every connection, as a restart or the slow-consumer bound would; write meanwhile.
    server.app.server.closeAllConnections();
    await expect.poll(() => server.app.sseHub.stats().streams).toBe(0);
    const missed = await insertMany(4, 'events', (i) => ({ text: `missed ${i}` }));
    // The client waits the `retry: 3000` the server sent, then resumes on its own.
    await es.until((c) => c.of('insert').length === 7, 15_000, 'the resumed stream');
    expect(es.opened).toBe(2);
    expect(es.of('insert').map((e) => Number(e.id))).toEqual([...first, ...missed]);
  }, 20_000);

  it('streams several collections at once and none of the others', async () => {
    const es = client('/v1/stream?collections=events,agent_tasks&since=0');
    await server.store.insert('events', { text: 'e' });
    await server.store.insert('session_messages', { text: 'not mine' });
    await server.store.insert('agent_tasks', { text: 't' });
    await es.until((c) => c.of('insert').length === 2);
    expect(es.of('insert').map((e) => JSON.parse(e.data).collection)).toEqual(['events', 'agent_tasks']);
  });
});

describe('cursors', () => {
  it('starts at an ISO time: only changes appended at or after it', async () => {
    await server.close();
    let now = Date.parse('2026-03-01T10:00:00.000Z');
    server = await startServer({ store: { search: false, now: () => now } });
    await insertMany(3);
    now += 60_000;
    const later = await insertMany(2, 'events', (i) => ({ text: `later ${i}` }));
    const es = client(`/v1/events/stream?since=${encodeURIComponent('2026-03-01T10:01:00.000Z')}`);
    await es.until((c) => c.of('insert').length === 2);
    expect(es.of('insert').map((e) => Number(e.id))).toEqual(later);
  });

  it('treats a cursor beyond the head as live', async () => {
    await insertMany(2);
    const stream = raw('/v1/events/stream?since=999999');
    await stream.ready();
    await expect.poll(() => server.app.sseHub.stats().live).toBe(1);
    const [seq] = await insertMany(1);
    await stream.until((s) => s.events().length === 1);
    expect(stream.events()[0]?.id).toBe(String(seq));
  });
});

describe('filters', () => {
  it('applies topic, mention and a base64url filter to catch-up and live alike', async () => {
    const make = (i: number) => ({
      text: i % 3 === 0 ? `build ${i} @alice` : `build ${i}`,
      topic: i % 2 === 0 ? 'build' : 'deploy',
      metadata: { repo: i % 4 < 2 ? 'x' : 'y', i },
    });
    const matches = (i: number) => i % 2 === 0 && i % 4 < 2;
    const history = await insertMany(40, 'events', make);
    const filter = Buffer.from(JSON.stringify({ 'metadata.repo': 'x' })).toString('base64url');
    const es = client(`/v1/events/stream?since=0&topic=build&filter=${filter}`);
    const mentions = client(`/v1/events/stream?since=0&mention=${encodeURIComponent('@Alice')}`);
    await expect.poll(() => server.app.sseHub.stats().live).toBe(2);
    const live = await insertMany(40, 'events', (i) => make(i + 40));
    const seqs = [...history, ...live];
    const expected = seqs.filter((_, i) => matches(i));
    await es.until((c) => c.of('insert').length >= expected.length);
    expect(es.of('insert').map((e) => Number(e.id))).toEqual(expected);
    const expectedMentions = seqs.filter((_, i) => i % 3 === 0);
    await mentions.until((c) => c.of('insert').length >= expectedMentions.length);
    expect(mentions.of('insert').map((e) => Number(e.id))).toEqual(expectedMentions);
    // Nothing that does not match arrived meanwhile.
    await server.store.insert('events', { text: 'last', topic: 'build', metadata: { repo: 'x' } });
    await es.until((c) => c.of('insert').length === expected.length + 1);
    expect(es.of('insert').every((e) => JSON.parse(e.data).topic === 'build')).toBe(true);
  });
});

describe('updates, deletes and reset', () => {
  it('sends update events for claim and complete, with the change seq as id', async () => {
    const es = client('/v1/events/stream?since=0&topic=jobs');
    const { id } = await server.store.insert('events', { text: 'job', topic: 'jobs' });
    const [item] = await server.store.claim('events', { agent: 'worker-1', topic: 'jobs' });
    await server.store.complete('events', id, item?.claim.token as string);
    await es.until((c) => c.of('update').length === 2);
    const updates = es.of('update').map((e) => ({ id: Number(e.id), doc: JSON.parse(e.data) as Doc }));
    expect(updates.map((u) => u.doc.status)).toEqual(['processing', 'completed']);
    expect(updates.map((u) => u.doc.claimed_by)).toEqual(['worker-1', 'worker-1']);
    const insertId = Number(es.of('insert')[0]?.id);
    expect(updates[0]?.id).toBeGreaterThan(insertId);
    expect(updates[1]?.id).toBeGreaterThan(updates[0]?.id as number);
    // The doc keeps its insertion seq; the event id is the feed position of the change.
    expect(updates.every((u) => u.doc.seq === insertId)).toBe(true);
  });

  it('sends delete events after a retention delete: data { id, seq }, id the delete’s own seq', async () => {
    const es = client('/v1/events/stream');
    await expect.poll(() => server.app.sseHub.stats().live).toBe(1);
    const a = await server.store.insert('events', { text: 'a' });
    const b = await server.store.insert('events', { text: 'b' });
    const [item] = await server.store.claim('events', { agent: 'w' });
    await server.store.complete('events', a.id, item?.claim.token as string);
    expect(await server.store.deleteDocs('events', { status: 'completed' })).toEqual({ deleted: 1 });
    await es.until((c) => c.of('delete').length === 1);
    const [del] = es.of('delete');
    expect(JSON.parse(del?.data ?? '')).toEqual({ id: a.id, seq: a.seq });
    expect(Number(del?.id)).toBeGreaterThan(b.seq);
    expect(Number(del?.id)).toBe(await server.store.head());
  });

  it('sends reset when the cursor is below the feed floor, then continues from the floor', async () => {
    await insertMany(3);
    // Retention with a cutoff in the future deletes the docs and prunes their delete entries,
    // which raises the floor: a reader at 1 can no longer learn of those deletions.
    await server.store.deleteDocs('events', { olderThan: '2999-01-01T00:00:00.000Z' });
    const { floor } = await server.store.changes(0);
    expect(floor).toBeGreaterThan(1);
    const after = await insertMany(2, 'events', (i) => ({ text: `after ${i}` }));
    const es = client('/v1/events/stream', { 'Last-Event-ID': '1' });
    await es.until((c) => c.of('insert').length === 2);
    const [reset] = es.of('reset');
    expect(es.events[0]?.type).toBe('reset');
    expect(reset?.id).toBe(String(floor));
    expect(JSON.parse(reset?.data ?? '')).toEqual({ requested: 1, since: floor });
    expect(es.of('insert').map((e) => Number(e.id))).toEqual(after);
    expect(es.of('delete')).toEqual([]);
  });
});
