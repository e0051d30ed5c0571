// SPDX-License-Identifier: GPL-3.0-or-later
// Contract: inserting and reading docs, idempotency, batches, collections, recent, thread.

import { describe, expect } from 'vitest';
import type { Doc } from '../doc.js';
import { parseFilter } from '../filter.js';
import { MAX_DOC_BYTES } from '../limits.js';
import { expectCode, type SuiteContext } from './context.js';

type Test = (name: string, fn: () => Promise<void>) => void;

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) value = { a: value };
  return value;
}

export function docCases(test: Test, ctx: () => SuiteContext): void {
  describe('insert and get', () => {
    test('insert returns a UUIDv7 id and a feed seq; get returns the full doc with defaults', async () => {
      const { store, clock } = ctx();
      const { id, seq, created } = await store.insert('events', { text: 'hello @Alice, run tool: bash' });
      expect(id).toMatch(UUID_V7);
      expect(Number.isSafeInteger(seq) && seq > 0).toBe(true);
      expect(created).toBe(true);
      const doc = (await store.get('events', id)) as Doc;
      expect(doc).toEqual({
        id,
        seq,
        collection: 'events',
        text: 'hello @Alice, run tool: bash',
        timestamp: new Date(clock.now()).toISOString(),
        metadata: {},
        topic: null,
        source: null,
        correlation_id: null,
        parent_id: null,
        status: 'pending',
        attempts: 0,
        max_attempts: 5,
        claimed_by: null,
        lease_expires_at: null,
        available_at: null,
        processed_at: null,
        last_error: null,
        mentions: ['alice'],
        tool_calls: ['bash'],
        version: 1,
      });
    });

    test('timestamps are normalised to ISO UTC with milliseconds', async () => {
      const { store } = ctx();
      const a = await store.insert('events', { text: 'a', timestamp: '2026-03-01T12:00:00+02:00' });
      const b = await store.insert('events', { text: 'b', timestamp: Date.parse('2026-03-01T10:00:00.5Z') });
      const c = await store.insert('events', { text: 'c', available_at: '2026-03-01T10:00:00Z' });
      expect((await store.get('events', a.id))?.timestamp).toBe('2026-03-01T10:00:00.000Z');
      expect((await store.get('events', b.id))?.timestamp).toBe('2026-03-01T10:00:00.500Z');
      const docC = await store.get('events', c.id);
      expect(docC?.available_at).toBe('2026-03-01T10:00:00.000Z');
      expect(docC?.timestamp).toMatch(ISO_MS);
    });

    test('fields, mentions and tool calls are stored and derived', async () => {
      const { store } = ctx();
      const { id } = await store.insert('events', {
        text: 'ping @Bob and @bob. mail me at x@example.com; <tool name="grep">',
        metadata: {
          tool: 'Read',
          tools: ['write'],
          tool_calls: [{ name: 'edit' }, { function: { name: 'fetch' } }],
          n: 1.5,
        },
        topic: 'deploy',
        source: 'agent:builder',
        correlation_id: 'conv-1',
        parent_id: 'p-1',
        max_attempts: 2,
      });
      const doc = (await store.get('events', id)) as Doc;
      expect(doc.mentions).toEqual(['bob']);
      expect([...doc.tool_calls].sort()).toEqual(['edit', 'fetch', 'grep', 'read', 'write']);
      expect(doc).toMatchObject({
        topic: 'deploy',
        source: 'agent:builder',
        correlation_id: 'conv-1',
        parent_id: 'p-1',
        max_attempts: 2,
      });
      expect(doc.metadata).toEqual({
        tool: 'Read',
        tools: ['write'],
        tool_calls: [{ name: 'edit' }, { function: { name: 'fetch' } }],
        n: 1.5,
      });
    });

    test('server ids sort in insertion order and seqs strictly increase', async () => {
      const { store } = ctx();
      const results = [];
      for (let i = 0; i < 50; i++) results.push(await store.insert('events', { text: `n${i}` }));
      const ids = results.map((r) => r.id);
      expect([...ids].sort()).toEqual(ids);
      for (let i = 1; i < results.length; i++) expect(results[i]!.seq).toBeGreaterThan(results[i - 1]!.seq);
    });

    test('invalid input is refused with a code and stores nothing', async () => {
      const { store } = ctx();
      const head = await store.head();
      await expectCode(store.insert('events', { text: 'x', colour: 'red' } as never), 'validation_failed');
      await expectCode(store.insert('events', { text: 42 } as never), 'validation_failed');
      await expectCode(store.insert('events', { text: 'x', timestamp: 'yesterday' }), 'validation_failed');
      await expectCode(store.insert('events', { text: 'x', timestamp: '2026-01-01T00:00:00' }), 'validation_failed');
      await expectCode(store.insert('events', { text: 'x', metadata: [] as never }), 'validation_failed');
      await expectCode(store.insert('events', { text: 'x', source: 'robot' }), 'validation_failed');
      await expectCode(store.insert('events', { text: 'x', metadata: nested(33) as never }), 'json_too_deep');
      await expectCode(store.insert('events', { text: 'x'.repeat(MAX_DOC_BYTES + 1) }), 'payload_too_large');
      await expectCode(store.insert('events', { text: `${'é'.repeat(MAX_DOC_BYTES / 2)}x` }), 'payload_too_large');
      expect(await store.head()).toBe(head);
      expect((await store.stats('events')).total).toBe(0);
    });

    test('metadata nested exactly 32 deep is accepted', async () => {
      const { store } = ctx();
      const { id } = await store.insert('events', { text: 'deep', metadata: nested(32) as never });
      expect((await store.get('events', id))?.metadata).toEqual(nested(32));
    });

    test('client-supplied ids: accepted, unique per collection, reserved words refused', async () => {
      const { store } = ctx();
      await store.insert('events', { id: 'task-1', text: 'a' });
      await expectCode(store.insert('events', { id: 'task-1', text: 'b' }), 'id_conflict');
      await store.insert('agent_tasks', { id: 'task-1', text: 'other collection' });
      await expectCode(store.insert('events', { id: 'recent', text: 'x' }), 'validation_failed');
      await expectCode(store.insert('events', { id: 'has space', text: 'x' }), 'validation_failed');
      expect((await store.get('events', 'task-1'))?.text).toBe('a');
      expect(await store.get('events', 'missing')).toBeUndefined();
    });

    test('unknown and invalid collections are refused', async () => {
      const { store } = ctx();
      await expectCode(store.insert('nope', { text: 'x' }), 'collection_not_found');
      await expectCode(store.get('nope', 'x'), 'collection_not_found');
      await expectCode(store.recent('nope'), 'collection_not_found');
      await expectCode(store.insert('Bad Name', { text: 'x' }), 'invalid_name');
    });
  });

  describe('idempotency', () => {
    test('a repeated key with the same body returns the first doc', async () => {
      const { store } = ctx();
      const first = await store.insert('events', { text: 'once', metadata: { a: 1, b: 2 } }, { idempotencyKey: 'k1' });
      const again = await store.insert('events', { metadata: { b: 2, a: 1 }, text: 'once' }, { idempotencyKey: 'k1' });
      expect(again).toEqual({ id: first.id, seq: first.seq, created: false });
      expect((await store.stats('events')).total).toBe(1);
    });

    test('a repeated key with another body is idempotency_conflict', async () => {
      const { store } = ctx();
      await store.insert('events', { text: 'once' }, { idempotencyKey: 'k1' });
      await expectCode(store.insert('events', { text: 'twice' }, { idempotencyKey: 'k1' }), 'idempotency_conflict');
    });

    test('keys are scoped to the collection', async () => {
      const { store } = ctx();
      const a = await store.insert('events', { text: 'x' }, { idempotencyKey: 'k' });
      const b = await store.insert('agent_tasks', { text: 'x' }, { idempotencyKey: 'k' });
      expect(b.created).toBe(true);
      expect(b.id).not.toBe(a.id);
    });

    test('100 concurrent inserts with one key store one doc and all get its id', async () => {
      const { store } = ctx();
      const results = await Promise.all(
        Array.from({ length: 100 }, () => store.insert('events', { text: 'same' }, { idempotencyKey: 'burst' })),
      );
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect((await store.stats('events')).total).toBe(1);
    });
  });

  describe('batch', () => {
    test('inserts all docs with increasing seqs', async () => {
      const { store } = ctx();
      const results = await store.insertBatch(
        'events',
        Array.from({ length: 10 }, (_, i) => ({ doc: { text: `b${i}` } })),
      );
      expect(results).toHaveLength(10);
      for (let i = 1; i < results.length; i++) expect(results[i]!.seq).toBe(results[i - 1]!.seq + 1);
      expect((await store.stats('events')).total).toBe(10);
    });

    test('is all or nothing', async () => {
      const { store } = ctx();
      await store.insert('events', { id: 'taken', text: 'x' });
      const head = await store.head();
      await expectCode(
        store.insertBatch('events', [{ doc: { text: 'ok' } }, { doc: { text: 'bad', nope: 1 } as never }]),
        'validation_failed',
      );
      await expectCode(
        store.insertBatch('events', [{ doc: { text: 'ok' } }, { doc: { id: 'taken', text: 'dup' } }]),
        'id_conflict',
      );
      await expectCode(
        store.insertBatch('events', [{ doc: { id: 'z', text: '1' } }, { doc: { id: 'z', text: '2' } }]),
        'id_conflict',
      );
      expect(await store.head()).toBe(head);
      expect((await store.stats('events')).total).toBe(1);
    });

    test('size bounds: empty and over 1000 are out_of_range', async () => {
      const { store } = ctx();
      await expectCode(store.insertBatch('events', []), 'out_of_range');
      await expectCode(
        store.insertBatch(
          'events',
          Array.from({ length: 1001 }, () => ({ doc: { text: 'x' } })),
        ),
        'out_of_range',
      );
    });

    test('idempotency keys inside a batch', async () => {
      const { store } = ctx();
      const first = await store.insert('events', { text: 'k' }, { idempotencyKey: 'bk' });
      const results = await store.insertBatch('events', [
        { doc: { text: 'k' }, idempotencyKey: 'bk' },
        { doc: { text: 'new' } },
      ]);
      expect(results[0]).toEqual({ id: first.id, seq: first.seq, created: false });
      expect(results[1]?.created).toBe(true);
    });
  });

  describe('collections', () => {
    test('defaults exist; put creates then updates; names are checked', async () => {
      const { store } = ctx();
      expect(await store.listCollections()).toEqual(
        expect.arrayContaining(['events', 'session_messages', 'agent_tasks', 'opencode_events']),
      );
      const created = await store.putCollection('jobs', { max_attempts: 2 });
      expect(created.created).toBe(true);
      expect(created.collection).toMatchObject({ name: 'jobs', max_attempts: 2, retention_days: 30 });
      const updated = await store.putCollection('jobs', { retention_days: 7 });
      expect(updated.created).toBe(false);
      expect(updated.collection).toMatchObject({ max_attempts: 2, retention_days: 7 });
      expect(await store.listCollections()).toContain('jobs');
      const { id } = await store.insert('jobs', { text: 'j' });
      expect((await store.get('jobs', id))?.max_attempts).toBe(2);
      await expectCode(store.putCollection('topics'), 'invalid_name');
      await expectCode(store.putCollection('UPPER'), 'invalid_name');
      await expectCode(store.putCollection('x'.repeat(65)), 'invalid_name');
      await expectCode(store.putCollection('ok', { max_attempts: 0 }), 'out_of_range');
    });
  });

  describe('recent', () => {
    test('newest first, paged with next/before without gaps or repeats, cursor is the feed head', async () => {
      const { store } = ctx();
      const inserted = [];
      for (let i = 0; i < 25; i++) inserted.push(await store.insert('events', { text: `r${i}` }));
      await store.insert('agent_tasks', { text: 'elsewhere' });
      const seen: string[] = [];
      let before: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await store.recent('events', { limit: 10, ...(before === undefined ? {} : { before }) });
        expect(page.cursor).toBe(await store.head());
        seen.push(...page.items.map((d) => d.id));
        pages++;
        if (page.next === undefined) break;
        before = page.next;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(inserted.map((r) => r.id).reverse());
    });

    test('filters by topic, status, mention, tool and filter expression', async () => {
      const { store } = ctx();
      const a = await store.insert('events', { text: 'hi @Alice', topic: 'build', metadata: { repo: 'x', n: 3 } });
      const b = await store.insert('events', { text: 'tool: bash', topic: 'deploy', metadata: { repo: 'y', n: 10 } });
      const ids = async (query: Parameters<typeof store.recent>[1]) =>
        (await store.recent('events', query)).items.map((d) => d.id);
      expect(await ids({ topic: 'build' })).toEqual([a.id]);
      expect(await ids({ mention: '@ALICE' })).toEqual([a.id]);
      expect(await ids({ mention: 'alice' })).toEqual([a.id]);
      expect(await ids({ tool: 'bash' })).toEqual([b.id]);
      expect(await ids({ status: 'pending' })).toEqual([b.id, a.id]);
      expect(await ids({ status: 'completed' })).toEqual([]);
      expect(await ids({ filter: parseFilter('{"metadata.repo":"y"}') })).toEqual([b.id]);
      expect(await ids({ filter: parseFilter('{"metadata.n":{"$gte":5}}') })).toEqual([b.id]);
      expect(await ids({ filter: parseFilter('{"topic":{"$in":["build","nope"]}}') })).toEqual([a.id]);
    });

    test('bounds and cursors are checked', async () => {
      const { store } = ctx();
      await expectCode(store.recent('events', { limit: 0 }), 'out_of_range');
      await expectCode(store.recent('events', { limit: 201 }), 'out_of_range');
      await expectCode(store.recent('events', { before: 'abc' }), 'bad_cursor');
      const empty = await store.recent('events');
      expect(empty.items).toEqual([]);
      expect(empty.next).toBeUndefined();
    });
  });

  describe('thread', () => {
    test('every doc sharing the root, oldest first; unknown id is not_found', async () => {
      const { store } = ctx();
      const root = await store.insert('events', { text: 'question' });
      const r1 = await store.reply('events', root.id, { text: 'answer 1', status: 'success' });
      const r2 = await store.reply('events', r1.reply.id, { text: 'answer 2', status: 'success' });
      await store.insert('events', { text: 'unrelated' });
      const thread = await store.thread('events', r2.reply.id);
      expect(thread.map((d) => d.id)).toEqual([root.id, r1.reply.id, r2.reply.id]);
      expect(r2.reply.correlation_id).toBe(root.id);
      expect(r2.reply.parent_id).toBe(r1.reply.id);
      await expectCode(store.thread('events', 'missing'), 'not_found');
    });
  });

  describe('stats', () => {
    test('counts by status and the last seq that touched the collection', async () => {
      const { store } = ctx();
      expect(await store.stats('events')).toEqual({
        collection: 'events',
        counts: { pending: 0, processing: 0, completed: 0, failed: 0 },
        total: 0,
        last_seq: 0,
      });
      await store.insert('events', { text: 'a' });
      await store.insert('events', { text: 'b' });
      const [claimed] = await store.claim('events', { agent: 'w' });
      await store.insert('agent_tasks', { text: 'other' });
      const stats = await store.stats('events');
      expect(stats.counts).toEqual({ pending: 1, processing: 1, completed: 0, failed: 0 });
      expect(stats.total).toBe(2);
      const changes = await store.changes(0, { collections: ['events'] });
      expect(stats.last_seq).toBe(changes.changes.at(-1)?.seq);
      expect(claimed).toBeDefined();
    });
  });
}
