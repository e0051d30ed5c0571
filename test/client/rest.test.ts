// SPDX-License-Identifier: GPL-3.0-or-later
// Every REST method of @dualstore/sse-client against a real server: the happy path of each and
// the coded errors a caller matches on (never message text). Also the client's own codes:
// network_error, bad_response, and aborts that reject with the signal's reason.

import { hashTokenSecret, newTokenSecret } from '@dualstore/core';
import { createClient, type DualStoreHttp, isDualStoreError } from '@dualstore/sse-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';
import { type ScriptedAnswer, scriptedFetch } from './helpers.js';

/** The `code` a promise rejects with (fails the test if it resolves or throws something else). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isDualStoreError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a rejection');
}

let server: TestServer;
let client: DualStoreHttp;

beforeAll(async () => {
  server = await startServer();
  client = createClient({ baseUrl: `${server.url}/` });
});
afterAll(() => server.close());

describe('collections and health', () => {
  it('health, listCollections, putCollection, stats', async () => {
    const health = await client.health();
    expect(health.ok).toBe(true);
    expect(health.store).toBe('sqlite');
    expect(await client.listCollections()).toContain('events');

    const created = await client.putCollection('jobs', { max_attempts: 3 });
    expect(created).toMatchObject({ name: 'jobs', max_attempts: 3 });
    expect((await client.putCollection('jobs')).name).toBe('jobs');
    expect(await client.listCollections()).toContain('jobs');

    await client.insert('jobs', { text: 'x' });
    const stats = await client.stats('jobs');
    expect(stats.counts.pending).toBe(1);
    expect(stats.total).toBe(1);
    expect(stats.last_seq).toBeGreaterThan(0);
  });

  it('answers invalid_name and collection_not_found', async () => {
    expect(await codeOf(client.putCollection('Bad Name'))).toBe('invalid_name');
    expect(await codeOf(client.putCollection('topics'))).toBe('invalid_name');
    expect(await codeOf(client.stats('nope'))).toBe('collection_not_found');
    expect(await codeOf(client.putCollection('jobs', { max_attempts: 0 }))).toBe('out_of_range');
  });
});

describe('docs', () => {
  it('insert, get, recent (with cursor and paging), batch, thread', async () => {
    await client.putCollection('docs');
    const first = await client.insert('docs', { text: 'hello @Alice', topic: 'greet', metadata: { n: 1 } });
    expect(first.seq).toBeGreaterThan(0);
    const doc = await client.get('docs', first.id);
    expect(doc).toMatchObject({ id: first.id, seq: first.seq, text: 'hello @Alice', mentions: ['alice'] });

    const { ids } = await client.batch('docs', [{ text: 'b1' }, { text: 'b2', topic: 'greet' }]);
    expect(ids).toHaveLength(2);

    const page = await client.recent('docs', { limit: 2 });
    expect(page.items.map((d) => d.text)).toEqual(['b2', 'b1']);
    expect(page.cursor).toBeGreaterThanOrEqual(first.seq);
    const older = await client.recent('docs', { limit: 2, before: page.next });
    expect(older.items.map((d) => d.text)).toEqual(['hello @Alice']);

    expect((await client.recent('docs', { topic: 'greet' })).items).toHaveLength(2);
    expect((await client.recent('docs', { mention: '@alice' })).items).toHaveLength(1);
    expect((await client.recent('docs', { filter: { 'metadata.n': 1 } })).items).toHaveLength(1);
    expect((await client.recent('docs', { filter: '{"metadata.n":2}' })).items).toHaveLength(0);

    const reply = await client.reply('docs', first.id, { text: 'hi', status: 'success' });
    const thread = await client.thread('docs', first.id);
    expect(thread.items.map((d) => d.id)).toEqual([first.id, reply.id]);
  });

  it('idempotent insert returns the first doc; a different body is idempotency_conflict', async () => {
    const a = await client.insert('events', { text: 'once' }, { idempotencyKey: 'k-1' });
    const b = await client.insert('events', { text: 'once' }, { idempotencyKey: 'k-1' });
    expect(b).toEqual(a);
    expect(await codeOf(client.insert('events', { text: 'other' }, { idempotencyKey: 'k-1' }))).toBe(
      'idempotency_conflict',
    );
  });

  it('answers not_found, validation_failed (with field errors), collection_not_found, out_of_range, bad_filter', async () => {
    expect(await codeOf(client.get('events', 'missing'))).toBe('not_found');
    expect(await codeOf(client.insert('nope', { text: 'x' }))).toBe('collection_not_found');
    const invalid = await client.insert('events', { text: 'x', status: 'done' } as never).catch((e: unknown) => e);
    expect(isDualStoreError(invalid) && invalid.code).toBe('validation_failed');
    expect(isDualStoreError(invalid) && invalid.status).toBe(400);
    expect(isDualStoreError(invalid) && invalid.errors?.length).toBeGreaterThan(0);
    expect(await codeOf(client.recent('events', { limit: 500 }))).toBe('out_of_range');
    expect(await codeOf(client.recent('events', { filter: { 'metadata.a': { $bogus: 1 } } }))).toBe('bad_filter');
    expect(await codeOf(client.batch('events', []))).toBe('out_of_range');
    expect(
      await codeOf(
        client.insert('events', { id: 'dup', text: 'a' }).then(() => client.insert('events', { id: 'dup' })),
      ),
    ).toBe('id_conflict');
  });
});

describe('search', () => {
  it('finds with read-your-writes and answers bad_search_syntax', async () => {
    const { seq } = await client.insert('events', { text: 'a zebra crossing' });
    const result = await client.search('events', 'zebra', { waitFor: seq, k: 5, order: 'recent' });
    expect(result.indexed_through).toBeGreaterThanOrEqual(seq);
    expect(result.items.map((hit) => hit.doc.text)).toContain('a zebra crossing');
    expect(await codeOf(client.search('events', '"unterminated', { mode: 'fts' }))).toBe('bad_search_syntax');
    expect(await codeOf(client.search('events', 'x', { k: 99 }))).toBe('out_of_range');
  });
});

describe('work queue', () => {
  it('claim, extend, complete; then lease_lost and already_finished', async () => {
    await client.putCollection('work');
    const { id } = await client.insert('work', { text: 'task' });
    const { items } = await client.claim('work', { agent: 'w1', leaseMs: 60_000 });
    expect(items).toHaveLength(1);
    const [{ doc, claim }] = items as [(typeof items)[number]];
    expect(doc).toMatchObject({ id, status: 'processing', claimed_by: 'w1' });

    const extended = await client.extend('work', id, claim.token, 120_000);
    expect(Date.parse(extended.lease_expires_at!)).toBeGreaterThan(Date.parse(claim.expires_at));
    expect(await codeOf(client.complete('work', id, 'wrong-token'))).toBe('lease_lost');
    expect((await client.complete('work', id, claim.token)).status).toBe('completed');
    expect(await codeOf(client.complete('work', id, claim.token))).toBe('already_finished');
    expect((await client.claim('work', { agent: 'w1' })).items).toEqual([]);
  });

  it('fail puts the doc back with last_error; release restores it; reply needs the token', async () => {
    const { id } = await client.insert('work', { text: 'flaky' });
    let [item] = (await client.claim('work', { agent: 'w2' })).items;
    const failed = await client.fail('work', id, { token: item!.claim.token, error: 'boom', retryInMs: 0 });
    expect(failed).toMatchObject({ status: 'pending', last_error: 'boom', attempts: 1 });

    [item] = (await client.claim('work', { agent: 'w2', limit: 5 })).items;
    const released = await client.release('work', id, item!.claim.token);
    expect(released).toMatchObject({ status: 'pending', attempts: 1 });

    [item] = (await client.claim('work', { agent: 'w2' })).items;
    expect(await codeOf(client.reply('work', id, { text: 'done', status: 'success' }))).toBe('token_required');
    const reply = await client.reply('work', id, { text: 'done', status: 'success', token: item!.claim.token });
    expect(reply).toMatchObject({ parent_id: id, status: 'completed' });
    expect((await client.get('work', id)).status).toBe('completed');
  });

  it('claim answers out_of_range and validation_failed', async () => {
    expect(await codeOf(client.claim('work', { agent: 'w', leaseMs: 5 }))).toBe('out_of_range');
    expect(await codeOf(client.claim('work', { agent: 'w', waitMs: 60_000 }))).toBe('out_of_range');
    expect(await codeOf(client.claim('work', { agent: 'has space' }))).toBe('validation_failed');
  });

  it('claim long-polls until work arrives', async () => {
    const waiting = client.claim('work', { agent: 'poller', waitMs: 10_000 });
    const { id } = await client.insert('work', { text: 'late' });
    const { items } = await waiting;
    expect(items.map((i) => i.doc.id)).toEqual([id]);
  });
});

describe('topics, retention, tickets', () => {
  it('topics: put, get, list, delete; not_found', async () => {
    const topic = await client.topics.put('review', { description: 'code review', prompt: 'Be terse.' });
    expect(topic).toMatchObject({ name: 'review', prompt: 'Be terse.' });
    expect((await client.topics.get('review')).description).toBe('code review');
    expect((await client.topics.list()).map((t) => t.name)).toContain('review');
    await client.insert('work', { text: 'with prompt', topic: 'review' });
    const [item] = (await client.claim('work', { agent: 'p', topic: 'review' })).items;
    expect(item?.prompt).toBe('Be terse.');
    expect(await client.topics.delete('review')).toBeUndefined();
    expect(await codeOf(client.topics.get('review'))).toBe('not_found');
    expect(await codeOf(client.topics.delete('review'))).toBe('not_found');
  });

  it('deleteDocs deletes by status and age; bad_retention without conditions', async () => {
    await client.putCollection('old');
    await client.insert('old', { text: 'ancient', timestamp: '2020-01-01T00:00:00.000Z' });
    await client.insert('old', { text: 'new' });
    expect(await client.deleteDocs('old', { olderThan: '30d' })).toEqual({ deleted: 1 });
    expect(await codeOf(client.deleteDocs('old', {}))).toBe('bad_retention');
    expect(await codeOf(client.deleteDocs('old', { status: 'done' as never }))).toBe('bad_retention');
  });

  it('tickets mints a single-use ticket', async () => {
    const ticket = await client.tickets();
    expect(typeof ticket.ticket).toBe('string');
    expect(Date.parse(ticket.expires_at)).toBeGreaterThan(Date.now());
  });
});

describe('auth', () => {
  let secured: TestServer;
  let readOnly: string;
  beforeAll(async () => {
    secured = await startServer({ authToken: 'root-secret-token', store: { search: false } });
    readOnly = newTokenSecret();
    await secured.store.createToken({ name: 'reader', scopes: ['read'], hash: hashTokenSecret(readOnly) });
  });
  afterAll(() => secured.close());

  it('sends the bearer token; answers unauthorized and forbidden', async () => {
    const root = createClient({ baseUrl: secured.url, token: 'root-secret-token' });
    expect((await root.insert('events', { text: 'x' })).seq).toBeGreaterThan(0);
    expect((await createClient({ baseUrl: secured.url }).health()).ok).toBe(true);
    expect(await codeOf(createClient({ baseUrl: secured.url }).listCollections())).toBe('unauthorized');
    expect(await codeOf(createClient({ baseUrl: secured.url, token: 'wrong' }).recent('events'))).toBe('unauthorized');
    const reader = createClient({ baseUrl: secured.url, token: readOnly });
    expect((await reader.recent('events')).items).toHaveLength(1);
    const forbidden = await reader.insert('events', { text: 'no' }).catch((e: unknown) => e);
    expect(isDualStoreError(forbidden) && forbidden.code).toBe('forbidden');
    expect(isDualStoreError(forbidden) && forbidden.status).toBe(403);
    // A read token may mint stream tickets: streams need only `read`.
    expect(typeof (await reader.tickets()).ticket).toBe('string');
  });
});

describe('client-side failures', () => {
  it('network_error when nothing listens, with status 0', async () => {
    const gone = await startServer({ store: { search: false } });
    const url = gone.url;
    await gone.close();
    const error = await createClient({ baseUrl: url })
      .health()
      .catch((e: unknown) => e);
    expect(isDualStoreError(error) && error.code).toBe('network_error');
    expect(isDualStoreError(error) && error.status).toBe(0);
  });

  it('bad_response for a non-problem error page and for a 2xx that is not JSON; keeps Retry-After', async () => {
    const { fetch } = scriptedFetch(
      (url): ScriptedAnswer =>
        url.endsWith('/health')
          ? { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>' }
          : { status: 502, headers: { 'content-type': 'text/html', 'retry-after': '2' }, body: '<h1>Bad gateway</h1>' },
    );
    const proxied = createClient({ baseUrl: 'http://proxy.invalid', fetch });
    expect(await codeOf(proxied.health())).toBe('bad_response');
    const error = await proxied.listCollections().catch((e: unknown) => e);
    expect(isDualStoreError(error) && error.code).toBe('bad_response');
    expect(isDualStoreError(error) && error.status).toBe(502);
    expect(isDualStoreError(error) && error.retryAfterMs).toBe(2000);
  });

  it('an aborted call rejects with the signal reason', async () => {
    const reason = new Error('user went away');
    const controller = new AbortController();
    const pending = client.claim('work', { agent: 'abort', waitMs: 20_000, signal: controller.signal });
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await expect(client.health({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });
});
