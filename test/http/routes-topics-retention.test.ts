// SPDX-License-Identifier: GPL-3.0-or-later
// Topic prompts (GET list, GET/PUT/DELETE one) and retention (DELETE /v1/:c/docs).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, startServer, type TestServer } from '../helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ store: { search: false } });
});
afterAll(() => server.close());

describe('topics', () => {
  it('PUT creates (201) then updates (200); GET one and the list; DELETE 204 then 404', async () => {
    const created = await request(server, 'PUT', '/v1/topics/build.ci', {
      body: { description: 'CI', prompt: 'Fix it.' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'build.ci', description: 'CI', prompt: 'Fix it.' });
    const updated = await request(server, 'PUT', '/v1/topics/build.ci', { body: { prompt: 'Fix it fast.' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      description: 'CI',
      prompt: 'Fix it fast.',
      created_at: created.body.created_at,
    });
    const one = await request(server, 'GET', '/v1/topics/build.ci');
    expect(one.status).toBe(200);
    expect(one.body).toEqual(updated.body);
    const list = await request(server, 'GET', '/v1/topics');
    expect(list.status).toBe(200);
    expect(list.body.map((t: { name: string }) => t.name)).toContain('build.ci');
    const deleted = await request(server, 'DELETE', '/v1/topics/build.ci');
    expect(deleted.status).toBe(204);
    expect(deleted.body).toBe('');
    const gone = await request(server, 'DELETE', '/v1/topics/build.ci');
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('not_found');
    const missing = await request(server, 'GET', '/v1/topics/build.ci');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('not_found');
  });

  it.each([
    ['a malformed name (PUT)', 'PUT', '/v1/topics/a%20b', {}, 400, 'invalid_name'],
    ['a malformed name (GET)', 'GET', '/v1/topics/a%20b', undefined, 400, 'invalid_name'],
    ['a malformed name (DELETE)', 'DELETE', '/v1/topics/a%20b', undefined, 400, 'invalid_name'],
    ['an unknown field', 'PUT', '/v1/topics/t1', { colour: 'red' }, 400, 'validation_failed'],
    ['a non-string prompt', 'PUT', '/v1/topics/t1', { prompt: 5 }, 400, 'validation_failed'],
    ['a prompt over 64 KiB', 'PUT', '/v1/topics/t1', { prompt: 'p'.repeat(65_537) }, 413, 'payload_too_large'],
    ['an array body', 'PUT', '/v1/topics/t1', '[]', 400, 'validation_failed'],
    ['a query parameter on the list', 'GET', '/v1/topics?x=1', undefined, 400, 'unknown_parameter'],
    ['a query parameter on one', 'GET', '/v1/topics/t1?x=1', undefined, 400, 'unknown_parameter'],
  ])('refuses %s', async (_name, method, path, body, status, code) => {
    const res = await request(server, method, path, body === undefined ? {} : { body });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
  });
});

describe('retention', () => {
  const DAY = 86_400_000;

  beforeAll(async () => {
    await request(server, 'PUT', '/v1/collections/ret_t', { body: {} });
    const now = Date.now();
    const docs = [
      { id: 'old-done', timestamp: now - 40 * DAY },
      { id: 'old-pending', timestamp: now - 40 * DAY },
      { id: 'week-done', timestamp: now - 7 * DAY },
      { id: 'new-done', timestamp: now - 60_000 },
    ];
    expect((await request(server, 'POST', '/v1/ret_t/batch', { body: { items: docs } })).status).toBe(201);
    for (const id of ['old-done', 'week-done', 'new-done']) {
      const reply = await request(server, 'POST', `/v1/ret_t/${id}/reply`, {
        body: { text: 'done', status: 'success' },
      });
      expect(reply.status).toBe(201);
    }
  });

  const remaining = async () =>
    (await request(server, 'GET', '/v1/ret_t/recent?limit=200')).body.items
      .map((d: { id: string; parent_id: string | null }) => d.id)
      .filter((id: string) => !/^[0-9a-f]{8}-/.test(id))
      .sort();

  it.each([
    ['', 'bad_retention'],
    ['older_than=soon', 'bad_retention'],
    ['older_than=30x', 'bad_retention'],
    ['status=done', 'bad_retention'],
    ['status=completed&colour=red', 'unknown_parameter'],
  ])('refuses ?%s and deletes nothing', async (query, code) => {
    const before = await remaining();
    const res = await request(server, 'DELETE', `/v1/ret_t/docs?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
    expect(await remaining()).toEqual(before);
  });

  it('deletes by status and a duration, then by an ISO time, answering { deleted }', async () => {
    const month = await request(server, 'DELETE', '/v1/ret_t/docs?status=completed&older_than=30d');
    expect(month.status).toBe(200);
    expect(month.body).toEqual({ deleted: 1 });
    expect(await remaining()).toEqual(['new-done', 'old-pending', 'week-done']);
    const cutoff = new Date(Date.now() - 3 * DAY).toISOString();
    const byTime = await request(server, 'DELETE', `/v1/ret_t/docs?older_than=${encodeURIComponent(cutoff)}`);
    expect(byTime.body).toEqual({ deleted: 2 });
    expect(await remaining()).toEqual(['new-done']);
    const huge = await request(server, 'DELETE', '/v1/ret_t/docs?older_than=999999999w');
    expect(huge.body).toEqual({ deleted: 0 });
  });

  it('answers an unknown collection 404 collection_not_found', async () => {
    const res = await request(server, 'DELETE', '/v1/nope/docs?status=completed');
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('collection_not_found');
  });
});
