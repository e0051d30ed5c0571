// SPDX-License-Identifier: GPL-3.0-or-later
// Contract: full-text search — read-your-writes with wait_for, ranking, order, filters, safety.

import { describe, expect } from 'vitest';
import { parseFilter } from '../filter.js';
import { expectCode, type SuiteContext } from './context.js';

type Test = (name: string, fn: () => Promise<void>) => void;

export function searchCases(test: Test, ctx: () => SuiteContext): void {
  describe('search', () => {
    test('finds a doc with wait_for, with score, snippet and indexed_through', async () => {
      const { store } = ctx();
      await store.insert('events', { text: 'the build failed on main' });
      const target = await store.insert('events', { text: 'deploying the rocket to staging' });
      const result = await store.search('events', { q: 'rocket', waitFor: target.seq });
      expect(result.indexed_through).toBeGreaterThanOrEqual(target.seq);
      expect(result.items.map((i) => i.doc.id)).toEqual([target.id]);
      expect(typeof result.items[0]?.score).toBe('number');
      expect(result.items[0]?.snippet).toContain('rocket');
    });

    test('relevance ranks more occurrences higher; recent returns newest first', async () => {
      const { store } = ctx();
      const once = await store.insert('events', { text: 'kiwi and other fruit in a long sentence about groceries' });
      const many = await store.insert('events', { text: 'kiwi kiwi kiwi' });
      const newest = await store.insert('events', { text: 'a kiwi' });
      const relevance = await store.search('events', { q: 'kiwi', waitFor: newest.seq });
      expect(relevance.items[0]?.doc.id).toBe(many.id);
      const scores = relevance.items.map((i) => i.score);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      const recent = await store.search('events', { q: 'kiwi', order: 'recent', waitFor: newest.seq });
      expect(recent.items.map((i) => i.doc.id)).toEqual([newest.id, many.id, once.id]);
      expect(recent.items.every((i) => i.score > 0)).toBe(true);
    });

    test('k, filters and collections narrow the results', async () => {
      const { store } = ctx();
      for (let i = 0; i < 12; i++) await store.insert('events', { text: `alpha item ${i}`, metadata: { i } });
      const other = await store.insert('agent_tasks', { text: 'alpha elsewhere' });
      const head = other.seq;
      expect((await store.search('events', { q: 'alpha', waitFor: head })).items).toHaveLength(8);
      expect((await store.search('events', { q: 'alpha', k: 3, waitFor: head })).items).toHaveLength(3);
      const filtered = await store.search('events', {
        q: 'alpha',
        k: 50,
        filter: parseFilter({ 'metadata.i': { $lt: 2 } }),
        waitFor: head,
      });
      expect(filtered.items.map((h) => h.doc.metadata.i).sort()).toEqual([0, 1]);
      const tasks = await store.search('agent_tasks', { q: 'alpha', waitFor: head });
      expect(tasks.items.map((h) => h.doc.id)).toEqual([other.id]);
      await expectCode(store.search('events', { q: 'alpha', k: 0 }), 'out_of_range');
      await expectCode(store.search('events', { q: 'alpha', k: 51 }), 'out_of_range');
    });

    test('prefix queries match word starts', async () => {
      const { store } = ctx();
      const doc = await store.insert('events', { text: 'kubernetes cluster restarted' });
      const simple = await store.search('events', { q: 'kube*', waitFor: doc.seq });
      expect(simple.items.map((h) => h.doc.id)).toEqual([doc.id]);
      const fts = await store.search('events', { q: 'clus*', mode: 'fts', waitFor: doc.seq });
      expect(fts.items.map((h) => h.doc.id)).toEqual([doc.id]);
    });

    test('simple mode accepts any text; fts mode answers bad syntax with bad_search_syntax', async () => {
      const { store } = ctx();
      const doc = await store.insert('events', { text: 'quote "this" and NEAR things' });
      for (const q of ['"', 'AND', 'NEAR(', '*', '^', 'col:x', '-', '(((', 'a OR', '\u0000', '"this" AND']) {
        const result = await store.search('events', { q, waitFor: doc.seq });
        expect(Array.isArray(result.items)).toBe(true);
      }
      await expectCode(store.search('events', { q: 'a AND', mode: 'fts' }), 'bad_search_syntax');
      await expectCode(store.search('events', { q: '"unterminated', mode: 'fts' }), 'bad_search_syntax');
      await expectCode(store.search('events', { q: 'nosuchcol:x', mode: 'fts' }), 'bad_search_syntax');
      const ok = await store.search('events', { q: '"this" AND NEAR', mode: 'fts', waitFor: doc.seq });
      expect(ok.items.map((h) => h.doc.id)).toEqual([doc.id]);
    });

    test('deleted docs leave the results', async () => {
      const { store } = ctx();
      const doc = await store.insert('events', { text: 'ephemeral zebra', timestamp: '2020-01-01T00:00:00.000Z' });
      expect((await store.search('events', { q: 'zebra', waitFor: doc.seq })).items).toHaveLength(1);
      await store.deleteDocs('events', { olderThan: '2021-01-01T00:00:00.000Z' });
      const head = await store.head();
      expect((await store.search('events', { q: 'zebra', waitFor: head })).items).toEqual([]);
    });

    test('an empty or punctuation-only query finds nothing without error', async () => {
      const { store } = ctx();
      await store.insert('events', { text: 'anything' });
      expect((await store.search('events', { q: '' })).items).toEqual([]);
      expect((await store.search('events', { q: '!!! ???' })).items).toEqual([]);
    });
  });
}
