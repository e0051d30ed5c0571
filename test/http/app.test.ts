// SPDX-License-Identifier: GPL-3.0-or-later
// The app skeleton: health, collections, stats, and the shared error handling (404, 405, 415,
// bad JSON, unknown parameters) over real sockets.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request, startServer, type TestServer } from '../helpers.js';

let server: TestServer;
beforeEach(async () => {
  server = await startServer({ store: { search: false } });
});
afterEach(() => server.close());

describe('app skeleton', () => {
  it('answers health with the collections, the store kind and the version', async () => {
    const res = await request(server, 'GET', '/v1/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      ok: true,
      collections: ['agent_tasks', 'events', 'opencode_events', 'session_messages'],
      store: 'sqlite',
      version: '0.1.0',
    });
  });

  it('creates a collection with 201, then updates it with 200', async () => {
    const first = await request(server, 'PUT', '/v1/collections/builds', { body: { max_attempts: 3 } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: 'builds', max_attempts: 3 });
    const again = await request(server, 'PUT', '/v1/collections/builds', { body: { retention_days: 7 } });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ name: 'builds', max_attempts: 3, retention_days: 7 });
    const list = await request(server, 'GET', '/v1/collections');
    expect(list.body).toContain('builds');
  });

  it('refuses a malformed collection name with invalid_name and an unknown one with collection_not_found', async () => {
    const bad = await request(server, 'PUT', '/v1/collections/Bad%20Name', { body: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_name');
    const missing = await request(server, 'GET', '/v1/nope/stats');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('collection_not_found');
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('reports stats for a collection', async () => {
    const res = await request(server, 'GET', '/v1/events/stats');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      collection: 'events',
      counts: { pending: 0, processing: 0, completed: 0, failed: 0 },
      total: 0,
      last_seq: 0,
    });
  });

  it('answers an unknown route with 404 not_found and a wrong method with 405 and Allow', async () => {
    const missing = await request(server, 'GET', '/v2/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('not_found');
    const wrong = await request(server, 'DELETE', '/v1/health');
    expect(wrong.status).toBe(405);
    expect(wrong.body.code).toBe('method_not_allowed');
    expect(wrong.headers.get('allow')).toContain('GET');
  });

  it('answers a non-JSON body with 415 and broken JSON with validation_failed', async () => {
    const text = await request(server, 'PUT', '/v1/collections/x1', {
      body: 'max_attempts=3',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('unsupported_media_type');
    const broken = await request(server, 'PUT', '/v1/collections/x1', { body: '{"max_attempts":' });
    expect(broken.status).toBe(400);
    expect(broken.body.code).toBe('validation_failed');
  });

  it('answers an unknown body field with validation_failed and an out-of-range number with out_of_range', async () => {
    const unknown = await request(server, 'PUT', '/v1/collections/x2', { body: { colour: 'red' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('validation_failed');
    const range = await request(server, 'PUT', '/v1/collections/x2', { body: { max_attempts: 0 } });
    expect(range.status).toBe(400);
    expect(range.body.code).toBe('out_of_range');
  });

  it('accepts a body-less DELETE that still says Content-Type: application/json', async () => {
    await request(server, 'PUT', '/v1/topics/t1', { body: { prompt: 'p' } });
    const res = await request(server, 'DELETE', '/v1/topics/t1', { headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(204);
  });

  it('answers router-level failures (bad percent-encoding, over-long segment) as problem+json', async () => {
    const encoding = await request(server, 'GET', '/v1/events/%zz');
    expect(encoding.status).toBe(400);
    expect(encoding.body.code).toBe('validation_failed');
    const long = await request(server, 'GET', `/v1/events/${'a'.repeat(300)}`);
    expect(long.status).toBe(400);
    expect(long.body.code).toBe('invalid_name');
    expect(JSON.stringify(long.body)).not.toContain('a'.repeat(300));
  });

  it('refuses unknown query parameters on health, collections and stats', async () => {
    for (const path of ['/v1/health?x=1', '/v1/collections?x=1', '/v1/events/stats?x=1']) {
      const res = await request(server, 'GET', path);
      expect(res.status, path).toBe(400);
      expect(res.body.code, path).toBe('unknown_parameter');
    }
  });
});
