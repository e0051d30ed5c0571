// SPDX-License-Identifier: GPL-3.0-or-later
// GET /v1/:c/search over a real index: hits with score and snippet, read-your-writes with
// wait_for, filters, modes and orders, and the parameter errors.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startServer, type TestServer } from '../helpers.js';

let server: TestServer;
let lastSeq = 0;
beforeAll(async () => {
  server = await startServer();
  const texts = [
    ['s-1', 'the deploy failed on staging', 'ops'],
    ['s-2', 'deploy succeeded after a retry', 'ops'],
    ['s-3', 'lunch order for friday', 'misc'],
    ['s-4', 'rollback the failed deploy now', 'ops'],
  ];
  for (const [id, text, topic] of texts) {
    const res = await request(server, 'POST', '/v1/events', { body: { id, text, topic, metadata: { id } } });
    lastSeq = res.body.seq;
  }
});
afterAll(() => server.close());

const search = (query: string) => request(server, 'GET', `/v1/events/search?${query}`);
const ids = (body: { items: Array<{ doc: { id: string } }> }) => body.items.map((hit) => hit.doc.id);

describe('search', () => {
  it('finds what was just written with wait_for, each hit with a score and a snippet', async () => {
    const res = await search(`q=deploy&wait_for=${lastSeq}`);
    expect(res.status).toBe(200);
    expect(res.body.indexed_through).toBeGreaterThanOrEqual(lastSeq);
    expect(ids(res.body).sort()).toEqual(['s-1', 's-2', 's-4']);
    for (const hit of res.body.items) {
      expect(typeof hit.score).toBe('number');
      expect(hit.snippet.toLowerCase()).toContain('deploy');
    }
  });

  it('honours k, order=recent, a filter and mode=fts', async () => {
    const wait = `wait_for=${lastSeq}`;
    expect((await search(`q=deploy&k=1&${wait}`)).body.items).toHaveLength(1);
    expect(ids((await search(`q=deploy&order=recent&${wait}`)).body)).toEqual(['s-4', 's-2', 's-1']);
    const filter = encodeURIComponent(JSON.stringify({ 'metadata.id': { $in: ['s-1', 's-2'] } }));
    expect(ids((await search(`q=deploy&filter=${filter}&${wait}`)).body).sort()).toEqual(['s-1', 's-2']);
    expect(ids((await search(`q=${encodeURIComponent('deploy AND failed')}&mode=fts&${wait}`)).body).sort()).toEqual([
      's-1',
      's-4',
    ]);
    // In simple mode the same text is words, not syntax: anything is a valid query.
    const simple = await search(`q=${encodeURIComponent('"unbalanced AND (')}&${wait}`);
    expect(simple.status).toBe(200);
  });

  it.each([
    ['', 'validation_failed'],
    ['q=x&k=abc', 'validation_failed'],
    ['q=x&k=0', 'out_of_range'],
    ['q=x&k=51', 'out_of_range'],
    ['q=x&mode=regex', 'validation_failed'],
    ['q=x&order=random', 'validation_failed'],
    ['q=x&wait_for=-1', 'out_of_range'],
    ['q=x&wait_for=soon', 'validation_failed'],
    ['q=x&filter=%5B1%5D', 'bad_filter'],
    [`q=${'x'.repeat(10_001)}`, 'out_of_range'],
    [`q=${encodeURIComponent('"unbalanced AND (')}&mode=fts`, 'bad_search_syntax'],
    ['q=x&limit=5', 'unknown_parameter'],
  ])('refuses ?%s', async (query, code) => {
    const res = await search(query);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
  });

  it('answers an unknown collection 404 collection_not_found', async () => {
    const res = await request(server, 'GET', '/v1/nope/search?q=x');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('collection_not_found');
  });
});
