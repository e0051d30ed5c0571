// SPDX-License-Identifier: GPL-3.0-or-later
// Figures for the search projection through the store (not a test, not the benchmark suite):
//   node --conditions=@dualstore/source --import tsx \
//     packages/store-sqlite/test/search/measure-projection.ts <dir> [docs=1000000] [phases=catchup,search,lag]
// <dir> keeps the main file between runs (written once per doc count, raw, like the store
// writes it); `catchup` deletes the index file and times store open → waitForIndexed(head);
// `search` times relevance/recent per frequency band through store.search; `lag` inserts 5,000
// docs/s one by one through store.insert for LAG_SECONDS and times commit → waitForIndexed(seq)
// for every 5th, with the default hot tier turning over (the store must hold ≥ 100k docs).

import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { openSqliteStore, type SqliteStore } from '../../src/index.js';

const [dir = '/tmp/dualstore-projection', docsArg = '1000000', phasesArg = 'catchup,search,lag'] =
  process.argv.slice(2);
const DOCS = Number(docsArg);
const PHASES = new Set(phasesArg.split(','));
const LAG_RATE = 5000;
const LAG_SECONDS = Number(process.env.LAG_SECONDS ?? 20);
const COLLECTION = 'events';

// Zipf (exponent 1) over 50,000 made-up words, 16–24 words a doc, as bench/lib/corpus.ts.
const VOCABULARY = Array.from({ length: 50_000 }, (_, i) => `w${(i * 7919).toString(36)}x`);
const CDF = new Float64Array(VOCABULARY.length);
let total = 0;
for (let r = 0; r < VOCABULARY.length; r++) CDF[r] = total += 1 / (r + 1);
let seed = 7;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
function word(): string {
  const x = random() * total;
  let lo = 0;
  let hi = CDF.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((CDF[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCABULARY[lo] as string;
}
const text = () => Array.from({ length: 16 + Math.floor(random() * 9) }, word).join(' ');

const dbPath = path.join(dir, `main-${DOCS}.db`);
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function writeMain(): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const setup = await openSqliteStore({ path: dbPath, search: false, collections: [COLLECTION] });
  await setup.close();
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const change = db.prepare(
    "INSERT INTO changes (kind, collection, doc_seq, doc_id, at) VALUES ('insert', 'events', 0, '', ?)",
  );
  const fix = db.prepare('UPDATE changes SET doc_seq = ?, doc_id = ? WHERE seq = ?');
  const doc = db.prepare(
    `INSERT INTO docs (seq, id, collection, text, timestamp, metadata, status, attempts, max_attempts, mentions, tool_calls, version)
     VALUES (?, ?, 'events', ?, ?, '{}', 'pending', 0, 5, '[]', '[]', 1)`,
  );
  const batch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) {
      const at = new Date().toISOString();
      const seq = Number(change.run(at).lastInsertRowid);
      const id = `0190${seq.toString(16).padStart(12, '0')}`;
      fix.run(seq, id, seq);
      doc.run(seq, id, text(), at);
    }
  });
  for (let done = 0; done < DOCS; done += 10_000) batch(Math.min(10_000, DOCS - done));
  db.close();
}

async function waitIndexed(store: SqliteStore, seq: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let through = 0;
  while (performance.now() < end) {
    through = await store.waitForIndexed(seq, 2000);
    if (through >= seq) break;
  }
  return through;
}

/** Times the build from nothing; the store stays open for the next phases, as in the bench. */
async function catchUp(): Promise<SqliteStore> {
  for (const suffix of ['-search', '-search-wal', '-search-shm']) fs.rmSync(dbPath + suffix, { force: true });
  const started = performance.now();
  const store = await openSqliteStore({ path: dbPath, collections: [COLLECTION] });
  const head = await store.head();
  const through = await waitIndexed(store, head, 30 * 60_000);
  const seconds = (performance.now() - started) / 1000;
  log(
    `catch-up from empty: ${DOCS} docs to ${through}/${head} in ${seconds.toFixed(1)} s = ${Math.round(head / seconds)} docs/s (store open included)`,
  );
  return store;
}

async function searches(store: SqliteStore): Promise<void> {
  const bands: Array<[string, string]> = [
    ['very common', VOCABULARY[0] as string],
    ['frequent', VOCABULARY[20] as string],
    ['mid', VOCABULARY[300] as string],
    ['rare', VOCABULARY[20_000] as string],
    ['prefix 3', `${(VOCABULARY[20] as string).slice(0, 3)}*`],
  ];
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  for (const [band, q] of bands) {
    for (const order of ['relevance', 'recent'] as const) {
      const times: number[] = [];
      for (let i = 0; i < 230; i++) {
        const started = performance.now();
        await store.search(COLLECTION, { q, order });
        if (i >= 30) times.push(performance.now() - started);
      }
      log(
        `  search ${order.padEnd(9)} ${band.padEnd(12)} p50 ${percentile(times, 50).toFixed(2)} ms  p99 ${percentile(times, 99).toFixed(2)} ms`,
      );
    }
  }
  delay.disable();
  log(`  event-loop delay p99 during searches ${(delay.percentile(99) / 1e6).toFixed(2)} ms`);
}

async function lag(store: SqliteStore): Promise<void> {
  const count = LAG_RATE * LAG_SECONDS;
  const lags: number[] = [];
  // Per second of the run (by commit time): the worst lag, to see when a stall happened.
  const worst = new Array<number>(LAG_SECONDS + 5).fill(0);
  const waits: Array<Promise<void>> = [];
  const inserts: Array<Promise<void>> = [];
  let sent = 0;
  const start = performance.now();
  while (sent < count) {
    const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * LAG_RATE));
    for (; sent < due; sent++) {
      const sample = sent % 5 === 0;
      inserts.push(
        store.insert(COLLECTION, { text: text() }).then(({ seq }) => {
          if (!sample) return;
          const committed = performance.now();
          waits.push(
            waitIndexed(store, seq, 120_000).then((through) => {
              const ms = through >= seq ? performance.now() - committed : Number.POSITIVE_INFINITY;
              lags.push(ms);
              const second = Math.floor((committed - start) / 1000);
              worst[second] = Math.max(worst[second] ?? 0, ms);
            }),
          );
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inserts);
  const achieved = (count * 1000) / (performance.now() - start);
  await Promise.all(waits);
  log(
    `lag at ${LAG_RATE}/s for ${LAG_SECONDS} s (achieved ${Math.round(achieved)}/s, ${lags.length} samples): p50 ${percentile(lags, 50).toFixed(1)} ms  p99 ${percentile(lags, 99).toFixed(1)} ms  max ${Math.max(...lags).toFixed(1)} ms`,
  );
  log(`  worst lag per second of the run: ${worst.map((ms) => ms.toFixed(0)).join(' ')}`);
}

if (!fs.existsSync(dbPath)) {
  log(`writing ${DOCS} docs to ${dbPath}`);
  await writeMain();
}
let opened = PHASES.has('catchup') ? await catchUp() : undefined;
if (PHASES.has('search') || PHASES.has('lag')) {
  const store = opened ?? (await openSqliteStore({ path: dbPath, collections: [COLLECTION] }));
  opened = undefined;
  await waitIndexed(store, await store.head(), 30 * 60_000);
  if (PHASES.has('search')) await searches(store);
  if (PHASES.has('lag')) await lag(store);
  if (PHASES.has('search') && PHASES.has('lag')) await searches(store);
  await store.close();
}
await opened?.close();
