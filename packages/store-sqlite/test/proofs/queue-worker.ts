// SPDX-License-Identifier: GPL-3.0-or-later
// Child for concurrency.test.ts: one long-lived process that runs one job per command, so a
// property with several runs pays the process start once. Jobs:
//   claim  — claim from `agent_tasks` until `expected` docs are finished, completing, releasing
//            or failing each claimed doc, with pauses of a few event-loop turns in between;
//   insert — insert `count` docs with `inFlight` writes outstanding (single inserts or batches).
// Every step is printed as one JSON line: claim/complete/release/fail/lost/insert/error.
// Protocol: `{ cmd, path, … }` → opens the store, prints `opened`; `{ cmd: 'go' }` → runs the
// job, closes the store, prints `done`. Import only types from this file: it runs on import.

import { DualStoreError } from '@dualstore/core';
import { openSqliteStore, type SqliteStore } from '../../src/index.js';
import { emit, nextCommand, yieldTurns } from './child-io.js';

export interface ClaimJob {
  cmd: 'claim';
  path: string;
  agent: string;
  seed: number;
  /** Finish once this many docs of `agent_tasks` are completed or failed. */
  expected: number;
  limit: number;
  leaseMs: number;
  releaseProb: number;
  failProb: number;
  /** Up to this many event-loop turns before acting on each claimed doc. */
  pauseMax: number;
  /** Chance of stalling instead, until the claim's lease has run out, so another worker may take the doc over. */
  stallProb: number;
}

export interface InsertJob {
  cmd: 'insert';
  path: string;
  agent: string;
  seed: number;
  /** Docs to insert; `tasks` of them into `agent_tasks`, the rest into `events`. */
  count: number;
  tasks: number;
  inFlight: number;
  /** Largest batch (1 = single inserts only). */
  batchMax: number;
}

export type Job = ClaimJob | InsertJob;

const COLLECTION = 'agent_tasks';
/** High enough that failures and takeovers never exhaust a doc: every doc must end completed. */
const MAX_ATTEMPTS = 1000;

/** mulberry32: a small seeded PRNG, so a worker's choices repeat for a given seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function codeOf(error: unknown): string | undefined {
  return error instanceof DualStoreError ? error.code : undefined;
}

/** Run `operation`, retrying while the file is locked by another process for longer than the busy timeout. */
async function unlocked<T>(operation: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (codeOf(error) !== 'store_busy') throw error;
      emit({ ev: 'busy' });
    }
  }
}

async function claimLoop(store: SqliteStore, job: ClaimJob): Promise<void> {
  const rand = random(job.seed);
  let idle = false;
  for (;;) {
    const items = await unlocked(() =>
      store.claim(COLLECTION, { agent: job.agent, limit: job.limit, leaseMs: job.leaseMs, waitMs: idle ? 250 : 0 }),
    );
    if (items.length === 0) {
      const { counts } = await store.stats(COLLECTION);
      if (counts.completed + counts.failed >= job.expected) return;
      idle = true;
      continue;
    }
    idle = false;
    for (const { doc, claim } of items) {
      emit({
        ev: 'claim',
        agent: job.agent,
        id: doc.id,
        token: claim.token,
        version: doc.version,
        attempts: doc.attempts,
        expiresAt: claim.expires_at,
        leaseMs: job.leaseMs,
      });
    }
    // Act on the claimed docs in a random order.
    const order = items.map((item) => ({ item, key: rand() })).sort((a, b) => a.key - b.key);
    for (const { item } of order) {
      const { doc, claim } = item;
      if (rand() < job.stallProb) {
        // The scenario itself, not a wait for a race: a worker that hangs until its lease is gone.
        const expired = Date.parse(claim.expires_at) + 20;
        while (Date.now() < expired) await new Promise((resolve) => setTimeout(resolve, expired - Date.now()));
      } else {
        await yieldTurns(Math.floor(rand() * (job.pauseMax + 1)));
      }
      const roll = rand();
      const action =
        roll < job.releaseProb
          ? 'release'
          : roll < job.releaseProb + job.failProb && doc.attempts < doc.max_attempts
            ? 'fail'
            : 'complete';
      try {
        const after = await unlocked(() =>
          action === 'release'
            ? store.release(COLLECTION, doc.id, claim.token)
            : action === 'fail'
              ? store.fail(COLLECTION, doc.id, { token: claim.token, error: 'proof says fail', retryInMs: 0 })
              : store.complete(COLLECTION, doc.id, claim.token),
        );
        emit({
          ev: action,
          agent: job.agent,
          id: doc.id,
          token: claim.token,
          version: after.version,
          status: after.status,
        });
      } catch (error) {
        const code = codeOf(error);
        if (code !== 'lease_lost' && code !== 'already_finished') throw error;
        emit({ ev: 'lost', agent: job.agent, id: doc.id, token: claim.token, action, code });
      }
    }
  }
}

async function insertLoop(store: SqliteStore, job: InsertJob): Promise<void> {
  const rand = random(job.seed);
  let next = 0;
  const lane = async () => {
    while (next < job.count) {
      const size = Math.min(job.count - next, 1 + Math.floor(rand() * job.batchMax));
      const first = next;
      next += size;
      const docs = Array.from({ length: size }, (_, i) => ({
        collection: first + i < job.tasks ? COLLECTION : 'events',
        doc: { text: `${job.agent} #${first + i}`, max_attempts: MAX_ATTEMPTS },
      }));
      // A batch is per collection; split one that spans the boundary.
      for (const collection of [COLLECTION, 'events']) {
        const part = docs.filter((d) => d.collection === collection);
        if (part.length === 0) continue;
        const single = part.length === 1 && rand() < 0.5 ? part[0] : undefined;
        const results =
          single !== undefined
            ? [await unlocked(() => store.insert(collection, single.doc))]
            : await unlocked(() =>
                store.insertBatch(
                  collection,
                  part.map((d) => ({ doc: d.doc })),
                ),
              );
        for (const result of results)
          emit({ ev: 'insert', agent: job.agent, collection, id: result.id, seq: result.seq });
      }
    }
  };
  await Promise.all(Array.from({ length: job.inFlight }, lane));
}

emit({ ev: 'loaded' });
for (;;) {
  const job = await nextCommand<Job>();
  const store = await openSqliteStore({ path: job.path, search: false, pollIntervalMs: 10, busyTimeoutMs: 30_000 });
  emit({ ev: 'opened', agent: job.agent });
  await nextCommand<{ cmd: 'go' }>();
  try {
    if (job.cmd === 'claim') await claimLoop(store, job);
    else await insertLoop(store, job);
  } catch (error) {
    emit({ ev: 'error', agent: job.agent, code: codeOf(error), message: String(error) });
  }
  await store.close();
  emit({ ev: 'done', agent: job.agent });
}
