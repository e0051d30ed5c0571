// SPDX-License-Identifier: GPL-3.0-or-later
// Contract: the work queue — claims, leases, fencing, delayed work, retries, replies.

import { describe, expect } from 'vitest';
import { parseFilter } from '../filter.js';
import { expectCode, type SuiteContext } from './context.js';

type Test = (name: string, fn: () => Promise<void>) => void;

export function claimCases(test: Test, ctx: () => SuiteContext): void {
  describe('claim', () => {
    test('claims the oldest due doc and leases it', async () => {
      const { store, clock } = ctx();
      const first = await store.insert('agent_tasks', { text: 'first' });
      await store.insert('agent_tasks', { text: 'second' });
      const items = await store.claim('agent_tasks', { agent: 'w1', leaseMs: 60_000 });
      expect(items).toHaveLength(1);
      const [item] = items;
      expect(item?.doc).toMatchObject({
        id: first.id,
        status: 'processing',
        claimed_by: 'w1',
        attempts: 1,
        version: 2,
        lease_expires_at: new Date(clock.now() + 60_000).toISOString(),
      });
      expect(item?.claim.expires_at).toBe(item?.doc.lease_expires_at);
      expect(item?.claim.token.length).toBeGreaterThanOrEqual(16);
      expect((await store.get('agent_tasks', first.id))?.status).toBe('processing');
    });

    test('returns nothing when nothing is due; limit takes several in order', async () => {
      const { store } = ctx();
      expect(await store.claim('agent_tasks', { agent: 'w' })).toEqual([]);
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push((await store.insert('agent_tasks', { text: `t${i}` })).id);
      const items = await store.claim('agent_tasks', { agent: 'w', limit: 3 });
      expect(items.map((i) => i.doc.id)).toEqual(ids.slice(0, 3));
      expect(new Set(items.map((i) => i.claim.token)).size).toBe(3);
    });

    test('concurrent claimers never hold the same doc', async () => {
      const { store } = ctx();
      for (let i = 0; i < 30; i++) await store.insert('agent_tasks', { text: `job ${i}` });
      const batches = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.claim('agent_tasks', { agent: `w${i}` })),
      );
      const claimed = batches.flat().map((item) => item.doc.id);
      expect(claimed).toHaveLength(30);
      expect(new Set(claimed).size).toBe(30);
    });

    test('an expired lease makes the doc claimable again; the stale token is fenced off', async () => {
      const { store, clock } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'slow job' });
      const [old] = await store.claim('agent_tasks', { agent: 'slow', leaseMs: 1000 });
      expect(await store.claim('agent_tasks', { agent: 'fast' })).toEqual([]);
      clock.advance(1001);
      const [fresh] = await store.claim('agent_tasks', { agent: 'fast', leaseMs: 1000 });
      expect(fresh?.doc).toMatchObject({ id, attempts: 2, claimed_by: 'fast' });
      const staleToken = old!.claim.token;
      await expectCode(store.complete('agent_tasks', id, staleToken), 'lease_lost');
      await expectCode(store.fail('agent_tasks', id, { token: staleToken, error: 'x' }), 'lease_lost');
      await expectCode(store.extend('agent_tasks', id, staleToken, 5000), 'lease_lost');
      await expectCode(store.release('agent_tasks', id, staleToken), 'lease_lost');
      await expectCode(
        store.reply('agent_tasks', id, { text: 'late', status: 'success', token: staleToken }),
        'lease_lost',
      );
      // The newer attempt is untouched by the stale worker's tries.
      const current = await store.get('agent_tasks', id);
      expect(current).toMatchObject({ status: 'processing', claimed_by: 'fast', attempts: 2 });
      const done = await store.complete('agent_tasks', id, fresh!.claim.token);
      expect(done.status).toBe('completed');
    });

    test('a doc is not claimable before available_at', async () => {
      const { store, clock } = ctx();
      const later = new Date(clock.now() + 10 * 60_000).toISOString();
      const { id } = await store.insert('agent_tasks', { text: 'later', available_at: later });
      expect(await store.claim('agent_tasks', { agent: 'w' })).toEqual([]);
      clock.advance(10 * 60_000 - 1);
      expect(await store.claim('agent_tasks', { agent: 'w' })).toEqual([]);
      clock.advance(1);
      expect((await store.claim('agent_tasks', { agent: 'w' })).map((i) => i.doc.id)).toEqual([id]);
    });

    test('topic and filter narrow the claim; the topic prompt comes with the doc', async () => {
      const { store } = ctx();
      await store.putTopic('review', { description: 'code review', prompt: 'You review code.' });
      await store.insert('agent_tasks', { text: 'untopical' });
      const review = await store.insert('agent_tasks', {
        text: 'review this',
        topic: 'review',
        metadata: { repo: 'a' },
      });
      const other = await store.insert('agent_tasks', {
        text: 'review that',
        topic: 'review',
        metadata: { repo: 'b' },
      });
      const [byFilter] = await store.claim('agent_tasks', {
        agent: 'w',
        topic: 'review',
        filter: parseFilter({ 'metadata.repo': 'b' }),
      });
      expect(byFilter?.doc.id).toBe(other.id);
      const [byTopic] = await store.claim('agent_tasks', { agent: 'w', topic: 'review' });
      expect(byTopic?.doc.id).toBe(review.id);
      expect(byTopic?.prompt).toBe('You review code.');
      const [plain] = await store.claim('agent_tasks', { agent: 'w' });
      expect(plain?.prompt).toBeUndefined();
    });

    test('bounds: lease, limit and wait are checked', async () => {
      const { store } = ctx();
      await expectCode(store.claim('agent_tasks', { agent: 'w', leaseMs: 99 }), 'out_of_range');
      await expectCode(store.claim('agent_tasks', { agent: 'w', leaseMs: 24 * 3600_000 + 1 }), 'out_of_range');
      await expectCode(store.claim('agent_tasks', { agent: 'w', limit: 0 }), 'out_of_range');
      await expectCode(store.claim('agent_tasks', { agent: 'w', limit: 101 }), 'out_of_range');
      await expectCode(store.claim('agent_tasks', { agent: 'w', waitMs: 30_001 }), 'out_of_range');
      await expectCode(store.claim('agent_tasks', { agent: '' }), 'validation_failed');
      await expectCode(store.claim('nope', { agent: 'w' }), 'collection_not_found');
    });

    test('wait_ms long-polls until work arrives', async () => {
      const { store } = ctx();
      const waiting = store.claim('agent_tasks', { agent: 'w', waitMs: 10_000 });
      const inserted = await store.insert('agent_tasks', { text: 'arrives later' });
      const items = await waiting;
      expect(items.map((i) => i.doc.id)).toEqual([inserted.id]);
    });

    test('an aborted long-poll returns early with nothing', async () => {
      const { store } = ctx();
      const controller = new AbortController();
      const waiting = store.claim('agent_tasks', { agent: 'w', waitMs: 30_000, signal: controller.signal });
      controller.abort();
      expect(await waiting).toEqual([]);
    });
  });

  describe('complete, fail, extend, release', () => {
    test('complete finishes the doc once', async () => {
      const { store, clock } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'job' });
      const [item] = await store.claim('agent_tasks', { agent: 'w' });
      clock.advance(5);
      const done = await store.complete('agent_tasks', id, item!.claim.token);
      expect(done).toMatchObject({
        status: 'completed',
        processed_at: new Date(clock.now()).toISOString(),
        version: 3,
        lease_expires_at: null,
      });
      await expectCode(store.complete('agent_tasks', id, item!.claim.token), 'already_finished');
      await expectCode(store.complete('agent_tasks', 'missing', item!.claim.token), 'not_found');
    });

    test('fail retries with the given delay, then fails for good after max_attempts', async () => {
      const { store, clock } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'flaky', max_attempts: 2 });
      const [a] = await store.claim('agent_tasks', { agent: 'w' });
      const retried = await store.fail('agent_tasks', id, { token: a!.claim.token, error: 'boom', retryInMs: 5000 });
      expect(retried).toMatchObject({
        status: 'pending',
        attempts: 1,
        claimed_by: null,
        last_error: 'boom',
        available_at: new Date(clock.now() + 5000).toISOString(),
      });
      expect(await store.claim('agent_tasks', { agent: 'w' })).toEqual([]);
      clock.advance(5000);
      const [b] = await store.claim('agent_tasks', { agent: 'w' });
      expect(b?.doc.attempts).toBe(2);
      const failed = await store.fail('agent_tasks', id, { token: b!.claim.token, error: 'boom again' });
      expect(failed).toMatchObject({ status: 'failed', attempts: 2, last_error: 'boom again' });
      expect(failed.processed_at).not.toBeNull();
      clock.advance(3600_000);
      expect(await store.claim('agent_tasks', { agent: 'w' })).toEqual([]);
    });

    test('fail without retry_in_ms backs off exponentially with jitter', async () => {
      const { store, clock } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'flaky', max_attempts: 10 });
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [item] = await store.claim('agent_tasks', { agent: 'w' });
        const doc = await store.fail('agent_tasks', id, { token: item!.claim.token, error: 'e' });
        const delay = Date.parse(doc.available_at!) - clock.now();
        const base = 1000 * 2 ** (attempt - 1);
        expect(delay).toBeGreaterThanOrEqual(base * 0.5);
        expect(delay).toBeLessThanOrEqual(base * 1.5);
        clock.advance(delay);
      }
    });

    test('a lease expiring on the last attempt ends the doc as failed', async () => {
      const { store, clock } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'doomed', max_attempts: 1 });
      await store.claim('agent_tasks', { agent: 'w', leaseMs: 1000 });
      clock.advance(1001);
      expect(await store.claim('agent_tasks', { agent: 'w' })).toEqual([]);
      expect((await store.get('agent_tasks', id))?.status).toBe('failed');
    });

    test('extend moves the lease without a new version', async () => {
      const { store, clock } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'long' });
      const [item] = await store.claim('agent_tasks', { agent: 'w', leaseMs: 1000 });
      const head = await store.head();
      clock.advance(900);
      const extended = await store.extend('agent_tasks', id, item!.claim.token, 10_000);
      expect(extended.lease_expires_at).toBe(new Date(clock.now() + 10_000).toISOString());
      expect(extended.version).toBe(item!.doc.version);
      expect(await store.head()).toBe(head);
      clock.advance(5000);
      expect(await store.claim('agent_tasks', { agent: 'other' })).toEqual([]);
      await expectCode(store.extend('agent_tasks', id, item!.claim.token, 50), 'out_of_range');
    });

    test('release gives the doc back untouched, attempts restored', async () => {
      const { store } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'give back' });
      const [item] = await store.claim('agent_tasks', { agent: 'w' });
      const released = await store.release('agent_tasks', id, item!.claim.token);
      expect(released).toMatchObject({ status: 'pending', attempts: 0, claimed_by: null, lease_expires_at: null });
      const [again] = await store.claim('agent_tasks', { agent: 'w2' });
      expect(again?.doc).toMatchObject({ id, attempts: 1 });
      await expectCode(store.complete('agent_tasks', id, item!.claim.token), 'lease_lost');
    });
  });

  describe('reply', () => {
    test('a pending original is claimed and completed with the reply, in one step', async () => {
      const { store } = ctx();
      const q = await store.insert('session_messages', {
        text: 'what time is it?',
        topic: 'ask',
        correlation_id: 'conv-9',
      });
      const { reply, original } = await store.reply('session_messages', q.id, {
        text: 'noon',
        status: 'success',
        metadata: { by: 'x' },
      });
      expect(original).toMatchObject({ id: q.id, status: 'completed', attempts: 1 });
      expect(reply).toMatchObject({
        text: 'noon',
        status: 'completed',
        correlation_id: 'conv-9',
        parent_id: q.id,
        topic: 'ask',
        metadata: { by: 'x' },
      });
      expect(reply.seq).toBeGreaterThan(q.seq);
      expect(await store.get('session_messages', reply.id)).toEqual(reply);
    });

    test('a processing original needs its token; failure marks it failed', async () => {
      const { store } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'work' });
      const [item] = await store.claim('agent_tasks', { agent: 'w' });
      await expectCode(store.reply('agent_tasks', id, { text: 'r', status: 'failure' }), 'token_required');
      await expectCode(
        store.reply('agent_tasks', id, { text: 'r', status: 'failure', token: 'wrong-token-123' }),
        'lease_lost',
      );
      const { original, reply } = await store.reply('agent_tasks', id, {
        text: 'could not',
        status: 'failure',
        token: item!.claim.token,
      });
      expect(original.status).toBe('failed');
      expect(reply.correlation_id).toBe(id);
      await expectCode(
        store.reply('agent_tasks', id, { text: 'again', status: 'success', token: item!.claim.token }),
        'already_finished',
      );
    });

    test('a reply naming a topic is pending work there', async () => {
      const { store } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'step 1' });
      const { reply } = await store.reply('agent_tasks', id, { text: 'step 2', status: 'success', topic: 'next-step' });
      expect(reply).toMatchObject({ status: 'pending', topic: 'next-step', processed_at: null });
      const [claimed] = await store.claim('agent_tasks', { agent: 'w', topic: 'next-step' });
      expect(claimed?.doc.id).toBe(reply.id);
    });

    test('a refused reply changes nothing (atomicity)', async () => {
      const { store } = ctx();
      const { id } = await store.insert('agent_tasks', { text: 'work' });
      const head = await store.head();
      await expectCode(store.reply('agent_tasks', id, { text: 'r', status: 'maybe' } as never), 'validation_failed');
      await expectCode(
        store.reply('agent_tasks', id, { text: 'x'.repeat(70_000), status: 'success' }),
        'payload_too_large',
      );
      await expectCode(store.reply('agent_tasks', 'missing', { text: 'r', status: 'success' }), 'not_found');
      expect(await store.head()).toBe(head);
      expect((await store.get('agent_tasks', id))?.status).toBe('pending');
    });
  });
}
