// SPDX-License-Identifier: GPL-3.0-or-later
// The Indexer driven step by step in-process: batch sizes while following the feed and while
// catching up, and the FTS5 table options a catch-up relies on.

import Database from 'better-sqlite3';
import { afterEach, expect, test } from 'vitest';
import { createCollectionTablesSql } from '../../src/search/index-schema.js';
import { Indexer } from '../../src/search/indexer.js';
import { createTestDb, insertDocs, type TestDb } from './helpers.js';

let t: TestDb;
let indexer: Indexer | undefined;

afterEach(() => {
  indexer?.close();
  indexer = undefined;
  t.cleanup();
});

function stepsUntilCaughtUp(target: Indexer): number[] {
  const positions: number[] = [];
  for (;;) {
    const result = target.step();
    positions.push(result.indexedThrough);
    if (!result.more) return positions;
  }
}

test('a feed backlog is worked through in batches that double up to catchUpBatchSize, then live batches are small again', () => {
  t = createTestDb();
  const first = insertDocs(t.db, 'events', ['seed doc']);
  indexer = new Indexer({
    dbPath: t.dbPath,
    indexPath: t.indexPath,
    hotTierSize: 1000,
    batchSize: 10,
    catchUpBatchSize: 40,
  });
  // Build (empty index), then caught up.
  stepsUntilCaughtUp(indexer);
  expect(indexer.indexedThrough).toBe(first[0]);
  const base = first[0] as number;
  const backlog = insertDocs(
    t.db,
    'events',
    Array.from({ length: 200 }, (_, i) => `backlog doc ${i}`),
  );
  expect(backlog[0]).toBe(base + 1);
  // 10, then 20, then 40 per step (capped), until the end of the feed; then steps that only
  // merge segments (the position stays).
  const positions = stepsUntilCaughtUp(indexer).map((position) => position - base);
  expect(positions.slice(0, 7)).toEqual([10, 30, 70, 110, 150, 190, 200]);
  expect(new Set(positions.slice(6))).toEqual(new Set([200]));
  // Caught up: the next changes are taken batchSize at a time again.
  insertDocs(
    t.db,
    'events',
    Array.from({ length: 15 }, (_, i) => `live doc ${i}`),
  );
  expect(indexer.step().indexedThrough - base).toBe(210);
});

test('a build indexes the docs table catchUpBatchSize docs per transaction', () => {
  t = createTestDb();
  const seqs = insertDocs(
    t.db,
    'events',
    Array.from({ length: 95 }, (_, i) => `built doc ${i}`),
  );
  indexer = new Indexer({
    dbPath: t.dbPath,
    indexPath: t.indexPath,
    hotTierSize: 1000,
    batchSize: 10,
    catchUpBatchSize: 40,
  });
  indexer.step(); // starts the build
  const file = new Database(t.indexPath, { readonly: true });
  const cursor = () =>
    (file.prepare("SELECT value FROM meta WHERE key = 'build_cursor'").get() as { value: number } | undefined)?.value;
  indexer.step();
  expect(cursor()).toBe(seqs[39]);
  indexer.step();
  expect(cursor()).toBe(seqs[79]);
  indexer.step();
  expect(cursor()).toBeUndefined();
  expect(indexer.indexedThrough).toBe(seqs.at(-1));
  // Each FTS5 table buffers a whole catch-up batch before writing a segment (see index-schema.ts).
  const config = (table: string, key: string) =>
    (file.prepare(`SELECT v FROM ${table}_config WHERE k = ?`).get(key) as { v: number } | undefined)?.v;
  expect(config('full_1', 'hashsize')).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  expect(config('hot_1_1', 'hashsize')).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  // Fewer merges while building the full table; the hot tier keeps FTS5's default (4).
  expect(config('full_1', 'automerge')).toBe(8);
  expect(config('hot_1_1', 'automerge')).toBeUndefined();
  // No crisis merge of a whole level inside one small commit (the next test).
  expect(config('full_1', 'crisismerge')).toBe(64);
  file.close();
});

test('after a build, small live commits never rewrite most of the full table in one go', () => {
  t = createTestDb();
  const file = new Database(t.indexPath);
  file.pragma('journal_mode = WAL');
  file.pragma('wal_autocheckpoint = 0');
  file.exec(createCollectionTablesSql(1));
  const insert = file.prepare('INSERT INTO full_1 (rowid, text) VALUES (?, ?)');
  // Deterministic Zipf-like text, so FTS5's segment layout (and the test) is the same every run.
  let seed = 1;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const text = () =>
    Array.from({ length: 20 }, () => `w${(Math.floor(50_000 ** random()) - 1).toString(36)}`).join(' ');
  let rowid = 0;
  const commit = (docs: number) =>
    file.transaction(() => {
      for (let i = 0; i < docs; i++) insert.run(++rowid, text());
    })();
  // A build: batches of 20,000, then one optimized segment.
  commit(20_000);
  commit(20_000);
  file.exec("INSERT INTO full_1 (full_1) VALUES ('optimize')");
  file.pragma('wal_checkpoint(TRUNCATE)');
  const frames = () => (file.pragma('wal_checkpoint(NOOP)') as Array<{ log: number }>)[0]?.log ?? 0;
  let worst = 0;
  for (let i = 0; i < 1500; i++) {
    const before = frames();
    commit(25);
    worst = Math.max(worst, frames() - before);
    if (frames() > 20_000) file.pragma('wal_checkpoint(TRUNCATE)');
  }
  // With FTS5's default crisismerge (16) one of these commits wrote 886 pages (most of the
  // table); with 64 the worst wrote 270.
  expect(worst).toBeLessThan(500);
  file.close();
});

test('after a feed backlog of large batches, idle steps merge the full table segments until FTS5 has nothing left to merge', () => {
  t = createTestDb();
  indexer = new Indexer({
    dbPath: t.dbPath,
    indexPath: t.indexPath,
    hotTierSize: 100_000,
    batchSize: 5,
    catchUpBatchSize: 10,
  });
  stepsUntilCaughtUp(indexer);
  insertDocs(
    t.db,
    'events',
    Array.from({ length: 400 }, (_, i) => `settling doc number ${i} with some words`),
  );
  const file = new Database(t.indexPath, { readonly: true });
  const segments = () => (file.prepare('SELECT count(DISTINCT segid) AS n FROM full_1_idx').get() as { n: number }).n;
  // Through the backlog without settling: 41 transactions leave many segments behind.
  let result = indexer.step();
  while (result.indexedThrough < 400) result = indexer.step();
  const before = segments();
  expect(result.more).toBe(true);
  const more: boolean[] = [];
  do {
    result = indexer.step();
    more.push(result.more);
  } while (result.more);
  expect(result.indexedThrough).toBe(400);
  expect(more.length).toBeGreaterThan(1);
  expect(segments()).toBeLessThan(before);
  // Settled: the next idle step does nothing more.
  expect(indexer.step().more).toBe(false);
  file.close();
});
