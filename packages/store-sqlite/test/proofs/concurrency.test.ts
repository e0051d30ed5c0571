// SPDX-License-Identifier: GPL-3.0-or-later
// Claims across OS processes (DESIGN §4 "Claim semantics", §3 change feed): several processes
// claim from one file at once under schedules drawn by fast-check, and the outcome is checked
// twice over — by replaying the change feed and from the workers' own logs. Two claimers never
// hold a doc at once (a takeover only after the lease ran out, and the stale holder is fenced
// off), every doc is completed exactly once, and the feed stays gapless under concurrent writers.

import type { Change } from '@dualstore/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/index.js';
import { newTestDb } from '../helpers.js';
import { type Child, type ChildLine, killAllChildren, startChild } from './child-process.js';
import { claimHistory, claimIntervals, feedGaps, logsMatchFeed, readFeed } from './queue-checks.js';
import type { ClaimJob, InsertJob, Job } from './queue-worker.js';

/** Worker processes, started once and reused by every run (starting one costs ~1.5 s of CPU). */
const POOL = 5;
const COLLECTION = 'agent_tasks';
/** As in queue-worker.ts: failures and takeovers never exhaust a doc. */
const MAX_ATTEMPTS = 1000;

let pool: Child[] = [];

/** Start the pool, or start it again after a failed run left workers in an unknown state. */
async function ensurePool(): Promise<void> {
  if (pool.length === POOL) return;
  pool = Array.from({ length: POOL }, () => startChild('queue-worker.ts'));
  await Promise.all(pool.map((worker) => worker.next('loaded')));
}

beforeAll(ensurePool, 120_000);

afterAll(killAllChildren);

/** Run one job per worker, all released at once after every store is open; returns the workers' lines. */
async function runJobs(jobs: readonly Job[]): Promise<ChildLine[]> {
  await ensurePool();
  const workers = pool.slice(0, jobs.length);
  const starts = workers.map((worker) => worker.lines.length);
  const since = (worker: Child, i: number) => worker.lines.slice(starts[i]);
  const errors = () => workers.flatMap((worker, i) => since(worker, i).filter((line) => line.ev === 'error'));
  // Each worker reaching `ev`; any worker's error ends the wait at once (the others may be stuck behind it).
  const reached = (ev: string) =>
    Promise.all(
      workers.map((worker, i) =>
        worker.waitFor(() => errors().length > 0 || since(worker, i).some((line) => line.ev === ev), `"${ev}"`, 90_000),
      ),
    );
  try {
    for (const [i, worker] of workers.entries()) worker.send(jobs[i]);
    await reached('opened');
    for (const worker of workers) worker.send({ cmd: 'go' });
    await reached('done');
    expect(errors(), 'a worker failed').toEqual([]);
    for (const worker of workers) expect(worker.garbage, 'non-JSON output from a worker').toEqual([]);
  } catch (error) {
    pool = [];
    await killAllChildren();
    throw error;
  }
  return workers.flatMap((worker, i) => since(worker, i));
}

/** A fresh file with `docs` pending tasks. */
async function seededDb(docs: number): Promise<{ path: string; remove: () => void }> {
  const db = newTestDb();
  const store = await openSqliteStore({ path: db.path, search: false });
  try {
    if (docs > 0) {
      await store.insertBatch(
        COLLECTION,
        Array.from({ length: docs }, (_, i) => ({ doc: { text: `task ${i}`, max_attempts: MAX_ATTEMPTS } })),
      );
    }
  } finally {
    await store.close();
  }
  return db;
}

/** Read the file back after a run and check the feed and the claim history of every task. */
async function verify(
  path: string,
  lines: readonly ChildLine[],
  tasks: number,
): Promise<{ changes: Change[]; takeovers: number }> {
  const store = await openSqliteStore({ path, search: false });
  try {
    const { changes, head } = await readFeed(store);
    expect(feedGaps(changes, head), 'the feed read back has gaps or duplicates').toEqual([]);
    // Two independent views: the feed replayed, and the workers' own logs (and the two agree).
    const history = claimHistory(changes, COLLECTION);
    const logs = claimIntervals(lines);
    expect({
      feed: history.problems,
      logs: logs.problems,
      logsVersusFeed: logsMatchFeed(lines, history.claims),
    }).toEqual({ feed: [], logs: [], logsVersusFeed: [] });
    // Both views must count the same takeovers (claims of a doc whose holder had not finished).
    expect(logs.takeovers).toBe(history.expiredTakeovers);
    const stats = await store.stats(COLLECTION);
    expect(stats.counts).toEqual({ pending: 0, processing: 0, completed: tasks, failed: 0 });
    expect(stats.total).toBe(tasks);
    return { changes, takeovers: history.expiredTakeovers + logs.lost };
  } finally {
    await store.close();
  }
}

/** A probability in whole percent: fc.double would favour values like 1e-300. */
const percent = (min: number, max: number) => fc.integer({ min, max }).map((p) => p / 100);

const claimWorker = (leaseMs: fc.Arbitrary<number>, stallProb: fc.Arbitrary<number>) =>
  fc.record({
    limit: fc.integer({ min: 1, max: 5 }),
    leaseMs,
    releaseProb: percent(0, 25),
    failProb: percent(0, 25),
    pauseMax: fc.integer({ min: 0, max: 40 }),
    stallProb,
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });

type WorkerParams = Omit<ClaimJob, 'cmd' | 'path' | 'agent' | 'expected'>;

const claimJobs = (path: string, expected: number, workers: readonly WorkerParams[]): ClaimJob[] =>
  workers.map((params, i) => ({ cmd: 'claim', path, agent: `worker-${i}`, expected, ...params }));

// Shrinking would rerun whole multi-process runs; the failing schedule and seed are reported as is.
const RUN = { endOnFailure: true } as const;

describe('claims from several processes at once', () => {
  it('with live leases, no doc is ever held by two claimers and every doc is completed exactly once', {
    timeout: 240_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 50, max: 150 }),
        fc.array(claimWorker(fc.integer({ min: 30_000, max: 120_000 }), fc.constant(0)), {
          minLength: 3,
          maxLength: POOL,
        }),
        async (docs, workers) => {
          const db = await seededDb(docs);
          try {
            const lines = await runJobs(claimJobs(db.path, docs, workers));
            const { takeovers } = await verify(db.path, lines, docs);
            // Leases of 30 s and more never run out here: no overlap, no refused action at all.
            expect(takeovers, 'a claim overlapped a live lease').toBe(0);
          } finally {
            db.remove();
          }
        },
      ),
      { ...RUN, numRuns: 5 },
    );
  });

  it('with short leases, a doc is taken over only after its lease ran out and the stale holder is fenced off', {
    timeout: 240_000,
  }, async () => {
    let takeovers = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 50, max: 100 }),
        fc.array(claimWorker(fc.integer({ min: 100, max: 250 }), percent(3, 10)), { minLength: 3, maxLength: POOL }),
        async (docs, workers) => {
          const db = await seededDb(docs);
          try {
            const lines = await runJobs(claimJobs(db.path, docs, workers));
            takeovers += (await verify(db.path, lines, docs)).takeovers;
          } finally {
            db.remove();
          }
        },
      ),
      { ...RUN, numRuns: 3 },
    );
    // Workers stall past their leases, so takeovers must have happened: the rule above was exercised.
    expect(takeovers).toBeGreaterThan(0);
  });

  it('with processes inserting while others claim, the feed has no gap or duplicate and holds every insert once', {
    timeout: 240_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 20, max: 60 }),
        fc.array(claimWorker(fc.constant(60_000), fc.constant(0)), { minLength: 2, maxLength: 3 }),
        fc.array(
          fc
            .record({
              count: fc.integer({ min: 30, max: 100 }),
              taskShare: percent(30, 100),
              inFlight: fc.integer({ min: 1, max: 8 }),
              batchMax: fc.integer({ min: 1, max: 10 }),
              seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
            })
            .map(({ taskShare, ...rest }) => ({ ...rest, tasks: Math.round(rest.count * taskShare) })),
          { minLength: 1, maxLength: 2 },
        ),
        async (initial, claimers, inserters) => {
          const db = await seededDb(initial);
          try {
            const tasks = initial + inserters.reduce((sum, job) => sum + job.tasks, 0);
            const inserts: InsertJob[] = inserters.map((params, i) => ({
              cmd: 'insert',
              path: db.path,
              agent: `inserter-${i}`,
              ...params,
            }));
            const lines = await runJobs([...claimJobs(db.path, tasks, claimers), ...inserts]);
            const { changes, takeovers } = await verify(db.path, lines, tasks);
            expect(takeovers, 'a claim overlapped a live lease').toBe(0);

            const bySeq = new Map(changes.map((change) => [change.seq, change]));
            const printed = lines.filter((line) => line.ev === 'insert');
            expect(printed.length).toBe(inserters.reduce((sum, job) => sum + job.count, 0));
            for (const line of printed) {
              const change = bySeq.get(line.seq as number);
              expect(
                { kind: change?.kind, id: change?.doc?.id, collection: change?.collection },
                `insert ${line.id} @ ${line.seq} by ${line.agent}`,
              ).toEqual({ kind: 'insert', id: line.id, collection: line.collection });
            }
            const insertEntries = changes.filter((change) => change.kind === 'insert');
            const ids = insertEntries.map((change) => `${change.collection}/${change.doc?.id}`);
            expect(new Set(ids).size, 'a doc inserted twice in the feed').toBe(ids.length);
            expect(insertEntries.length).toBe(initial + printed.length);
          } finally {
            db.remove();
          }
        },
      ),
      { ...RUN, numRuns: 3 },
    );
  });
});
