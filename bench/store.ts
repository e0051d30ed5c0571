// SPDX-License-Identifier: GPL-3.0-or-later
// `pnpm bench store [--quick]`: the SQLite store against raw better-sqlite3 on the same schema
// and pragmas, measured in the same run (DESIGN §3a). Sections:
//   1–3  write path: single inserts, 1000-doc batches, concurrent inserts through group commit,
//        each with search off (the write path alone) and on (the projection in its worker);
//   4    search at 1M docs (100k with --quick): index catch-up, p50/p99 per frequency band;
//   5    projection lag while ingesting 5,000 docs/s;
//   6    recent and by-id reads at that size;
//   7    claim+complete with 8 concurrent workers (async loops, then processes).
// Every section catches its own failure and reports it as a row, so one broken feature (search
// while it is being written) does not hide the other figures.

import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import type { FromClaimWorker, ToClaimWorker } from './lib/claim-worker.js';
import { type BandWord, Corpus, Rng } from './lib/corpus.js';
import { openConnection, openSqliteStore, type SqliteStore } from './lib/deps.js';
import { atLeast, atMost, type Figure, type Row, shareOfCeiling } from './lib/figures.js';
import { openRaw, RawWriter, rawClaimCompleteAll } from './lib/raw.js';
import type { BenchContext, BenchReport } from './lib/report.js';
import { percentile, rateFor, rateForSync, sampleLatency, sampleLatencySync, sleep, summarize } from './lib/stats.js';

const COLLECTION = 'events';

interface Config {
  /** How long each write-path rate is measured, and in how many interleaved rounds. */
  rateMs: number;
  rounds: number;
  /** Docs in the search / read corpus. */
  corpusDocs: number;
  /** Timed searches per band and order (after `warmup`). */
  queries: number;
  warmup: number;
  /** Time box for a raw bm25 ceiling of one band (a very common word costs ~0.5 s per query at 1M). */
  ceilingBudgetMs: number;
  lagRate: number;
  lagSeconds: number;
  /** Timed recent/get calls. */
  reads: number;
  claimDocs: number;
  claimWorkers: number;
}

const FULL: Config = {
  rateMs: 3000,
  rounds: 3,
  corpusDocs: 1_000_000,
  // 1,000 per band and order: with 200, a p99 was the second-worst sample.
  queries: 1000,
  warmup: 20,
  ceilingBudgetMs: 6000,
  lagRate: 5000,
  lagSeconds: 10,
  reads: 2000,
  claimDocs: 20_000,
  claimWorkers: 8,
};

/** Untimed searches per band and order before any band is timed. */
const SEARCH_WARMUP_ROUND = 200;

const QUICK: Config = {
  ...FULL,
  rateMs: 1000,
  rounds: 3,
  corpusDocs: 100_000,
  ceilingBudgetMs: 3000,
  reads: 1000,
  claimDocs: 5000,
};

export async function run(context: BenchContext): Promise<BenchReport> {
  const config = context.quick ? QUICK : FULL;
  const bench = new StoreBench(context, config);
  return bench.run();
}

class StoreBench {
  readonly #context: BenchContext;
  readonly #config: Config;
  readonly #rows: Row[] = [];
  readonly #notes: string[] = [];
  #files = 0;
  #sqliteVersion: string | undefined;

  constructor(context: BenchContext, config: Config) {
    this.#context = context;
    this.#config = config;
  }

  async run(): Promise<BenchReport> {
    this.#notes.push(
      `Ceilings: raw better-sqlite3 on the store's own schema (migrate) and pragmas (openConnection: WAL, synchronous=NORMAL), same run; the store at durability=normal.`,
      `"Search on" = the same write workload with the search projection running in its worker; the main-thread write rate is what is reported.`,
    );
    const loadBefore = os.loadavg();
    // The store is edited while benches run; tie the figures to the exact sources measured.
    const sources = ['packages/core/src', 'packages/store-sqlite/src'];
    const codeBefore = sourceFingerprint(sources);
    await this.#section('write path', () => this.#writePath());
    await this.#section('corpus', () => this.#corpusSections());
    await this.#section('claims', () => this.#claims());
    // The machine may be shared: a load average above the core count means every figure (ceilings
    // included) got only part of the CPU, so say so next to the figures.
    const loadAfter = os.loadavg();
    const codeAfter = sourceFingerprint(sources);
    this.#notes.push(
      codeAfter.hash === codeBefore.hash
        ? `Code measured: ${codeBefore.text}.`
        : `Code measured: the sources CHANGED during the run (workers load them when started): at the start ${codeBefore.text}; at the end ${codeAfter.text}.`,
    );
    this.#notes.push(
      `Load average (1/5/15 min) at the start: ${loadBefore.map((l) => l.toFixed(2)).join(' / ')}; at the end: ${loadAfter.map((l) => l.toFixed(2)).join(' / ')} on ${os.cpus().length} cores.`,
    );
    return {
      rows: this.#rows,
      notes: this.#notes,
      ...(this.#sqliteVersion ? { sqliteVersion: this.#sqliteVersion } : {}),
    };
  }

  async #section(name: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      this.#context.log(`section ${name} failed: ${describe(error)}`);
      this.#rows.push({ name: `${name} (section aborted)`, error: describe(error) });
    }
  }

  #log(message: string): void {
    this.#context.log(message);
  }

  #add(figure: Figure): void {
    this.#rows.push(figure);
    this.#log(
      `  ${figure.name}: ${round(figure.value)} ${figure.unit}${figure.ceiling === undefined ? '' : ` (ceiling ${round(figure.ceiling)})`}`,
    );
  }

  #newPath(label: string): string {
    this.#files += 1;
    const slug = label.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    return path.join(this.#context.dir, `${String(this.#files).padStart(2, '0')}-${slug}.sqlite`);
  }

  // 1–3: the write path

  /**
   * The machine may be shared, and its load drifts over minutes. So ceilings and store figures
   * are measured in interleaved rounds (raw, store, raw, store, ...) and each is reported as the
   * median of its rounds, with the spread beside it: a drift hits both sides alike.
   */
  async #writePath(): Promise<void> {
    const { rateMs: ms, rounds } = this.#config;
    const texts = textPool(20_000, 7);
    let cursor = 0;
    const nextText = () => texts[cursor++ % texts.length] as string;
    const nextTexts = (n: number) => Array.from({ length: n }, nextText);
    const samples = new Map<string, number[]>();
    const record = (key: string, value: number) => {
      const list = samples.get(key) ?? [];
      list.push(value);
      samples.set(key, list);
    };
    const trailing = new Map<string, { behind: number; catchUpMs: number }>();
    let searchFailure: string | undefined;

    for (let round = 1; round <= rounds; round++) {
      this.#log(`write path, round ${round} of ${rounds}: raw ceilings`);
      record(
        'raw1',
        this.#withRaw('raw-single', (writer) =>
          rateForSync(ms, () => {
            writer.insertBatch([nextText()]);
            return 1;
          }),
        ),
      );
      record(
        'raw1000',
        this.#withRaw('raw-batch', (writer) =>
          rateForSync(ms, () => {
            writer.insertBatch(nextTexts(1000));
            return 1000;
          }),
        ),
      );
      for (const search of [false, true]) {
        const workloads: Array<[string, (store: SqliteStore) => Promise<number>]> = [
          [
            'single',
            (store) =>
              rateFor(ms, async () => {
                await store.insert(COLLECTION, { text: nextText() });
                return 1;
              }),
          ],
          [
            'batch',
            (store) =>
              rateFor(ms, async () => {
                await store.insertBatch(
                  COLLECTION,
                  nextTexts(1000).map((text) => ({ doc: { text } })),
                );
                return 1000;
              }),
          ],
          [
            'concurrent',
            (store) =>
              rateFor(ms, async () => {
                await Promise.all(nextTexts(1000).map((text) => store.insert(COLLECTION, { text })));
                return 1000;
              }),
          ],
        ];
        for (const [kind, workload] of workloads) {
          // A broken search projection must not cost the search-off figures: skip search on only.
          if (search && searchFailure !== undefined) continue;
          this.#log(`write path, round ${round}: store ${kind}, search ${search ? 'on' : 'off'}`);
          let measured: { value: number; trail?: { behind: number; catchUpMs: number } };
          try {
            measured = await this.#withStore(kind, search, workload);
          } catch (error) {
            if (!search) throw error;
            searchFailure = describe(error);
            this.#log(`  search on failed: ${searchFailure}`);
            continue;
          }
          const { value, trail } = measured;
          record(`${kind}-${search}`, value);
          if (trail !== undefined) {
            const worst = trailing.get(kind) ?? { behind: 0, catchUpMs: 0 };
            trailing.set(kind, {
              behind: Math.max(worst.behind, trail.behind),
              catchUpMs: Math.max(worst.catchUpMs, trail.catchUpMs),
            });
          }
        }
      }
    }

    const median = (key: string) => percentile(samples.get(key) ?? [], 50);
    const spread = (key: string) => {
      const list = samples.get(key) ?? [];
      const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
      return `${list.length} rounds: ${fmt(Math.min(...list))}–${fmt(Math.max(...list))}; ceiling ${fmt(Math.min(...(samples.get(key.startsWith('single') ? 'raw1' : 'raw1000') ?? [])))}–${fmt(Math.max(...(samples.get(key.startsWith('single') ? 'raw1' : 'raw1000') ?? [])))}`;
    };
    for (const search of [false, true]) {
      const label = search ? 'search on' : 'search off';
      if (search && searchFailure !== undefined) {
        this.#rows.push({ name: `1–3. write path, ${label}`, error: searchFailure });
        continue;
      }
      this.#add({
        name: `1. insert, 1 doc per transaction (awaited one by one), ${label}`,
        value: median(`single-${search}`),
        unit: 'docs/s',
        ceiling: median('raw1'),
        note: spread(`single-${search}`),
      });
      this.#add({
        name: `2. insertBatch, 1000 docs per transaction, ${label}`,
        value: median(`batch-${search}`),
        unit: 'docs/s',
        ceiling: median('raw1000'),
        note: spread(`batch-${search}`),
        ...(search ? {} : { target: shareOfCeiling(0.7) }),
      });
      this.#add({
        name: `3. concurrent single inserts via group commit (waves of 1000), ${label}`,
        value: median(`concurrent-${search}`),
        unit: 'docs/s',
        ceiling: median('raw1000'),
        note: spread(`concurrent-${search}`),
        ...(search ? {} : { target: shareOfCeiling(0.5) }),
      });
    }
    if (searchFailure !== undefined) return;
    this.#notes.push(
      `Write path: ${rounds} interleaved rounds of ${ms / 1000} s per figure, each on a fresh file; medians shown, the spread of the rounds beside each name. With search on, the worst round's projection: ${[
        ...trailing,
      ]
        .map(
          ([kind, t]) =>
            `${kind} — ${t.behind.toLocaleString('en-US')} changes behind when the writes stopped, caught up ${Math.round(t.catchUpMs)} ms later`,
        )
        .join('; ')}.`,
    );
  }

  #withRaw<T>(label: string, body: (writer: RawWriter) => T): T {
    const file = this.#newPath(label);
    const db = openRaw(file, COLLECTION);
    this.#sqliteVersion ??= db.prepare('SELECT sqlite_version()').pluck().get() as string;
    try {
      return body(new RawWriter(db, COLLECTION));
    } finally {
      db.close();
      removeDbFiles(file);
    }
  }

  /** A fresh store for one measurement; with search, also how far the index trailed at its end. */
  async #withStore<T>(
    label: string,
    search: boolean,
    body: (store: SqliteStore) => Promise<T>,
  ): Promise<{ value: T; trail?: { behind: number; catchUpMs: number } }> {
    const file = this.#newPath(`${label}-${search ? 'search' : 'plain'}`);
    const store = await openSqliteStore({ path: file, search, collections: [COLLECTION] });
    try {
      const value = await body(store);
      if (!search) return { value };
      const head = await store.head();
      const behind = head - (await store.waitForIndexed(0, 0));
      const t0 = performance.now();
      const through = await waitIndexed(store, head, 60_000);
      const catchUpMs = through >= head ? performance.now() - t0 : Number.POSITIVE_INFINITY;
      this.#log(`  index ${behind} changes behind at the end, caught up ${Math.round(catchUpMs)} ms later`);
      return { value, trail: { behind, catchUpMs } };
    } finally {
      await store.close();
      removeDbFiles(file);
    }
  }

  // 4–6: a large corpus

  async #corpusSections(): Promise<void> {
    const c = this.#config;
    const file = this.#newPath('corpus');
    const corpus = new Corpus();
    this.#log(`loading ${c.corpusDocs.toLocaleString('en-US')} docs (raw, 10,000 per transaction)`);
    const loadStart = performance.now();
    const db = openRaw(file, COLLECTION);
    const writer = new RawWriter(db, COLLECTION);
    for (let done = 0; done < c.corpusDocs; ) {
      const n = Math.min(10_000, c.corpusDocs - done);
      writer.insertBatch(Array.from({ length: n }, () => corpus.next()));
      done += n;
    }
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const loadS = (performance.now() - loadStart) / 1000;
    this.#notes.push(
      `Corpus: ${c.corpusDocs.toLocaleString('en-US')} docs of 16–24 words drawn from a Zipf(s=1) vocabulary of 50,000 made-up words, loaded raw in ${loadS.toFixed(1)} s (text generation included).`,
    );

    let store: SqliteStore | undefined;
    try {
      store = await this.#catchUp(file, c.corpusDocs);
    } catch (error) {
      this.#rows.push({ name: '4. search index catch-up', error: describe(error) });
    }
    if (store !== undefined) {
      await this.#section('4. search', () => this.#search(store as SqliteStore, file, corpus));
      await this.#section('5. projection lag', () => this.#lag(store as SqliteStore));
    }
    try {
      // Without a working search index the read figures still stand on their own.
      store ??= await openSqliteStore({ path: file, search: false, collections: [COLLECTION] });
      await this.#section('6. reads', () => this.#reads(store as SqliteStore, file));
    } finally {
      await store?.close();
      removeDbFiles(file);
    }
  }

  /** Open the store on the loaded file and time the index build from nothing to the head. */
  async #catchUp(file: string, docs: number): Promise<SqliteStore> {
    this.#log('opening the store with search: the index builds from the main file');
    const start = performance.now();
    const store = await openSqliteStore({ path: file, search: true, collections: [COLLECTION] });
    let head: number;
    let seconds: number;
    try {
      head = await store.head();
      const through = await waitIndexed(store, head, 30 * 60_000, (at) =>
        this.#log(
          `  still indexing; indexed_through ${at.toLocaleString('en-US')} of ${(head as number).toLocaleString('en-US')}`,
        ),
      );
      if (through < head) throw new Error(`the index reached ${through} of ${head} within 30 minutes`);
      seconds = (performance.now() - start) / 1000;
    } catch (error) {
      await store.close();
      throw error;
    }

    this.#log('ceiling: raw FTS5 build of one contentless table from the same docs, on the main thread');
    const ftsFile = path.join(this.#context.dir, 'raw-fts.sqlite');
    const rawStart = performance.now();
    const fts = openRawFts(ftsFile, file);
    const chunk = 50_000;
    const fill = fts.prepare('INSERT INTO fts (rowid, text) SELECT seq, text FROM m.docs WHERE seq > ? AND seq <= ?');
    for (let from = 0; from < head; from += chunk) fill.run(from, from + chunk);
    const rawSeconds = (performance.now() - rawStart) / 1000;
    fts.close();
    this.#add({
      name: '4. search index catch-up from empty (store open → waitForIndexed(head))',
      value: docs / seconds,
      unit: 'docs/s',
      ceiling: docs / rawSeconds,
      target: atLeast(25_000),
    });
    this.#notes.push(
      `Catch-up: ${docs.toLocaleString('en-US')} docs indexed in ${seconds.toFixed(1)} s (worker start included; the store also fills the 100k-doc hot tier); ceiling = raw INSERT … SELECT into one contentless FTS5 table with the store's tokenizer and prefix options, ${rawSeconds.toFixed(1)} s.`,
    );
    return store;
  }

  async #search(store: SqliteStore, file: string, corpus: Corpus): Promise<void> {
    const c = this.#config;
    const bands: BandWord[] = [
      corpus.wordNear('rare', 0.00005),
      corpus.wordNear('mid', 0.01),
      corpus.wordNear('frequent', 0.1),
      corpus.wordNear('very common', 1),
      ...corpus.prefixQueries(),
    ];
    this.#notes.push(
      `Search bands (word: docs containing it of ${corpus.docs.toLocaleString('en-US')}): ${bands
        .map(
          (b) =>
            `${b.band} \`${b.query}\` ${b.df.toLocaleString('en-US')} (${((100 * b.df) / corpus.docs).toPrecision(2)}%)`,
        )
        .join('; ')}.`,
      `Search: ${c.queries} timed \`store.search('${COLLECTION}', { q, order })\` calls per band and order (k = 8, simple mode) after one untimed round of ${SEARCH_WARMUP_ROUND} calls per band and order before the first band (JIT warm-up; the first band timed used to carry it) and ${c.warmup} warm-up calls per band, one at a time from the main thread (worker round trip included). Ceiling: the same MATCH on the raw FTS5 table on the main thread, ORDER BY rank (relevance) or rowid DESC (recent), LIMIT 8, plus fetching those 8 docs; time-boxed to ${c.ceilingBudgetMs / 1000} s per band (n shown), because bm25 over a very common word scans every doc containing it.`,
    );

    const orders = ['relevance', 'recent'] as const;
    // Steady state, not the JIT's first minutes: timed from the start, whichever band ran first
    // carried the worker's and the main thread's code warming up (rare, run first, had p99
    // 1.5–2.1 ms; run again after the others, 0.35–0.6 ms; measured with the same store).
    for (const band of bands) {
      for (const order of orders) {
        for (let i = 0; i < SEARCH_WARMUP_ROUND; i++) await store.search(COLLECTION, { q: band.query, order });
      }
    }
    const results = new Map<string, ReturnType<typeof summarize>>();
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    for (const band of bands) {
      for (const order of orders) {
        const first = await store.search(COLLECTION, { q: band.query, order });
        if (first.items.length === 0) throw new Error(`search for ${band.query} found nothing`);
        const samples = await sampleLatency(() => store.search(COLLECTION, { q: band.query, order }), {
          warmup: c.warmup,
          count: c.queries,
        });
        results.set(`${band.band}/${order}`, summarize(samples));
      }
    }
    delay.disable();
    const delayP99 = delay.percentile(99) / 1e6;
    this.#notes.push(
      `Event-loop delay during the store searches: p50 ${(delay.percentile(50) / 1e6).toFixed(2)} ms, p99 ${delayP99.toFixed(2)} ms, max ${(delay.max / 1e6).toFixed(1)} ms (monitorEventLoopDelay, 1 ms resolution).`,
    );

    this.#log('ceilings: raw FTS5 queries');
    const ftsFile = path.join(this.#context.dir, 'raw-fts.sqlite');
    const fts = openRawFts(ftsFile, file, false);
    try {
      const fetch = fts.prepare('SELECT * FROM m.docs WHERE seq IN (SELECT value FROM json_each(?))');
      const statements = {
        relevance: fts.prepare('SELECT rowid AS seq FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT 8').pluck(),
        recent: fts.prepare('SELECT rowid AS seq FROM fts WHERE fts MATCH ? ORDER BY rowid DESC LIMIT 8').pluck(),
      };
      for (const band of bands) {
        const expression = band.query.endsWith('*') ? `"${band.query.slice(0, -1)}" *` : `"${band.query}"`;
        for (const order of orders) {
          const statement = statements[order];
          const ceiling = summarize(
            sampleLatencySync(() => fetch.all(JSON.stringify(statement.all(expression))), {
              warmup: 1,
              count: c.queries,
              budgetMs: c.ceilingBudgetMs,
              minCount: 5,
            }),
          );
          const store = results.get(`${band.band}/${order}`);
          if (store === undefined) continue;
          const target = order === 'relevance' ? 10 : 2;
          this.#add({
            name: `4. search ${order} p50, ${band.band}`,
            value: store.p50,
            unit: 'ms',
            ceiling: ceiling.p50,
          });
          this.#add({
            name: `4. search ${order} p99, ${band.band}`,
            value: store.p99,
            unit: 'ms',
            ceiling: ceiling.p99,
            target: atMost(target),
            ...(ceiling.count < c.queries ? { note: `ceiling n=${ceiling.count}` } : {}),
          });
        }
      }
    } finally {
      fts.close();
      removeDbFiles(ftsFile);
    }
    this.#add({
      name: '4. event-loop delay p99 during the searches',
      value: delayP99,
      unit: 'ms',
      target: atMost(10),
    });
  }

  /** Paced inserts with search on: time from each insert's commit until the index covers it. */
  async #lag(store: SqliteStore): Promise<void> {
    const c = this.#config;
    const texts = textPool(10_000, 11);
    const total = c.lagRate * c.lagSeconds;
    this.#log(`projection lag: ${c.lagRate} docs/s for ${c.lagSeconds} s`);
    const lags: number[] = [];
    const waits: Array<Promise<void>> = [];
    const inserts: Array<Promise<void>> = [];
    let sent = 0;
    const delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    const start = performance.now();
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * c.lagRate));
      for (; sent < due; sent++) {
        const sample = sent % 5 === 0;
        inserts.push(
          store.insert(COLLECTION, { text: texts[sent % texts.length] as string }).then(({ seq }) => {
            if (!sample) return;
            const committed = performance.now();
            // Past the 2 s a single waitForIndexed allows, keep waiting: the true lag is the figure.
            waits.push(
              waitIndexed(store, seq, 120_000).then((through) => {
                lags.push(through >= seq ? performance.now() - committed : Number.POSITIVE_INFINITY);
              }),
            );
          }),
        );
      }
      await sleep(1);
    }
    await Promise.all(inserts);
    const achieved = (total * 1000) / (performance.now() - start);
    await Promise.all(waits);
    delay.disable();
    const lag = summarize(lags);
    this.#add({ name: `5. paced ingest rate reached (asked ${c.lagRate}/s)`, value: achieved, unit: 'docs/s' });
    this.#add({ name: `5. projection lag p50 at ${c.lagRate} docs/s asked`, value: lag.p50, unit: 'ms' });
    this.#add({
      name: `5. projection lag p99 at ${c.lagRate} docs/s asked`,
      value: lag.p99,
      unit: 'ms',
      target: atMost(100),
    });
    this.#add({
      name: '5. event-loop delay p99 while ingesting 5,000 docs/s with search on',
      value: delay.percentile(99) / 1e6,
      unit: 'ms',
    });
    this.#notes.push(
      `Projection lag: ${total.toLocaleString('en-US')} inserts paced at ${c.lagRate}/s (achieved ${Math.round(achieved)}/s) into the ${c.corpusDocs.toLocaleString('en-US')}-doc store, so hot-tier eviction is active; every 5th insert sampled (${lag.count} samples), lag = insert promise settled (commit) → waitForIndexed(seq) resolved; max ${lag.max.toFixed(1)} ms.`,
    );
  }

  async #reads(store: SqliteStore, file: string): Promise<void> {
    const c = this.#config;
    this.#log('recent and get');
    const raw = openConnection(file, { readonly: true });
    try {
      const head = raw.prepare('SELECT max(seq) FROM docs').pluck().get() as number;
      const rng = new Rng(99);
      const idOf = raw.prepare('SELECT id FROM docs WHERE seq = ?').pluck();
      const ids: string[] = [];
      while (ids.length < c.reads) {
        const id = idOf.get(1 + rng.int(head)) as string | undefined;
        if (id !== undefined) ids.push(id);
      }
      const recentRaw = raw.prepare('SELECT * FROM docs WHERE collection = ? ORDER BY seq DESC LIMIT 50');
      const getRaw = raw.prepare('SELECT * FROM docs WHERE collection = ? AND id = ?');
      const options = { warmup: 200, count: c.reads };
      const recent = summarize(await sampleLatency(() => store.recent(COLLECTION, { limit: 50 }), options));
      const recentCeiling = summarize(sampleLatencySync(() => recentRaw.all(COLLECTION), options));
      let i = 0;
      const get = summarize(await sampleLatency(() => store.get(COLLECTION, ids[i++ % ids.length] as string), options));
      i = 0;
      const getCeiling = summarize(sampleLatencySync(() => getRaw.get(COLLECTION, ids[i++ % ids.length]), options));
      const size = `${head.toLocaleString('en-US')} docs`;
      this.#add({
        name: `6. recent(limit 50) p50 at ${size}`,
        value: recent.p50,
        unit: 'ms',
        ceiling: recentCeiling.p50,
      });
      this.#add({
        name: `6. recent(limit 50) p99 at ${size}`,
        value: recent.p99,
        unit: 'ms',
        ceiling: recentCeiling.p99,
        target: atMost(1),
      });
      this.#add({ name: `6. get by id p50 at ${size}`, value: get.p50, unit: 'ms', ceiling: getCeiling.p50 });
      this.#add({
        name: `6. get by id p99 at ${size}`,
        value: get.p99,
        unit: 'ms',
        ceiling: getCeiling.p99,
        target: atMost(1),
      });
      this.#notes.push(
        `Reads: ${c.reads} timed calls each after 200 warm-ups; get uses ${c.reads} random existing ids. Ceilings: the prepared SELECT alone (rows not mapped to docs, no read transaction for the cursor).`,
      );
    } finally {
      raw.close();
    }
  }

  // 7: the work queue

  async #claims(): Promise<void> {
    const c = this.#config;
    const texts = textPool(1000, 13);
    const load = async (store: SqliteStore) => {
      for (let done = 0; done < c.claimDocs; done += 1000) {
        await store.insertBatch(
          COLLECTION,
          texts.map((text) => ({ doc: { text } })),
        );
      }
    };

    this.#log(`claims: ${c.claimWorkers} async loops over ${c.claimDocs} pending docs`);
    const loopsFile = this.#newPath('claims-loops');
    const store = await openSqliteStore({ path: loopsFile, search: false, collections: [COLLECTION] });
    let loopsRate: number;
    try {
      await load(store);
      let completed = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: c.claimWorkers }, async (_, worker) => {
          for (;;) {
            const [item] = await store.claim(COLLECTION, { agent: `worker-${worker}` });
            if (item === undefined) return;
            await store.complete(COLLECTION, item.doc.id, item.claim.token);
            completed++;
          }
        }),
      );
      loopsRate = (completed * 1000) / (performance.now() - start);
      if (completed !== c.claimDocs) throw new Error(`completed ${completed} of ${c.claimDocs}`);
    } finally {
      await store.close();
      removeDbFiles(loopsFile);
    }

    this.#log('ceiling: raw claim + complete, one connection, one transaction each');
    const rawFile = this.#newPath('claims-raw');
    const db = openRaw(rawFile, COLLECTION);
    let rawRate: number;
    try {
      const writer = new RawWriter(db, COLLECTION);
      for (let done = 0; done < c.claimDocs; done += 1000) writer.insertBatch(texts);
      const start = performance.now();
      const completed = rawClaimCompleteAll(db, COLLECTION);
      rawRate = (completed * 1000) / (performance.now() - start);
    } finally {
      db.close();
      removeDbFiles(rawFile);
    }
    this.#add({
      name: `7. claim+complete, ${c.claimWorkers} async loops in one process`,
      value: loopsRate,
      unit: 'ops/s',
      ceiling: rawRate,
      target: atLeast(5000),
    });

    await this.#section('7. claim processes', async () => {
      this.#log(`claims: ${c.claimWorkers} processes on one file`);
      const file = this.#newPath('claims-procs');
      const setup = await openSqliteStore({ path: file, search: false, collections: [COLLECTION] });
      await load(setup);
      await setup.close();
      try {
        const result = await claimProcesses(file, c.claimWorkers);
        if (result.errors.length > 0) throw new Error(result.errors.join('; '));
        this.#add({
          name: `7. claim+complete, ${c.claimWorkers} processes on the same file`,
          value: (result.completed * 1000) / result.ms,
          unit: 'ops/s',
          ceiling: rawRate,
          target: atLeast(5000),
          ...(result.busy > 0 ? { note: `${result.busy} store_busy retries` } : {}),
        });
        if (result.completed !== c.claimDocs) throw new Error(`completed ${result.completed} of ${c.claimDocs}`);
      } finally {
        removeDbFiles(file);
      }
    });
    this.#notes.push(
      `Claims: ${c.claimDocs.toLocaleString('en-US')} pending docs, each worker loops claim(limit 1) → complete until nothing is left; ops/s = docs completed per second (one op = claim + complete), search off. Ceiling: one raw connection, claim (SELECT oldest pending + UPDATE + feed row) and complete (UPDATE + feed row) in one IMMEDIATE transaction each; the store can beat it because group commit shares one transaction among the claims (and completes) of all loops that arrive in the same event-loop turn.`,
    );
  }
}

/** Run `workers` child processes claiming from `file` until it is drained. */
async function claimProcesses(
  file: string,
  workers: number,
): Promise<{ completed: number; busy: number; ms: number; errors: string[] }> {
  const script = fileURLToPath(new URL('./lib/claim-worker.ts', import.meta.url));
  const children: ChildProcess[] = [];
  try {
    const ready: Array<Promise<void>> = [];
    const done: Array<Promise<FromClaimWorker & { type: 'done' }>> = [];
    for (let i = 0; i < workers; i++) {
      // The parent's execArgv (--conditions=@dualstore/source --import tsx) lets the child run TypeScript.
      const child = fork(script, [file, COLLECTION, `proc-${i}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const exited = new Promise<never>((_, reject) =>
        child.once('exit', (code) => reject(new Error(`claim worker ${i} exited with code ${code}`))),
      );
      exited.catch(() => undefined);
      ready.push(Promise.race([waitFor(child, 'ready').then(() => undefined), exited]));
      done.push(Promise.race([waitFor(child, 'done') as Promise<FromClaimWorker & { type: 'done' }>, exited]));
    }
    await Promise.all(ready);
    const start = performance.now();
    for (const child of children) child.send({ type: 'go' } satisfies ToClaimWorker);
    const results = await Promise.all(done);
    const ms = performance.now() - start;
    return {
      completed: results.reduce((sum, r) => sum + r.completed, 0),
      busy: results.reduce((sum, r) => sum + r.busy, 0),
      ms,
      errors: results.flatMap((r) => (r.error === undefined ? [] : [r.error])),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

function waitFor(child: ChildProcess, type: FromClaimWorker['type']): Promise<FromClaimWorker> {
  return new Promise((resolve) => {
    const listener = (message: FromClaimWorker) => {
      if (message.type !== type) return;
      child.off('message', listener);
      resolve(message);
    };
    child.on('message', listener);
  });
}

/** Poll waitForIndexed (each call waits at most 2 s) until `seq` is covered or `ms` passed. */
async function waitIndexed(
  store: SqliteStore,
  seq: number,
  ms: number,
  progress?: (through: number) => void,
): Promise<number> {
  const deadline = performance.now() + ms;
  let lastReport = performance.now();
  for (;;) {
    const through = await store.waitForIndexed(seq, 2000);
    if (through >= seq || performance.now() > deadline) return through;
    if (progress !== undefined && performance.now() - lastReport > 10_000) {
      progress(through);
      lastReport = performance.now();
    }
  }
}

/** A raw FTS5 table like the store's full tier, with the corpus file attached as `m`. */
function openRawFts(file: string, mainFile: string, create = true): Database.Database {
  const db = openConnection(file);
  if (create) {
    // The store's options (index-schema.ts), one table, no hot tier.
    db.exec(
      "CREATE VIRTUAL TABLE fts USING fts5(text, content='', contentless_delete=1, prefix='3 4', tokenize='unicode61 remove_diacritics 2')",
    );
  }
  db.prepare('ATTACH DATABASE ? AS m').run(mainFile);
  return db;
}

/**
 * A hash of the given source trees as they are on disk (uncommitted edits included), and for
 * reading, with `git HEAD` and the newest modification time. Only the hash says "same code":
 * HEAD moves with commits that do not touch these trees.
 */
function sourceFingerprint(dirs: readonly string[]): { hash: string; text: string } {
  const root = fileURLToPath(new URL('..', import.meta.url));
  let head = 'unknown';
  try {
    head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the hash alone still identifies the sources.
  }
  const hash = createHash('sha256');
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        hash.update(path.relative(root, full)).update(readFileSync(full));
        newest = Math.max(newest, statSync(full).mtimeMs);
      }
    }
  };
  for (const dir of dirs) walk(path.join(root, dir));
  const digest = hash.digest('hex').slice(0, 12);
  return {
    hash: digest,
    text: `git ${head} + working tree; sha256 of ${dirs.join(', ')} = ${digest} (newest file modified ${new Date(newest).toISOString()})`,
  };
}

function textPool(size: number, seed: number): string[] {
  const corpus = new Corpus({ seed });
  return Array.from({ length: size }, () => corpus.next());
}

function removeDbFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-search', '-search-wal', '-search-shm']) {
    rmSync(`${file}${suffix}`, { force: true });
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}

function round(value: number): string {
  return value >= 100 ? String(Math.round(value)) : value.toFixed(3);
}
