// SPDX-License-Identifier: GPL-3.0-or-later
// The search projection end to end: real main and index files, real worker threads.

import fs from 'node:fs';
import { isDualStoreError } from '@dualstore/core';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { SearchIndex, type SearchIndexOptions } from '../../src/search/search-index.js';
import { createTestDb, deleteDoc, insertDoc, insertDocs, searchRequest, type TestDb, updateDoc } from './helpers.js';

// Generous bounds for a loaded CI machine; each wait ends as soon as its condition holds.
const WAIT = 10_000;

const seqsOf = (result: { hits: Array<{ row: Record<string, unknown> }> }) => result.hits.map((hit) => hit.row.seq);

describe('one index over a shared main file', () => {
  let t: TestDb;
  let index: SearchIndex;

  beforeAll(async () => {
    t = createTestDb();
    index = await SearchIndex.open({ dbPath: t.dbPath, indexPath: t.indexPath });
  });
  afterAll(async () => {
    await index.close();
    t.cleanup();
  });

  /** Write like the store does (commit, then notify) and wait until the index covers it. */
  async function write(collection: string, texts: string[], topic?: string): Promise<number[]> {
    const seqs = insertDocs(t.db, collection, texts, topic === undefined ? {} : { topic });
    index.notify();
    await index.waitForIndexed(seqs.at(-1) as number, WAIT);
    return seqs;
  }

  test('finds a doc once the index covers its seq, and indexed_through advances', async () => {
    const before = index.indexedThrough;
    const [seq] = insertDocs(t.db, 'basic', ['the quick brown fox jumps over the lazy dog']) as [number];
    index.notify();
    expect(seq).toBeGreaterThan(before);
    const result = await index.search(searchRequest('basic', 'quick fox', { waitFor: seq }));
    expect(result.indexed_through).toBeGreaterThanOrEqual(seq);
    expect(index.indexedThrough).toBeGreaterThanOrEqual(seq);
    expect(seqsOf(result)).toEqual([seq]);
    expect(result.hits[0]?.row).toMatchObject({ id: `doc-${seq}`, collection: 'basic', status: 'pending' });
    expect(result.hits[0]?.snippet).toBe('the quick brown fox jumps over the lazy dog');
    expect(result.hits[0]?.score).toBeGreaterThan(0);
  });

  test('an update change moves indexed_through without touching the results', async () => {
    const [seq] = (await write('updates', ['status will change'])) as [number];
    const updateSeq = updateDoc(t.db, seq, 'completed');
    index.notify();
    expect(await index.waitForIndexed(updateSeq, WAIT)).toBeGreaterThanOrEqual(updateSeq);
    const result = await index.search(searchRequest('updates', 'status'));
    expect(result.hits.map((hit) => hit.row.status)).toEqual(['completed']);
  });

  test('relevance ranks a doc with more occurrences higher; scores are higher-is-better', async () => {
    const seqs = await write('rank', [
      'deploy once among many other words here',
      'deploy deploy deploy failed',
      'nothing relevant at all',
      'deploy deploy later',
    ]);
    const result = await index.search(searchRequest('rank', 'deploy', { waitFor: seqs.at(-1) as number }));
    expect(seqsOf(result)).toEqual([seqs[1], seqs[3], seqs[0]]);
    const scores = result.hits.map((hit) => hit.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  test('recent order is newest first', async () => {
    const seqs = await write('recent', ['alpha deploy deploy deploy', 'alpha', 'beta', 'alpha again']);
    const result = await index.search(
      searchRequest('recent', 'alpha', { order: 'recent', waitFor: seqs.at(-1) as number }),
    );
    expect(seqsOf(result)).toEqual([seqs[3], seqs[1], seqs[0]]);
  });

  test('k bounds the number of hits', async () => {
    const seqs = await write(
      'many',
      Array.from({ length: 30 }, (_, i) => `repeated word number ${i}`),
    );
    const result = await index.search(
      searchRequest('many', 'repeated', { k: 5, order: 'recent', waitFor: seqs.at(-1) as number }),
    );
    expect(seqsOf(result)).toEqual(seqs.slice(-5).reverse());
  });

  test('filterSql restricts results, with its parameters bound after the search ones', async () => {
    const a = await write('filtered', ['release notes for alpha'], 'a');
    const b = await write('filtered', ['release notes for beta'], 'b');
    const filterSql = { sql: 'docs.topic = ? AND docs.status = ?', params: ['b', 'pending'] };
    const result = await index.search(searchRequest('filtered', 'release', { filterSql, waitFor: b[0] as number }));
    expect(seqsOf(result)).toEqual(b);
    const none = await index.search(
      searchRequest('filtered', 'release', { filterSql: { sql: 'docs.topic = ?', params: ['c'] } }),
    );
    expect(none.hits).toEqual([]);
    expect(a).toHaveLength(1);
  });

  test('collections are isolated', async () => {
    const one = await write('iso-one', ['shared secret word']);
    const two = await write('iso-two', ['shared secret word']);
    const waitFor = two[0] as number;
    expect(seqsOf(await index.search(searchRequest('iso-one', 'secret', { waitFor })))).toEqual(one);
    expect(seqsOf(await index.search(searchRequest('iso-two', 'secret', { waitFor })))).toEqual(two);
    expect((await index.search(searchRequest('iso-unknown', 'secret', { waitFor }))).hits).toEqual([]);
  });

  test('prefix search: simple `abc*` matches words starting with abc', async () => {
    const seqs = await write('prefix', ['abcdef here', 'xabc not a prefix', 'abc exact', 'ab too short']);
    const waitFor = seqs.at(-1) as number;
    const result = await index.search(searchRequest('prefix', 'abc*', { order: 'recent', waitFor }));
    expect(seqsOf(result)).toEqual([seqs[2], seqs[0]]);
    expect(seqsOf(await index.search(searchRequest('prefix', 'abc', { waitFor })))).toEqual([seqs[2]]);
    // The same through fts mode, as the simple query spells it.
    expect(seqsOf(await index.search(searchRequest('prefix', '"abc" *', { mode: 'fts', order: 'recent' })))).toEqual([
      seqs[2],
      seqs[0],
    ]);
  });

  test('matching ignores case and diacritics; the snippet is cut around the match', async () => {
    const long = `${'lorem ipsum '.repeat(40)}the CAFÉ opened ${'dolor sit '.repeat(40)}`;
    const [seq] = (await write('snippets', [long])) as [number];
    const result = await index.search(searchRequest('snippets', 'cafe', { waitFor: seq }));
    expect(seqsOf(result)).toEqual([seq]);
    const snippet = result.hits[0]?.snippet ?? '';
    expect(snippet).toContain('CAFÉ');
    expect(snippet.startsWith('…')).toBe(true);
    expect(snippet.endsWith('…')).toBe(true);
    expect(snippet.length).toBeLessThanOrEqual(162);
  });

  test('simple mode: any text is safe; text without words finds nothing', async () => {
    const [seq] = (await write('syntax', ['AND OR NOT near quotes'])) as [number];
    await index.waitForIndexed(seq, WAIT);
    for (const q of ['', '   ', '"', '***', '(((', '-+^:']) {
      expect((await index.search(searchRequest('syntax', q))).hits).toEqual([]);
    }
    const result = await index.search(searchRequest('syntax', 'AND "OR" NOT('));
    expect(result.hits).toHaveLength(1);
  });

  test('fts mode: a syntax error is a DualStoreError bad_search_syntax without SQL in it', async () => {
    for (const q of ['AND', '"unterminated', 'NEAR(', 'nocolumn:word', '(a OR', '*x', '']) {
      const error = await index.search(searchRequest('syntax', q, { mode: 'fts' })).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(isDualStoreError(error), `query ${JSON.stringify(q)}`).toBe(true);
      expect((error as { code: string }).code).toBe('bad_search_syntax');
      expect((error as Error).message).not.toMatch(/SELECT|MATCH|rowid/);
    }
    // Valid FTS5 passes through.
    const result = await index.search(
      searchRequest('syntax', 'quotes AND (near OR nothing) NOT missing', { mode: 'fts' }),
    );
    expect(result.hits).toHaveLength(1);
  });

  test('waitFor beyond the head answers after the bounded wait with the current position', async () => {
    const started = Date.now();
    const result = await index.search(searchRequest('basic', 'fox', { waitFor: index.indexedThrough + 1000 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(result.indexed_through).toBeLessThan(index.indexedThrough + 1000);
    expect(result.hits).toHaveLength(1);
  });
});

describe('index lifecycle', () => {
  let t: TestDb;
  const opened: SearchIndex[] = [];
  async function open(options: Partial<SearchIndexOptions> = {}): Promise<SearchIndex> {
    const index = await SearchIndex.open({ dbPath: t.dbPath, indexPath: t.indexPath, ...options });
    opened.push(index);
    return index;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((index) => index.close()));
    t.cleanup();
  });

  test('a delete change drops the doc from results; an insert of an already deleted doc is skipped', async () => {
    t = createTestDb();
    const [keep, drop, gone] = insertDocs(t.db, 'events', [
      'retained entry',
      'retained entry too',
      'retained but gone',
    ]) as [number, number, number];
    // Deleted before the indexer ever saw its insert.
    deleteDoc(t.db, gone);
    const index = await open();
    await index.waitForIndexed(gone, WAIT);
    expect(seqsOf(await index.search(searchRequest('events', 'retained', { order: 'recent' })))).toEqual([drop, keep]);
    const deleteSeq = deleteDoc(t.db, drop);
    index.notify();
    const result = await index.search(searchRequest('events', 'retained', { order: 'recent', waitFor: deleteSeq }));
    expect(seqsOf(result)).toEqual([keep]);
  });

  test('the hot tier keeps at most hotTierSize of the newest docs in two rotating generations; the full table still finds old docs', async () => {
    t = createTestDb();
    // Before open (a build from the docs table) and after (the feed), in small batches.
    const early = insertDocs(
      t.db,
      'events',
      Array.from({ length: 120 }, (_, i) => (i === 0 ? 'common word and a rarity' : `common word ${i}`)),
    );
    const index = await open({ hotTierSize: 50, batchSize: 10 });
    const late: number[] = [];
    for (let round = 0; round < 8; round++) {
      // Commits of 10 with a notify each: the indexer follows live, rotating hot generations.
      late.push(
        ...insertDocs(
          t.db,
          'events',
          Array.from({ length: 10 }, (_, i) => `common word late ${round} ${i}`),
        ),
      );
      index.notify();
      await index.waitForIndexed(late.at(-1) as number, WAIT);
    }
    const file = new Database(t.indexPath, { readonly: true });
    try {
      const state = file
        .prepare('SELECT hot_gen, hot_count, prev_gen, evicted_through FROM collections WHERE id = 1')
        .get() as { hot_gen: number; hot_count: number; prev_gen: number | null; evicted_through: number };
      // The build put the newest 25 in two half generations (13 in 1, 12 in 2); 80 live docs
      // filled 2 up to 25, then 3 and 4 (25 each) and started 5 (17). Generations 1–3 were
      // dropped whole.
      expect(state).toMatchObject({ hot_gen: 5, hot_count: 17, prev_gen: 4 });
      const matches = (table: string) =>
        (
          file
            .prepare(`SELECT rowid AS seq FROM ${table} WHERE ${table} MATCH 'common' ORDER BY rowid`)
            .all() as Array<{
            seq: number;
          }>
        ).map((row) => row.seq);
      const previous = matches('hot_1_4');
      const current = matches('hot_1_5');
      // No copying: each generation holds exactly the docs that arrived while it was current.
      expect(previous).toEqual(late.slice(38, 63));
      expect(current).toEqual(late.slice(63));
      expect(state.evicted_through).toBe(late[37]);
      const full = file.prepare("SELECT count(*) AS n FROM full_1 WHERE full_1 MATCH 'common'").get() as { n: number };
      expect(full.n).toBe(200);
      const hotTables = file
        .prepare("SELECT name FROM sqlite_schema WHERE sql LIKE 'CREATE VIRTUAL TABLE hot_1_%' ORDER BY name")
        .all() as Array<{ name: string }>;
      expect(hotTables.map((row) => row.name)).toEqual(['hot_1_4', 'hot_1_5']);
    } finally {
      file.close();
    }
    // Rare word, only in the oldest doc: the relevance fallback to the full table finds it.
    expect(seqsOf(await index.search(searchRequest('events', 'rarity')))).toEqual([early[0]]);
    expect(seqsOf(await index.search(searchRequest('events', 'rarity', { order: 'recent' })))).toEqual([early[0]]);
    // Common word: the newest docs, from both generations and beyond them.
    expect(seqsOf(await index.search(searchRequest('events', 'common', { order: 'recent', k: 50 })))).toEqual(
      [...early, ...late].slice(-50).reverse(),
    );
    expect(await index.search(searchRequest('events', 'common', { k: 50 })).then((r) => r.hits.length)).toBe(50);
  });

  test('searches read the previous hot generation too', async () => {
    t = createTestDb();
    const index = await open({ hotTierSize: 50 });
    const seqs: number[] = [];
    for (let i = 0; i < 30; i++) {
      seqs.push(insertDoc(t.db, 'events', i === 0 ? 'common oldest marker' : `common doc ${i}`));
      index.notify();
      await index.waitForIndexed(seqs.at(-1) as number, WAIT);
    }
    // 25 docs in the previous generation, 5 in the current one, nothing evicted: the hot tier
    // alone answers (no fallback to the full table would run).
    const file = new Database(t.indexPath, { readonly: true });
    expect(file.prepare('SELECT hot_count, prev_gen, evicted_through FROM collections').get()).toEqual({
      hot_count: 5,
      prev_gen: 1,
      evicted_through: 0,
    });
    file.close();
    expect(seqsOf(await index.search(searchRequest('events', 'marker')))).toEqual([seqs[0]]);
    expect(seqsOf(await index.search(searchRequest('events', 'marker', { order: 'recent' })))).toEqual([seqs[0]]);
    expect(seqsOf(await index.search(searchRequest('events', 'common', { order: 'recent', k: 50 })))).toEqual(
      [...seqs].reverse(),
    );
    const relevance = await index.search(searchRequest('events', 'common', { k: 50 }));
    expect(seqsOf(relevance).sort((a, b) => Number(a) - Number(b))).toEqual(seqs);
  });

  test('recent order stays newest first across a hot tier with a gap left by a backlog', async () => {
    t = createTestDb();
    const old = insertDocs(
      t.db,
      'events',
      Array.from({ length: 10 }, (_, i) => `common old ${i}`),
    );
    const index = await open({ hotTierSize: 50, batchSize: 10 });
    await index.waitForIndexed(old.at(-1) as number, WAIT);
    // A backlog: only its newest 25 join the hot tier, which still holds the 10 old docs.
    const burst = insertDocs(
      t.db,
      'events',
      Array.from({ length: 200 }, (_, i) => `common burst ${i}`),
    );
    index.notify();
    await index.waitForIndexed(burst.at(-1) as number, WAIT);
    const all = [...old, ...burst];
    const recent = await index.search(searchRequest('events', 'common', { order: 'recent', k: 50 }));
    expect(seqsOf(recent)).toEqual(all.slice(-50).reverse());
    const narrow = { sql: 'docs.seq IN (?, ?)', params: [old[3], burst[100]] };
    for (const order of ['recent', 'relevance'] as const) {
      const result = await index.search(searchRequest('events', 'common', { order, filterSql: narrow }));
      expect(seqsOf(result).sort((a, b) => Number(a) - Number(b))).toEqual([old[3], burst[100]]);
    }
  });

  test('a saturated hot tier plus a narrow filter continues into older full-table matches', async () => {
    t = createTestDb();
    const seqs = insertDocs(
      t.db,
      'events',
      Array.from({ length: 1100 }, (_, i) => `frequent term item ${i}`),
    );
    const oldest = seqs[0] as number;
    const index = await open({ hotTierSize: 1050 });
    await index.waitForIndexed(seqs.at(-1) as number, WAIT);
    const filterSql = { sql: 'docs.seq = ?', params: [oldest] };
    for (const order of ['relevance', 'recent'] as const) {
      expect(seqsOf(await index.search(searchRequest('events', 'frequent', { order, filterSql })))).toEqual([oldest]);
    }
  });

  test('rebuild() reproduces the same results', async () => {
    t = createTestDb();
    const seqs = insertDocs(t.db, 'events', ['red apple', 'green apple apple', 'red pepper', 'yellow banana']);
    deleteDoc(t.db, seqs[2] as number);
    const index = await open({ hotTierSize: 2, batchSize: 2 });
    const head = insertDoc(t.db, 'events', 'red apple pie');
    index.notify();
    await index.waitForIndexed(head, WAIT);
    const queries = [
      searchRequest('events', 'apple'),
      searchRequest('events', 'red', { order: 'recent' }),
      searchRequest('events', 'apple OR banana', { mode: 'fts' }),
    ];
    // Same docs, order, snippets and scores. (Scores match because nothing was deleted from a
    // table after its rows were indexed: FTS5 keeps counting rows deleted from a contentless_delete
    // table in bm25's N, so after retention deletes scores differ slightly until a rebuild.)
    const answer = async () => Promise.all(queries.map(async (q) => (await index.search(q)).hits));
    const before = await answer();
    await index.rebuild();
    expect(index.indexedThrough).toBe(head);
    expect(await answer()).toEqual(before);
    expect(before[1]?.map((hit) => hit.row.seq)).toEqual([head, seqs[0]]);
  });

  test('reopening resumes from the position stored in the index file', async () => {
    t = createTestDb();
    const first = insertDoc(t.db, 'events', 'persisted text');
    const index = await open();
    await index.waitForIndexed(first, WAIT);
    await index.close();
    const file = new Database(t.indexPath, { readonly: true });
    expect(file.prepare("SELECT value FROM meta WHERE key = 'indexed_through'").get()).toEqual({ value: first });
    file.close();
    const second = insertDoc(t.db, 'events', 'persisted again');
    const reopened = await open();
    await reopened.waitForIndexed(second, WAIT);
    const result = await reopened.search(searchRequest('events', 'persisted', { order: 'recent' }));
    expect(seqsOf(result)).toEqual([second, first]);
  });

  test('notify coalesces a burst into few messages, yet no commit waits for the poll', async () => {
    t = createTestDb();
    // A poll that never comes within the test: only notifications can move the index.
    const index = await open({ pollMs: 600_000 });
    const burst = [];
    for (let i = 0; i < 500; i++) {
      burst.push(insertDoc(t.db, 'events', `burst ${i}`));
      index.notify();
    }
    const last = burst.at(-1) as number;
    await vi.waitFor(() => expect(index.indexedThrough).toBeGreaterThanOrEqual(last), { timeout: WAIT, interval: 5 });
    // The indexer runs in parallel and clears the flag whenever a read finds nothing, so some
    // calls may post; the rest found a read still ahead of them.
    expect(index.notifyMessages).toBeGreaterThan(0);
    expect(index.notifyMessages).toBeLessThan(burst.length);
    // One commit at a time, each racing the indexer's previous read: every one must still wake it.
    for (let i = 0; i < 300; i++) {
      const seq = insertDoc(t.db, 'events', `single ${i}`);
      index.notify();
      if (i % 3 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      else
        await vi.waitFor(() => expect(index.indexedThrough).toBeGreaterThanOrEqual(seq), {
          timeout: WAIT,
          interval: 1,
        });
    }
    const head = insertDoc(t.db, 'events', 'the last one');
    index.notify();
    await vi.waitFor(() => expect(index.indexedThrough).toBeGreaterThanOrEqual(head), { timeout: WAIT, interval: 5 });
    expect(seqsOf(await index.search(searchRequest('events', 'last', { order: 'recent' })))).toEqual([head]);
  });

  test('after a live batch the indexer lingers, so the next commits share a batch; an idle one starts at once', async () => {
    t = createTestDb();
    const index = await open({ lingerMs: 1500 });
    // Idle: the first commit is indexed at once, not after the linger.
    const first = insertDoc(t.db, 'events', 'first after idle');
    index.notify();
    const started = performance.now();
    await index.waitForIndexed(first, WAIT);
    expect(performance.now() - started).toBeLessThan(1000);
    // Right after that batch the indexer waits out the linger: commits made now stay unindexed
    // for a while, then go in together.
    const next = [insertDoc(t.db, 'events', 'during the linger 1'), insertDoc(t.db, 'events', 'during the linger 2')];
    index.notify();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(index.indexedThrough).toBe(first);
    await index.waitForIndexed(next[1] as number, WAIT);
    expect(index.indexedThrough).toBeGreaterThanOrEqual(next[1] as number);
  });

  test("the indexer thread checkpoints the main file's WAL, so the writer's event loop need not", async () => {
    t = createTestDb();
    // This connection writes but never checkpoints: only the indexer thread can copy its pages.
    t.db.pragma('wal_autocheckpoint = 0');
    const index = await open();
    const sizeBefore = fs.statSync(t.dbPath).size;
    const walBefore = fs.statSync(`${t.dbPath}-wal`).size;
    const seqs = insertDocs(
      t.db,
      'events',
      Array.from({ length: 2000 }, (_, i) => `checkpointed doc ${i} ${'padding '.repeat(20)}`),
    );
    index.notify();
    await index.waitForIndexed(seqs.at(-1) as number, WAIT);
    expect(fs.statSync(`${t.dbPath}-wal`).size).toBeGreaterThan(walBefore);
    // The new pages reach the main file (a checkpoint) while the writer stays open and idle.
    await vi.waitFor(() => expect(fs.statSync(t.dbPath).size).toBeGreaterThan(sizeBefore + 100_000), {
      timeout: WAIT,
      interval: 20,
    });
    const row = t.db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number };
    expect(row.n).toBe(2000);
  });

  test('commits by another connection are picked up without notify (poll fallback)', async () => {
    t = createTestDb();
    const index = await open();
    const other = new Database(t.dbPath, { timeout: 5000 });
    try {
      const seq = insertDoc(other, 'events', 'written elsewhere');
      // No notify and no waitForIndexed (which notifies): only the indexer's own poll can see it.
      await vi.waitFor(() => expect(index.indexedThrough).toBeGreaterThanOrEqual(seq), { timeout: 5000, interval: 20 });
      expect(seqsOf(await index.search(searchRequest('events', 'elsewhere')))).toEqual([seq]);
    } finally {
      other.close();
    }
  });

  test('a crashed indexer is reported and restarted, and the index heals', async () => {
    t = createTestDb();
    const errors: Error[] = [];
    const index = await open({ onError: (error) => errors.push(error) });
    const first = insertDoc(t.db, 'events', 'before the crash');
    index.notify();
    await index.waitForIndexed(first, WAIT);
    // Damage the index file from outside: the indexer's next batch fails and its thread dies.
    const file = new Database(t.indexPath, { timeout: 5000 });
    file.exec('DROP TABLE meta; PRAGMA user_version = 0;');
    file.close();
    const second = insertDoc(t.db, 'events', 'after the crash');
    index.notify();
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5000, interval: 20 });
    expect(errors[0]?.message).toMatch(/no such table: meta/);
    // The restarted indexer rebuilds (its position was lost) and catches up.
    await vi.waitFor(() => expect(index.indexedThrough).toBeGreaterThanOrEqual(second), {
      timeout: 10_000,
      interval: 20,
    });
    const result = await index.search(searchRequest('events', 'crash', { order: 'recent' }));
    expect(seqsOf(result)).toEqual([second, first]);
  });

  test('open() rejects when the main file is missing, and leaves no thread behind', async () => {
    t = createTestDb();
    await expect(SearchIndex.open({ dbPath: `${t.dbPath}-missing`, indexPath: t.indexPath })).rejects.toThrow();
  });

  test('close() is idempotent; afterwards search rejects with store_closed', async () => {
    t = createTestDb();
    const index = await open();
    await Promise.all([index.close(), index.close()]);
    await index.close();
    await expect(index.search(searchRequest('events', 'x'))).rejects.toMatchObject({ code: 'store_closed' });
    await expect(index.rebuild()).rejects.toMatchObject({ code: 'store_closed' });
    expect(await index.waitForIndexed(10, 1000)).toBe(index.indexedThrough);
  });
});
