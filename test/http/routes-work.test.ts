// SPDX-License-Identifier: GPL-3.0-or-later
// The work queue over HTTP: claim (with long-poll), complete, fail, extend, release, reply —
// answers and error codes, fencing after a lease runs out (manual clock, no sleeps), reply
// atomicity, 20 concurrent claimers over 500 docs, and a long-poll ended by its client leaving.

import type { ClaimRequest } from '@dualstore/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { request, startServer, type TestServer } from '../helpers.js';

/** A clock the test moves by hand: leases run out when the test says so. */
function manualClock(start = Date.UTC(2026, 10, 21, 12)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

interface Claimed {
  doc: { id: string; version: number; attempts: number; status: string };
  claim: { token: string; expires_at: string };
  prompt?: string;
}

let server: TestServer;
const clock = manualClock();

beforeAll(async () => {
  server = await startServer({ store: { search: false, now: clock.now } });
});
afterAll(() => server.close());

let collection = '';
let counter = 0;
beforeEach(async () => {
  // A fresh collection per test, so one test's leftover work is not another's claim.
  collection = `work_${++counter}`;
  await request(server, 'PUT', `/v1/collections/${collection}`, { body: {} });
});

const post = (path: string, body: unknown) => request(server, 'POST', `/v1/${collection}${path}`, { body });

async function insert(body: Record<string, unknown> = {}): Promise<string> {
  const res = await post('', { text: 'job', ...body });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function claimOne(body: Partial<Record<string, unknown>> = {}): Promise<Claimed> {
  const res = await post('/claim', { agent: 'w1', ...body });
  expect(res.status).toBe(200);
  expect(res.body.items).toHaveLength(1);
  return res.body.items[0];
}

const getDoc = async (id: string) => (await request(server, 'GET', `/v1/${collection}/${id}`)).body;

describe('claim', () => {
  it('claims the oldest due doc with a token, a lease and the topic prompt', async () => {
    await request(server, 'PUT', '/v1/topics/triage', { body: { prompt: 'Sort it.' } });
    const first = await insert({ topic: 'triage' });
    await insert();
    const item = await claimOne({ lease_ms: 1000 });
    expect(item.doc).toMatchObject({ id: first, status: 'processing', attempts: 1 });
    expect(item.claim.token.length).toBeGreaterThan(10);
    expect(item.claim.expires_at).toBe(new Date(clock.now() + 1000).toISOString());
    expect(item.prompt).toBe('Sort it.');
  });

  it('answers empty items when nothing is due, and honours limit, topic and filter', async () => {
    const empty = await post('/claim', { agent: 'w1' });
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual({ items: [] });
    await insert({ topic: 'a', metadata: { repo: 'x' } });
    const b = await insert({ topic: 'b', metadata: { repo: 'y' } });
    const c = await insert({ topic: 'b', metadata: { repo: 'x' } });
    const byFilter = await post('/claim', { agent: 'w1', topic: 'b', filter: { 'metadata.repo': 'x' } });
    expect(byFilter.body.items.map((i: Claimed) => i.doc.id)).toEqual([c]);
    const asText = await post('/claim', { agent: 'w1', filter: JSON.stringify({ topic: 'b' }), limit: 5 });
    expect(asText.body.items.map((i: Claimed) => i.doc.id)).toEqual([b]);
  });

  it.each([
    ['no agent', {}, 'validation_failed'],
    ['an agent with a space', { agent: 'a b' }, 'validation_failed'],
    ['lease_ms below 100', { agent: 'w', lease_ms: 99 }, 'out_of_range'],
    ['lease_ms over 24 h', { agent: 'w', lease_ms: 86_400_001 }, 'out_of_range'],
    ['wait_ms over 30 s', { agent: 'w', wait_ms: 30_001 }, 'out_of_range'],
    ['a huge wait_ms', { agent: 'w', wait_ms: 1e20 }, 'out_of_range'],
    ['limit 0', { agent: 'w', limit: 0 }, 'out_of_range'],
    ['limit 101', { agent: 'w', limit: 101 }, 'out_of_range'],
    ['a fractional limit', { agent: 'w', limit: 1.5 }, 'validation_failed'],
    ['a bad filter', { agent: 'w', filter: { 'metadata.a': { $regex: 'x' } } }, 'bad_filter'],
    ['a bad topic', { agent: 'w', topic: 'a b' }, 'validation_failed'],
    ['an unknown field', { agent: 'w', colour: 'red' }, 'validation_failed'],
  ])('refuses %s', async (_name, body, code) => {
    const res = await post('/claim', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
  });

  it('answers a query parameter 400 unknown_parameter on every work route', async () => {
    const id = await insert();
    for (const [path, body] of [
      ['claim', { agent: 'w' }],
      [`${id}/complete`, { token: 't' }],
      [`${id}/fail`, { token: 't', error: 'e' }],
      [`${id}/extend`, { token: 't', lease_ms: 1000 }],
      [`${id}/release`, { token: 't' }],
      [`${id}/reply`, { text: 'r', status: 'success' }],
    ] as const) {
      const res = await post(`/${path}?x=1`, body);
      expect(res.status, path).toBe(400);
      expect(res.body.code).toBe('unknown_parameter');
    }
    expect((await getDoc(id)).status).toBe('pending');
  });

  it('answers an unknown collection 404 collection_not_found on every work route', async () => {
    for (const path of ['claim', 'x/complete', 'x/fail', 'x/extend', 'x/release', 'x/reply']) {
      const res = await request(server, 'POST', `/v1/nope/${path}`, { body: {} });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe('collection_not_found');
    }
  });

  it('long-polls until work arrives', async () => {
    const claim = vi.spyOn(server.store, 'claim');
    const transactions = server.store.writeStats.transactions;
    const waiting = post('/claim', { agent: 'w1', wait_ms: 10_000 });
    // Insert once the claim is parked: its first, empty attempt has committed.
    await vi.waitFor(() => {
      expect(claim).toHaveBeenCalled();
      expect(server.store.writeStats.transactions).toBeGreaterThan(transactions);
    });
    claim.mockRestore();
    const id = await insert();
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: Claimed) => i.doc.id)).toEqual([id]);
  });
});

describe('a long-poll whose client leaves', () => {
  afterEach(() => vi.restoreAllMocks());

  it('stops waiting in the store when the client disconnects', async () => {
    const claim = vi.spyOn(server.store, 'claim');
    const controller = new AbortController();
    const fetching = fetch(`${server.url}/v1/${collection}/claim`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'gone', wait_ms: 30_000 }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await vi.waitFor(() => expect(claim).toHaveBeenCalled());
    const call = claim.mock.calls[0]?.[1] as ClaimRequest;
    const result = claim.mock.results[0]?.value as Promise<unknown>;
    expect(call.signal?.aborted).toBe(false);
    controller.abort();
    expect(await fetching).toBeInstanceOf(Error);
    // The store's wait ends well before its 30 s, because the signal fired.
    await vi.waitFor(() => expect(call.signal?.aborted).toBe(true), { timeout: 5000 });
    await expect(result).resolves.toEqual([]);
  });

  it('does not abort a long-poll whose answer was sent', async () => {
    const claim = vi.spyOn(server.store, 'claim');
    await insert();
    const res = await post('/claim', { agent: 'w1', wait_ms: 1000 });
    expect(res.body.items).toHaveLength(1);
    const call = claim.mock.calls[0]?.[1] as ClaimRequest;
    expect(call.signal?.aborted).toBe(false);
  });
});

describe('complete, fail, extend, release', () => {
  it('complete → 200 completed doc; again → 409 already_finished', async () => {
    const id = await insert();
    const { claim } = await claimOne();
    const done = await post(`/${id}/complete`, { token: claim.token });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ id, status: 'completed', claimed_by: 'w1', lease_expires_at: null });
    expect(done.body.processed_at).toBe(new Date(clock.now()).toISOString());
    const again = await post(`/${id}/complete`, { token: claim.token });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('already_finished');
  });

  it('fail → pending again after retry_in_ms, then failed after max_attempts', async () => {
    const id = await insert({ max_attempts: 2 });
    const first = await claimOne();
    const failed = await post(`/${id}/fail`, { token: first.claim.token, error: 'boom', retry_in_ms: 500 });
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ status: 'pending', last_error: 'boom', attempts: 1 });
    expect(failed.body.available_at).toBe(new Date(clock.now() + 500).toISOString());
    expect((await post('/claim', { agent: 'w1' })).body.items).toEqual([]);
    clock.advance(500);
    const second = await claimOne();
    const final = await post(`/${id}/fail`, { token: second.claim.token, error: 'boom again' });
    expect(final.body).toMatchObject({ status: 'failed', attempts: 2, last_error: 'boom again' });
  });

  it('extend moves only the lease (no version bump); release gives the doc back with attempts restored', async () => {
    const id = await insert();
    const item = await claimOne({ lease_ms: 1000 });
    const extended = await post(`/${id}/extend`, { token: item.claim.token, lease_ms: 60_000 });
    expect(extended.status).toBe(200);
    expect(extended.body.lease_expires_at).toBe(new Date(clock.now() + 60_000).toISOString());
    expect(extended.body.version).toBe(item.doc.version);
    const released = await post(`/${id}/release`, { token: item.claim.token });
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({ status: 'pending', attempts: 0, claimed_by: null });
  });

  it.each([
    ['complete', {}, 'validation_failed'],
    ['complete', { token: '' }, 'validation_failed'],
    ['complete', { token: 't', extra: 1 }, 'validation_failed'],
    ['fail', { token: 't' }, 'validation_failed'],
    ['fail', { token: 't', error: 'e', retry_in_ms: -1 }, 'out_of_range'],
    ['extend', { token: 't' }, 'validation_failed'],
    ['extend', { token: 't', lease_ms: 50 }, 'out_of_range'],
    ['release', { token: 5 }, 'validation_failed'],
  ])('%s refuses %j', async (action, body, code) => {
    const id = await insert();
    const res = await post(`/${id}/${action}`, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe(code);
  });

  it.each(['complete', 'fail', 'extend', 'release'])(
    '%s answers a missing doc 404 not_found and a wrong token 409 lease_lost',
    async (action) => {
      const body = (token: string) => ({
        token,
        ...(action === 'fail' ? { error: 'e' } : {}),
        ...(action === 'extend' ? { lease_ms: 1000 } : {}),
      });
      const missing = await post(`/no-such-doc/${action}`, body('t'));
      expect(missing.status).toBe(404);
      expect(missing.body.code).toBe('not_found');
      const id = await insert();
      const pending = await post(`/${id}/${action}`, body('t'));
      expect(pending.status).toBe(409);
      expect(pending.body.code).toBe('lease_lost');
      await claimOne();
      const wrong = await post(`/${id}/${action}`, body('not-the-token'));
      expect(wrong.status).toBe(409);
      expect(wrong.body.code).toBe('lease_lost');
    },
  );
});

describe('fencing', () => {
  it('a worker whose lease ran out and was re-claimed gets 409 lease_lost and cannot touch the newer attempt', async () => {
    const id = await insert();
    const stale = await claimOne({ agent: 'slow', lease_ms: 100 });
    clock.advance(101);
    const fresh = await claimOne({ agent: 'fast', lease_ms: 60_000 });
    expect(fresh.doc).toMatchObject({ id, attempts: 2 });
    const before = await getDoc(id);
    for (const [action, body] of [
      ['complete', { token: stale.claim.token }],
      ['fail', { token: stale.claim.token, error: 'late' }],
      ['extend', { token: stale.claim.token, lease_ms: 1000 }],
      ['release', { token: stale.claim.token }],
      ['reply', { token: stale.claim.token, text: 'late answer', status: 'success' }],
    ] as const) {
      const res = await post(`/${id}/${action}`, body);
      expect(res.status, action).toBe(409);
      expect(res.body.code).toBe('lease_lost');
    }
    // The newer attempt is untouched, and its holder can still finish it.
    expect(await getDoc(id)).toEqual(before);
    const done = await post(`/${id}/complete`, { token: fresh.claim.token });
    expect(done.body).toMatchObject({ status: 'completed', claimed_by: 'fast' });
  });
});

describe('reply', () => {
  it('stores the reply (201) and finishes the claimed original in the same transaction', async () => {
    const id = await insert({ topic: 'ask', correlation_id: 'conv-1' });
    const item = await claimOne();
    const head = (await request(server, 'GET', `/v1/${collection}/stats`)).body.last_seq;
    const txBefore = server.store.writeStats.transactions;
    const res = await post(`/${id}/reply`, {
      token: item.claim.token,
      text: 'answer',
      status: 'success',
      metadata: { ok: true },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      text: 'answer',
      correlation_id: 'conv-1',
      parent_id: id,
      topic: 'ask',
      status: 'completed',
      metadata: { ok: true },
    });
    // One commit carried both changes, and they are adjacent on the feed.
    expect(server.store.writeStats.transactions).toBe(txBefore + 1);
    const page = await server.store.changes(head);
    expect(page.changes.map((c) => [c.kind, c.doc?.id])).toEqual([
      ['update', id],
      ['insert', res.body.id],
    ]);
    expect((await getDoc(id)).status).toBe('completed');
    const thread = await request(server, 'GET', `/v1/${collection}/${id}/thread`);
    expect(thread.body.items.map((d: { id: string }) => d.id)).toEqual([id, res.body.id]);
  });

  it('with a wrong token changes nothing at all', async () => {
    const id = await insert();
    await claimOne();
    const before = await getDoc(id);
    const head = await server.store.head();
    const res = await post(`/${id}/reply`, { token: 'wrong', text: 'no', status: 'failure' });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('lease_lost');
    expect(await getDoc(id)).toEqual(before);
    expect(await server.store.head()).toBe(head);
    const list = await request(server, 'GET', `/v1/${collection}/recent`);
    expect(list.body.items.map((d: { id: string }) => d.id)).toEqual([id]);
  });

  it('claims and fails a pending original; a reply naming a topic is pending work there', async () => {
    const id = await insert();
    const res = await post(`/${id}/reply`, { text: 'cannot', status: 'failure', topic: 'escalate' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'pending', topic: 'escalate', correlation_id: id, parent_id: id });
    expect(await getDoc(id)).toMatchObject({ status: 'failed', attempts: 1 });
  });

  it.each([
    ['a processing doc without its token', 'processing', {}, 400, 'token_required'],
    ['a finished doc with a token', 'completed', { token: 't' }, 409, 'already_finished'],
    ['a missing text', 'pending', { text: undefined }, 400, 'validation_failed'],
    ['a bad status', 'pending', { status: 'maybe' }, 400, 'validation_failed'],
    ['an unknown field', 'pending', { colour: 1 }, 400, 'validation_failed'],
    [
      'metadata nested too deep',
      'pending',
      { metadata: JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) },
      400,
      'json_too_deep',
    ],
  ])('refuses %s', async (_name, state, extra, status, code) => {
    const id = await insert();
    if (state !== 'pending') {
      const item = await claimOne();
      if (state === 'completed') await post(`/${id}/complete`, { token: item.claim.token });
    }
    const before = await server.store.head();
    const res = await post(`/${id}/reply`, { text: 'r', status: 'success', ...extra });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(await server.store.head()).toBe(before);
  });

  // Regression test for core (not the HTTP layer, which checks this itself): validateReplyInput
  // reports too-deep reply metadata as validation_failed while validateDocInput says
  // json_too_deep, so the CLI in local mode would answer differently from the server.
  it('core refuses too-deep reply metadata with json_too_deep, as it does for docs', async () => {
    const id = await insert();
    const metadata = JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`);
    await expect(server.store.reply(collection, id, { text: 'r', status: 'success', metadata })).rejects.toMatchObject({
      code: 'json_too_deep',
    });
  });

  it('answers a missing original 404 not_found', async () => {
    const res = await post('/no-such-doc/reply', { text: 'r', status: 'success' });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('not_found');
  });
});

describe('20 concurrent claimers over 500 docs', () => {
  it('never hand one doc to two claimers, and process every doc exactly once', async () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ text: `job ${i}` }));
    const batch = await post('/batch', { items });
    expect(batch.status).toBe(201);
    const claimedBy = new Map<string, string>();
    const duplicates: string[] = [];
    const held = new Set<string>();
    let overlaps = 0;
    const worker = async (name: string) => {
      for (;;) {
        const res = await post('/claim', { agent: name, limit: 3 });
        expect(res.status).toBe(200);
        const got = res.body.items as Claimed[];
        if (got.length === 0) return;
        for (const { doc } of got) {
          if (held.has(doc.id)) overlaps++;
          held.add(doc.id);
          if (claimedBy.has(doc.id)) duplicates.push(doc.id);
          claimedBy.set(doc.id, name);
        }
        for (const { doc, claim } of got) {
          const done = await post(`/${doc.id}/complete`, { token: claim.token });
          expect(done.status).toBe(200);
          held.delete(doc.id);
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => worker(`w${i}`)));
    expect(overlaps).toBe(0);
    expect(duplicates).toEqual([]);
    expect(claimedBy.size).toBe(500);
    expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);
    const stats = (await request(server, 'GET', `/v1/${collection}/stats`)).body;
    expect(stats.counts).toEqual({ pending: 0, processing: 0, completed: 500, failed: 0 });
  });
});
