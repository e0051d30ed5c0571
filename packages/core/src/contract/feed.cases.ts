// SPDX-License-Identifier: GPL-3.0-or-later
// Contract: the change feed, watch, retention, topics.

import { describe, expect } from 'vitest';
import { parseFilter } from '../filter.js';
import type { Change, Store } from '../store.js';
import { expectCode, type SuiteContext } from './context.js';

type Test = (name: string, fn: () => Promise<void>) => void;

async function readAll(store: Store, after: number, query: Parameters<Store['changes']>[1] = {}): Promise<Change[]> {
  const out: Change[] = [];
  let cursor = after;
  for (;;) {
    const page = await store.changes(cursor, query);
    out.push(...page.changes);
    if (page.next >= page.head) break;
    expect(page.next).toBeGreaterThan(cursor);
    cursor = page.next;
  }
  return out;
}

export function feedCases(test: Test, ctx: () => SuiteContext): void {
  describe('change feed', () => {
    test('inserts and updates are appended in order with strictly increasing seqs and no gaps', async () => {
      const { store } = ctx();
      const a = await store.insert('agent_tasks', { text: 'a' });
      const b = await store.insert('events', { text: 'b' });
      const [item] = await store.claim('agent_tasks', { agent: 'w' });
      await store.complete('agent_tasks', a.id, item!.claim.token);
      const changes = await readAll(store, 0);
      expect(changes.map((c) => c.kind)).toEqual(['insert', 'insert', 'update', 'update']);
      for (let i = 1; i < changes.length; i++) expect(changes[i]!.seq).toBe(changes[i - 1]!.seq + 1);
      expect(changes[0]).toMatchObject({
        seq: a.seq,
        collection: 'agent_tasks',
        doc: { id: a.id, status: 'pending', version: 1 },
      });
      expect(changes[1]).toMatchObject({ seq: b.seq, collection: 'events' });
      // Each entry replays the doc as it was right after that change.
      expect(changes[2]?.doc).toMatchObject({ id: a.id, status: 'processing', version: 2, attempts: 1 });
      expect(changes[3]?.doc).toMatchObject({ id: a.id, status: 'completed', version: 3 });
      expect(changes.every((c) => typeof c.at === 'string')).toBe(true);
      expect(await store.head()).toBe(changes.at(-1)?.seq);
    });

    test('after, limit and next page through the feed exactly once', async () => {
      const { store } = ctx();
      const seqs = [];
      for (let i = 0; i < 30; i++) seqs.push((await store.insert('events', { text: `e${i}` })).seq);
      const seen: number[] = [];
      let cursor = seqs[4]!;
      for (;;) {
        const page = await store.changes(cursor, { limit: 7 });
        expect(page.changes.length).toBeLessThanOrEqual(7);
        seen.push(...page.changes.map((c) => c.seq));
        if (page.changes.length === 0) break;
        cursor = page.next;
      }
      expect(seen).toEqual(seqs.slice(5));
      const atHead = await store.changes(await store.head());
      expect(atHead.changes).toEqual([]);
      expect(atHead.next).toBe(atHead.head);
    });

    test('collections and selectors filter the feed, and next moves past what did not match', async () => {
      const { store } = ctx();
      await store.insert('events', { text: 'e1', topic: 'x' });
      const t = await store.insert('agent_tasks', { text: 't1', topic: 'y' });
      await store.insert('events', { text: 'e2 @carol', topic: 'y', metadata: { level: 3 } });
      const tasks = await store.changes(0, { collections: ['agent_tasks'] });
      expect(tasks.changes.map((c) => c.doc?.id)).toEqual([t.id]);
      expect(tasks.next).toBe(tasks.head);
      const topicY = await store.changes(0, { topic: 'y', collections: ['events', 'agent_tasks'] });
      expect(topicY.changes.map((c) => c.doc?.text)).toEqual(['t1', 'e2 @carol']);
      expect((await store.changes(0, { mention: '@Carol' })).changes.map((c) => c.doc?.text)).toEqual(['e2 @carol']);
      expect((await store.changes(0, { filter: parseFilter({ 'metadata.level': { $gt: 2 } }) })).changes).toHaveLength(
        1,
      );
      const none = await store.changes(0, { topic: 'zzz' });
      expect(none.changes).toEqual([]);
      expect(none.next).toBe(none.head);
    });

    test('bad cursors and limits are refused', async () => {
      const { store } = ctx();
      await expectCode(store.changes(-1), 'bad_cursor');
      await expectCode(store.changes(1.5), 'bad_cursor');
      await expectCode(store.changes(0, { limit: 0 }), 'out_of_range');
      await expectCode(store.changes(0, { limit: 1001 }), 'out_of_range');
    });

    test('a cursor beyond the head returns nothing', async () => {
      const { store } = ctx();
      await store.insert('events', { text: 'x' });
      const page = await store.changes(1_000_000);
      expect(page.changes).toEqual([]);
    });

    test('seqBefore finds the feed position for a time', async () => {
      const { store, clock } = ctx();
      const a = await store.insert('events', { text: 'a' });
      clock.advance(60_000);
      const mark = new Date(clock.now()).toISOString();
      const b = await store.insert('events', { text: 'b' });
      expect(await store.seqBefore(mark)).toBe(a.seq);
      const after = await store.changes(await store.seqBefore(mark));
      expect(after.changes.map((c) => c.seq)).toEqual([b.seq]);
      expect(await store.seqBefore('2000-01-01T00:00:00.000Z')).toBe(0);
      await expectCode(store.seqBefore('not a time'), 'bad_cursor');
    });

    test('watch is told about commits, and stops after unsubscribe', async () => {
      const { store } = ctx();
      let calls = 0;
      const unwatch = store.watch(() => {
        calls++;
      });
      await store.insert('events', { text: 'x' });
      expect(calls).toBeGreaterThanOrEqual(1);
      unwatch();
      const before = calls;
      await store.insert('events', { text: 'y' });
      expect(calls).toBe(before);
    });
  });

  describe('retention', () => {
    test('deletes matching docs, appends delete entries, and never reuses a seq', async () => {
      const { store, clock } = ctx();
      const old = await store.insert('events', { text: 'old', timestamp: '2025-01-01T00:00:00.000Z' });
      const keep = await store.insert('events', { text: 'new' });
      const head = await store.head();
      const { deleted } = await store.deleteDocs('events', { olderThan: '2025-06-01T00:00:00.000Z' });
      expect(deleted).toBe(1);
      expect(await store.get('events', old.id)).toBeUndefined();
      expect(await store.get('events', keep.id)).toBeDefined();
      const changes = await readAll(store, 0);
      const del = changes.find((c) => c.kind === 'delete');
      expect(del).toMatchObject({ collection: 'events', deleted: { id: old.id, seq: old.seq } });
      expect(del!.seq).toBeGreaterThan(head);
      // The deleted doc's own insert is not replayed: a reader converges to the same state.
      expect(changes.some((c) => c.kind === 'insert' && c.doc?.id === old.id)).toBe(false);
      clock.advance(1);
      const next = await store.insert('events', { text: 'after delete' });
      expect(next.seq).toBeGreaterThan(del!.seq);
      // Deleting the newest doc must not free its seq either.
      await store.deleteDocs('events', { status: 'pending' });
      const again = await store.insert('events', { text: 'after deleting the newest' });
      expect(again.seq).toBeGreaterThan(next.seq + 1);
    });

    test('status narrows retention; neither status nor older_than is refused', async () => {
      const { store } = ctx();
      const done = await store.insert('agent_tasks', { text: 'done' });
      await store.insert('agent_tasks', { text: 'open' });
      const [item] = await store.claim('agent_tasks', { agent: 'w' });
      await store.complete('agent_tasks', done.id, item!.claim.token);
      expect((await store.deleteDocs('agent_tasks', { status: 'completed' })).deleted).toBe(1);
      expect((await store.stats('agent_tasks')).counts).toMatchObject({ pending: 1, completed: 0 });
      await expectCode(store.deleteDocs('agent_tasks', {}), 'bad_retention');
      await expectCode(store.deleteDocs('agent_tasks', { olderThan: 'soon' }), 'bad_retention');
    });

    test('pruned delete entries raise the floor so a reader behind it knows to reset', async () => {
      const { store, clock } = ctx();
      await store.insert('events', { text: 'ancient', timestamp: '2020-01-01T00:00:00.000Z' });
      await store.deleteDocs('events', { olderThan: '2021-01-01T00:00:00.000Z' });
      const tombstones = (await readAll(store, 0)).filter((c) => c.kind === 'delete');
      expect(tombstones).toHaveLength(1);
      expect((await store.changes(0)).floor).toBe(0);
      clock.advance(90 * 86_400_000);
      await store.deleteDocs('events', { olderThan: new Date(clock.now() - 1).toISOString() });
      const page = await store.changes(0);
      expect(page.floor).toBe(tombstones[0]!.seq);
      expect(page.changes.some((c) => c.seq === tombstones[0]!.seq)).toBe(false);
      // The pruned tombstone was the newest feed entry: its seq must still never be handed out again.
      const after = await store.insert('events', { text: 'fresh' });
      expect(after.seq).toBeGreaterThan(tombstones[0]!.seq);
    });
  });

  describe('topics', () => {
    test('put creates then updates, get, list, delete; names are checked', async () => {
      const { store } = ctx();
      const created = await store.putTopic('triage', { description: 'sort bugs', prompt: 'You triage.' });
      expect(created.created).toBe(true);
      expect(created.topic).toMatchObject({ name: 'triage', description: 'sort bugs', prompt: 'You triage.' });
      const updated = await store.putTopic('triage', { prompt: 'You triage carefully.' });
      expect(updated.created).toBe(false);
      expect(updated.topic).toMatchObject({ description: 'sort bugs', prompt: 'You triage carefully.' });
      expect((await store.getTopic('triage'))?.prompt).toBe('You triage carefully.');
      await store.putTopic('alpha', {});
      expect((await store.listTopics()).map((t) => t.name)).toEqual(['alpha', 'triage']);
      expect(await store.deleteTopic('triage')).toBe(true);
      expect(await store.deleteTopic('triage')).toBe(false);
      expect(await store.getTopic('triage')).toBeUndefined();
      await expectCode(store.putTopic('bad name', {}), 'invalid_name');
    });
  });
}
