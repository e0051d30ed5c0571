// SPDX-License-Identifier: GPL-3.0-or-later
// Rough figures for the search projection (not a test, not the benchmark suite):
//   node --conditions=@dualstore/source --import tsx packages/store-sqlite/test/search/measure-search.ts [docs]
// Measures the indexer's catch-up rate from the docs table (fresh index) and from the feed
// (existing index, then a backlog), and search latency through the worker.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { migrate } from '../../src/migrations.js';
import { SearchIndex } from '../../src/search/search-index.js';
import { searchRequest } from './helpers.js';

const DOCS = Number(process.argv[2] ?? 200_000);
const WORDS_PER_DOC = 20;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dualstore-measure-'));
const dbPath = path.join(dir, 'main.db');
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
migrate(db);

// A Zipf-ish vocabulary of 20,000 words plus "common" in every doc and "rareword" in 1 of 10,000.
const vocabulary = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}`);
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const zipfWord = () => vocabulary[Math.floor(vocabulary.length ** random()) - 1] as string;

function appendDocs(count: number): number {
  const change = db.prepare(
    "INSERT INTO changes (kind, collection, doc_seq, doc_id, at) VALUES ('insert', 'events', 0, '', ?)",
  );
  const fix = db.prepare('UPDATE changes SET doc_seq = ?, doc_id = ? WHERE seq = ?');
  const doc = db.prepare(
    `INSERT INTO docs (seq, id, collection, text, timestamp, metadata, status, attempts, max_attempts, mentions, tool_calls, version)
     VALUES (?, ?, 'events', ?, ?, '{}', 'pending', 0, 5, '[]', '[]', 1)`,
  );
  let last = 0;
  const batch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) {
      const words = Array.from({ length: WORDS_PER_DOC - 1 }, zipfWord);
      words.push('common');
      if (random() < 0.0001) words.push('rareword');
      const at = new Date().toISOString();
      last = Number(change.run(at).lastInsertRowid);
      fix.run(last, `d${last}`, last);
      doc.run(last, `d${last}`, words.join(' '), at);
    }
  });
  for (let done = 0; done < count; done += 10_000) batch(Math.min(10_000, count - done));
  return last;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function timeSearches(index: SearchIndex, label: string, q: string, order: 'relevance' | 'recent', runs = 200) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const { hits } = await index.search(searchRequest('events', q, { order }));
    times.push(performance.now() - started);
    if (i === 0 && hits.length === 0) console.log(`  (${label}: no hits)`);
  }
  console.log(
    `  ${label.padEnd(36)} p50 ${percentile(times, 50).toFixed(2)} ms  p99 ${percentile(times, 99).toFixed(2)} ms`,
  );
}

try {
  const indexPath = `${dbPath}-search`;
  // Worker start-up alone (from sources it includes loading tsx in each thread).
  let started = performance.now();
  let index = await SearchIndex.open({ dbPath, indexPath });
  const startup = (performance.now() - started) / 1000;
  await index.close();
  console.log(`open() on an empty file: ${startup.toFixed(2)} s`);

  // 1. A backlog through the change feed: written while the index was closed.
  started = performance.now();
  const head = appendDocs(DOCS);
  console.log(
    `wrote ${DOCS} docs (${WORDS_PER_DOC} words each) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  started = performance.now();
  index = await SearchIndex.open({ dbPath, indexPath });
  await index.waitForIndexed(head, 10 * 60_000);
  let seconds = (performance.now() - started) / 1000;
  console.log(
    `feed catch-up: ${DOCS} docs in ${seconds.toFixed(1)} s incl. open() = ${Math.round(DOCS / seconds)} docs/s` +
      ` (${Math.round(DOCS / (seconds - startup))} docs/s without start-up)`,
  );

  // 2. rebuild(): the same docs again, read from the docs table.
  started = performance.now();
  await index.rebuild();
  seconds = (performance.now() - started) / 1000;
  console.log(`rebuild from docs: ${DOCS} docs in ${seconds.toFixed(1)} s = ${Math.round(DOCS / seconds)} docs/s`);

  // 3. Live: writes in 1,000-doc commits with notify, the indexer following.
  started = performance.now();
  let head2 = head;
  for (let done = 0; done < 50_000; done += 1000) {
    head2 = appendDocs(1000);
    index.notify();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const written = (performance.now() - started) / 1000;
  await index.waitForIndexed(head2, 10 * 60_000);
  console.log(
    `live: 50,000 docs written in ${written.toFixed(1)} s; index caught up ${((performance.now() - started) / 1000 - written).toFixed(2)} s after the last commit`,
  );

  console.log(`search latency over ${DOCS + 50_000} docs (hot tier 100,000), k=8, through the worker:`);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await timeSearches(index, 'relevance, "common" (every doc)', 'common', 'relevance');
  await timeSearches(index, `relevance, zipf top word ${vocabulary[0]}`, vocabulary[0] as string, 'relevance');
  await timeSearches(index, 'relevance, two words', `common ${vocabulary[3]}`, 'relevance');
  await timeSearches(index, 'relevance, "rareword" (1 in 10,000)', 'rareword', 'relevance');
  await timeSearches(index, 'relevance, prefix w1*', 'w1*', 'relevance');
  await timeSearches(index, 'recent, "common"', 'common', 'recent');
  delay.disable();
  console.log(`main event-loop delay during searches: p99 ${(delay.percentile(99) / 1e6).toFixed(2)} ms`);
  await index.close();
} finally {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
