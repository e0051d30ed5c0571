// SPDX-License-Identifier: GPL-3.0-or-later
// The doc routes: insert (with Idempotency-Key), batch, get, recent, thread — their answers and
// their error codes, the write-time depth limit, body limits and content types.

import { MAX_JSON_DEPTH } from '@dualstore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startServer, type TestServer } from '../helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ store: { search: false }, batchBodyLimit: 256 * 1024 });
  await request(server, 'PUT', '/v1/collections/docs_t', { body: {} });
});
afterAll(() => server.close());

/** An object nested `depth` levels deep (`{}` is 1). */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

async function insert(collection: string, body: unknown, headers?: Record<string, string>) {
  return request(server, 'POST', `/v1/${collection}`, { body, ...(headers ? { headers } : {}) });
}

describe('insert', () => {
  it('answers 201 { id, seq } after the write, and the doc reads back', async () => {
    const res = await insert('docs_t', { text: 'hello @Alice', metadata: { tool: 'grep' }, topic: 'greet' });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['id', 'seq']);
    expect(Number.isInteger(res.body.seq)).toBe(true);
    const doc = await request(server, 'GET', `/v1/docs_t/${res.body.id}`);
    expect(doc.status).toBe(200);
    expect(doc.body).toMatchObject({
      id: res.body.id,
      seq: res.body.seq,
      collection: 'docs_t',
      text: 'hello @Alice',
      topic: 'greet',
      status: 'pending',
      mentions: ['alice'],
      tool_calls: ['grep'],
      version: 1,
    });
  });

  it('normalises an epoch-ms timestamp to ISO', async () => {
    const res = await insert('docs_t', { id: 'ts-doc', text: 'x', timestamp: Date.UTC(2026, 0, 2) });
    expect(res.status).toBe(201);
    const doc = await request(server, 'GET', '/v1/docs_t/ts-doc');
    expect(doc.body.timestamp).toBe('2026-01-02T00:00:00.000Z');
  });

  it('answers a repeat with the same Idempotency-Key 200 and the first { id, seq }; another body 409', async () => {
    const headers = { 'idempotency-key': 'key-1' };
    const first = await insert('docs_t', { text: 'once' }, headers);
    expect(first.status).toBe(201);
    const again = await insert('docs_t', { text: 'once' }, headers);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const other = await insert('docs_t', { text: 'twice' }, headers);
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('idempotency_conflict');
    // The key is scoped to the collection.
    const elsewhere = await insert('events', { text: 'twice' }, headers);
    expect(elsewhere.status).toBe(201);
  });

  it('gives 100 concurrent identical requests one doc: one 201 and 99 × 200, all with the same { id, seq }', async () => {
    const body = { text: 'exactly once', metadata: { n: 1 } };
    const headers = { 'idempotency-key': 'concurrent-key' };
    const before = (await request(server, 'GET', '/v1/docs_t/stats')).body.total;
    const answers = await Promise.all(Array.from({ length: 100 }, () => insert('docs_t', body, headers)));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(99);
    const first = answers[0]?.body;
    for (const answer of answers) expect(answer.body).toEqual(first);
    const after = (await request(server, 'GET', '/v1/docs_t/stats')).body.total;
    expect(after).toBe(before + 1);
  });

  it('refuses metadata nested deeper than the limit at write time with json_too_deep, and stores nothing', async () => {
    const ok = await insert('docs_t', { id: 'deep-ok', metadata: nested(MAX_JSON_DEPTH) });
    expect(ok.status).toBe(201);
    const before = (await request(server, 'GET', '/v1/docs_t/stats')).body.total;
    const deep = await insert('docs_t', { id: 'too-deep', metadata: nested(MAX_JSON_DEPTH + 1) });
    expect(deep.status).toBe(400);
    expect(deep.body.code).toBe('json_too_deep');
    // Far deeper than the limit (but inside the body limit) must not cost more than a 400.
    const bomb = `{"metadata":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
    const res = await request(server, 'POST', '/v1/docs_t', { body: bomb });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('json_too_deep');
    const arrays = `{"metadata":{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`;
    const res2 = await request(server, 'POST', '/v1/docs_t', { body: arrays });
    expect(res2.status).toBe(400);
    expect(res2.body.code).toBe('json_too_deep');
    expect((await request(server, 'GET', '/v1/docs_t/too-deep')).status).toBe(404);
    expect((await request(server, 'GET', '/v1/docs_t/stats')).body.total).toBe(before);
  });

  it('answers a body over the limit 413 payload_too_large and a wrong content type 415', async () => {
    const big = await insert('docs_t', { text: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('payload_too_large');
    const form = await request(server, 'POST', '/v1/docs_t', {
      body: 'text=hi',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    expect(form.body.code).toBe('unsupported_media_type');
    const plain = await request(server, 'POST', '/v1/docs_t', {
      body: '{"text":"hi"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(415);
    expect(plain.body.code).toBe('unsupported_media_type');
  });

  it.each([
    ['an unknown field', 'docs_t', { text: 'x', colour: 'red' }, {}, 400, 'validation_failed'],
    ['a derived field', 'docs_t', { text: 'x', status: 'completed' }, {}, 400, 'validation_failed'],
    ['a non-string text', 'docs_t', { text: 5 }, {}, 400, 'validation_failed'],
    ['an array body', 'docs_t', [{ text: 'x' }], {}, 400, 'validation_failed'],
    ['metadata that is not an object', 'docs_t', { metadata: [1] }, {}, 400, 'validation_failed'],
    ['a bad timestamp', 'docs_t', { timestamp: 'yesterday' }, {}, 400, 'validation_failed'],
    ['a reserved id', 'docs_t', { id: 'recent' }, {}, 400, 'validation_failed'],
    ['a malformed id', 'docs_t', { id: 'a b' }, {}, 400, 'validation_failed'],
    ['max_attempts 0', 'docs_t', { max_attempts: 0 }, {}, 400, 'out_of_range'],
    ['a bad source', 'docs_t', { source: 'martian' }, {}, 400, 'validation_failed'],
    ['text + metadata over 64 KiB', 'docs_t', { text: 'é'.repeat(33 * 1024) }, {}, 413, 'payload_too_large'],
    ['a bad idempotency key', 'docs_t', { text: 'x' }, { 'idempotency-key': 'ünïcode' }, 400, 'validation_failed'],
    ['an unknown collection', 'nope', { text: 'x' }, {}, 404, 'collection_not_found'],
    ['an unknown collection (with a bad body)', 'nope', { colour: 1 }, {}, 404, 'collection_not_found'],
    ['a malformed collection', 'No_Such', { text: 'x' }, {}, 400, 'invalid_name'],
  ])('refuses %s', async (_name, collection, body, headers, status, code) => {
    const res = await request(server, 'POST', `/v1/${collection}`, { body, headers });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('answers a duplicate client id 409 id_conflict', async () => {
    expect((await insert('docs_t', { id: 'dup-1' })).status).toBe(201);
    const again = await insert('docs_t', { id: 'dup-1' });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('id_conflict');
  });
});

describe('batch', () => {
  it('inserts all items atomically and answers 201 { ids } in order', async () => {
    const res = await request(server, 'POST', '/v1/docs_t/batch', {
      body: { items: [{ id: 'b-1', text: 'one' }, { text: 'two' }, { id: 'b-3' }] },
    });
    expect(res.status).toBe(201);
    expect(res.body.ids).toHaveLength(3);
    expect(res.body.ids[0]).toBe('b-1');
    expect(res.body.ids[2]).toBe('b-3');
    expect((await request(server, 'GET', `/v1/docs_t/${res.body.ids[1]}`)).body.text).toBe('two');
  });

  it('stores nothing when one item is invalid', async () => {
    const before = (await request(server, 'GET', '/v1/docs_t/stats')).body.total;
    const deep = await request(server, 'POST', '/v1/docs_t/batch', {
      body: { items: [{ id: 'b-ok' }, { id: 'b-deep', metadata: nested(MAX_JSON_DEPTH + 1) }] },
    });
    expect(deep.status).toBe(400);
    expect(deep.body.code).toBe('json_too_deep');
    const dup = await request(server, 'POST', '/v1/docs_t/batch', { body: { items: [{ id: 'b-x' }, { id: 'b-x' }] } });
    expect(dup.status).toBe(409);
    expect(dup.body.code).toBe('id_conflict');
    const taken = await request(server, 'POST', '/v1/docs_t/batch', {
      body: { items: [{ id: 'b-y' }, { id: 'b-1' }] },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('id_conflict');
    expect((await request(server, 'GET', '/v1/docs_t/stats')).body.total).toBe(before);
    expect((await request(server, 'GET', '/v1/docs_t/b-ok')).status).toBe(404);
  });

  it('accepts 1000 items, refuses 0 and 1001 with out_of_range', async () => {
    const items = (n: number) => Array.from({ length: n }, () => ({}));
    const full = await request(server, 'POST', '/v1/docs_t/batch', { body: { items: items(1000) } });
    expect(full.status).toBe(201);
    expect(full.body.ids).toHaveLength(1000);
    for (const n of [0, 1001]) {
      const res = await request(server, 'POST', '/v1/docs_t/batch', { body: { items: items(n) } });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('out_of_range');
    }
  });

  it('has its own body limit: over the single-doc limit is fine, over batchBodyLimit is 413', async () => {
    const items = Array.from({ length: 4 }, () => ({ text: 'y'.repeat(30 * 1024) }));
    const ok = await request(server, 'POST', '/v1/docs_t/batch', { body: { items } });
    expect(ok.status).toBe(201);
    const tooBig = Array.from({ length: 10 }, () => ({ text: 'y'.repeat(30 * 1024) }));
    const res = await request(server, 'POST', '/v1/docs_t/batch', { body: { items: tooBig } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('payload_too_large');
  });

  it('answers an unknown collection 404 collection_not_found, whatever the body', async () => {
    for (const body of [{ items: [{}] }, { nonsense: true }]) {
      const res = await request(server, 'POST', '/v1/nope/batch', { body });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('collection_not_found');
    }
  });

  it.each([
    ['a missing items', {}, 'validation_failed'],
    ['an unknown field', { items: [], extra: 1 }, 'validation_failed'],
    ['an unknown item field', { items: [{ colour: 1 }] }, 'validation_failed'],
  ])('refuses %s', async (_name, body, code) => {
    const res = await request(server, 'POST', '/v1/docs_t/batch', { body });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
  });
});

describe('get and thread', () => {
  it('answers an unknown doc 404 not_found and an unknown collection 404 collection_not_found', async () => {
    const res = await request(server, 'GET', '/v1/docs_t/no-such-doc');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
    const thread = await request(server, 'GET', '/v1/docs_t/no-such-doc/thread');
    expect(thread.status).toBe(404);
    expect(thread.body.code).toBe('not_found');
    for (const path of ['/v1/nope/x', '/v1/nope/x/thread']) {
      const missing = await request(server, 'GET', path);
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe('collection_not_found');
    }
  });

  it('returns every doc of a thread, oldest first', async () => {
    await insert('docs_t', { id: 'root-1', text: 'question' });
    await insert('docs_t', { id: 'ans-1', text: 'answer', correlation_id: 'root-1', parent_id: 'root-1' });
    await insert('docs_t', { id: 'other-1', text: 'unrelated' });
    await insert('docs_t', { id: 'ans-2', text: 'more', correlation_id: 'root-1', parent_id: 'ans-1' });
    for (const id of ['root-1', 'ans-2']) {
      const res = await request(server, 'GET', `/v1/docs_t/${id}/thread`);
      expect(res.status).toBe(200);
      expect(res.body.items.map((d: { id: string }) => d.id)).toEqual(['root-1', 'ans-1', 'ans-2']);
    }
  });
});

describe('recent', () => {
  beforeAll(async () => {
    await request(server, 'PUT', '/v1/collections/recent_t', { body: {} });
    for (let i = 0; i < 7; i++) {
      await insert('recent_t', {
        id: `r-${i}`,
        text: i % 2 === 0 ? `ping @Bob #${i}` : `pong ${i}`,
        topic: i < 3 ? 'early' : 'late',
        metadata: { n: i, ...(i === 4 ? { tool: 'curl' } : {}) },
      });
    }
  });

  const ids = (body: { items: Array<{ id: string }> }) => body.items.map((d) => d.id);

  it('pages newest first with next/before and a feed cursor', async () => {
    const first = await request(server, 'GET', '/v1/recent_t/recent?limit=3');
    expect(first.status).toBe(200);
    expect(ids(first.body)).toEqual(['r-6', 'r-5', 'r-4']);
    expect(Number.isInteger(first.body.cursor)).toBe(true);
    expect(first.body.cursor).toBeGreaterThanOrEqual(first.body.items[0].seq);
    expect(typeof first.body.next).toBe('string');
    const second = await request(server, 'GET', `/v1/recent_t/recent?limit=3&before=${first.body.next}`);
    expect(ids(second.body)).toEqual(['r-3', 'r-2', 'r-1']);
    const last = await request(server, 'GET', `/v1/recent_t/recent?limit=3&before=${second.body.next}`);
    expect(ids(last.body)).toEqual(['r-0']);
    expect(last.body.next).toBeUndefined();
  });

  it('narrows by topic, status, mention, tool and filter (JSON and base64url)', async () => {
    const get = async (query: string) => ids((await request(server, 'GET', `/v1/recent_t/recent?${query}`)).body);
    expect(await get('topic=early')).toEqual(['r-2', 'r-1', 'r-0']);
    expect(await get('status=pending&limit=2')).toEqual(['r-6', 'r-5']);
    expect(await get('status=completed')).toEqual([]);
    expect(await get('mention=%40BOB&topic=late')).toEqual(['r-6', 'r-4']);
    expect(await get('tool=curl')).toEqual(['r-4']);
    const filter = JSON.stringify({ 'metadata.n': { $gte: 5 } });
    expect(await get(`filter=${encodeURIComponent(filter)}`)).toEqual(['r-6', 'r-5']);
    expect(await get(`filter=${Buffer.from(filter).toString('base64url')}`)).toEqual(['r-6', 'r-5']);
  });

  it.each([
    ['limit=abc', 400, 'validation_failed'],
    ['limit=1.5', 400, 'validation_failed'],
    ['limit=500', 400, 'out_of_range'],
    ['limit=0', 400, 'out_of_range'],
    ['limit=-3', 400, 'out_of_range'],
    ['limit=99999999999999999999', 400, 'out_of_range'],
    ['limit=1e2', 400, 'validation_failed'],
    ['limit=1&limit=2', 400, 'validation_failed'],
    ['status=done', 400, 'validation_failed'],
    ['before=yesterday', 400, 'bad_cursor'],
    ['filter=%7B%22nope%22%3A1%7D', 400, 'bad_filter'],
    ['filter=%7Bbroken', 400, 'bad_filter'],
    ['colour=red', 400, 'unknown_parameter'],
  ])('refuses ?%s', async (query, status, code) => {
    const res = await request(server, 'GET', `/v1/recent_t/recent?${query}`);
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });

  it('answers an unknown collection 404 even with bad parameters', async () => {
    const res = await request(server, 'GET', '/v1/nope/recent?colour=red');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('collection_not_found');
  });
});

describe('routes without query parameters', () => {
  it.each([
    ['GET', '/v1/docs_t/b-1?x=1', undefined],
    ['GET', '/v1/docs_t/b-1/thread?x=1', undefined],
    ['POST', '/v1/docs_t?x=1', {}],
    ['POST', '/v1/docs_t/batch?x=1', { items: [{}] }],
  ])('%s %s is 400 unknown_parameter', async (method, path, body) => {
    const res = await request(server, method, path, body === undefined ? {} : { body });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('unknown_parameter');
  });
});
