// SPDX-License-Identifier: GPL-3.0-or-later
// Crash safety (DESIGN §3 "never reused", §3a.6, §4 "Durability"): with the default durability a
// process crash loses nothing acknowledged. A child inserts with several inserts in flight (so
// group commit batches them) and prints each id + seq after its promise resolved; it is SIGKILLed
// at a random moment, 50 times against one file, and after every kill the file is opened afresh
// (SQLite recovers the WAL) and checked.

import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/index.js';
import { newTestDb } from '../helpers.js';
import { type Child, killAllChildren, startChild } from './child-process.js';

const KILLS = 50;
/**
 * Children loading (tsx + sources take ~1.5 s of CPU) while the current one runs, so the 50
 * kills cost little more than the loading itself. A spare only loads modules: it opens the
 * file after `go`, so each recovery below runs with no other connection open.
 */
const SPARES = 3;

interface Step {
  /** Kill once this many inserts were acknowledged. */
  killAfter: number;
  /** Inserts kept outstanding: the size of each group commit. */
  inFlight: number;
  /** Text padding up to this many bytes, to reach WAL auto-checkpoints. */
  padMax: number;
}

interface FileState {
  integrity: string;
  /** id → seq of every doc in `events`. */
  docs: Map<string, number>;
  /** seq → doc id of every insert entry in the feed. */
  inserts: Map<number, string>;
  feedRows: number;
  feedMin: number;
  feedMax: number;
  /** `sqlite_sequence` for the feed: the highest seq ever committed. */
  head: number;
}

/** Open the file directly (the first connection after the crash recovers the WAL) and read it. */
function inspect(path: string): FileState {
  const db = new Database(path);
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const docs = new Map(
      (
        db.prepare("SELECT id, seq FROM docs WHERE collection = 'events'").all() as Array<{ id: string; seq: number }>
      ).map((row) => [row.id, row.seq]),
    );
    const inserts = new Map(
      (
        db.prepare("SELECT seq, doc_id FROM changes WHERE kind = 'insert'").all() as Array<{
          seq: number;
          doc_id: string;
        }>
      ).map((row) => [row.seq, row.doc_id]),
    );
    const feed = db
      .prepare('SELECT COUNT(*) AS n, COALESCE(MIN(seq), 0) AS lo, COALESCE(MAX(seq), 0) AS hi FROM changes')
      .get() as { n: number; lo: number; hi: number };
    const head =
      (db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").pluck().get() as number | undefined) ?? 0;
    return { integrity, docs, inserts, feedRows: feed.n, feedMin: feed.lo, feedMax: feed.hi, head };
  } finally {
    db.close();
  }
}

let cleanup: (() => void) | undefined;

afterEach(async () => {
  await killAllChildren();
  cleanup?.();
  cleanup = undefined;
});

it(`SIGKILL at ${KILLS} random moments loses no acknowledged insert, keeps the file intact and never reuses a seq`, {
  timeout: 180_000,
}, async () => {
  const db = newTestDb();
  cleanup = db.remove;
  // Migrate once up front, so every child starts on a ready file.
  await (await openSqliteStore({ path: db.path, search: false })).close();

  const seed = Number(process.env.PROOF_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const plan: Step[] = fc.sample(
    fc.record({
      killAfter: fc.integer({ min: 5, max: 200 }),
      inFlight: fc.integer({ min: 1, max: 16 }),
      padMax: fc.constantFrom(0, 300, 6000),
    }),
    { numRuns: KILLS, seed },
  );

  const spares: Child[] = [];
  let spawned = 0;
  const refill = () => {
    while (spares.length < SPARES && spawned < KILLS) {
      spares.push(startChild('crash-inserter.ts', { args: [db.path] }));
      spawned++;
    }
  };
  refill();

  /** seq → id of every acknowledged insert, across all runs. */
  const acknowledged = new Map<number, string>();
  let previousHead = 0;
  let previousLastAck = 0;
  for (const [run, step] of plan.entries()) {
    const where = `(PROOF_SEED=${seed}, run ${run}, ${JSON.stringify(step)})`;
    const child = spares.shift();
    if (child === undefined) throw new Error('no spare child left');
    refill();
    await child.next('loaded');
    child.send({ inFlight: step.inFlight, padMax: step.padMax });
    const acks = () => child.lines.filter((line) => line.ev === 'ack');
    await child.waitFor(() => acks().length >= step.killAfter, `${step.killAfter} acks ${where}`);
    const exit = await child.kill();

    expect(exit.signal, `the child died of something other than our SIGKILL ${where}\n${child.stderr}`).toBe('SIGKILL');
    expect(child.garbage, `non-JSON output ${where}`).toEqual([]);
    expect(child.truncated, `a torn output line ${where}`).toBe('');
    const ready = child.lines.find((line) => line.ev === 'ready');
    expect(ready?.head, `the file changed between runs ${where}`).toBe(previousHead);

    const printed = acks().map((line) => ({ id: line.id as string, seq: line.seq as number }));
    const seqs = printed.map((ack) => ack.seq);
    // Seqs are never reused: not one acknowledged before, nor one committed but unacknowledged.
    expect(Math.min(...seqs), `a seq at or below the last printed one ${where}`).toBeGreaterThan(previousLastAck);
    expect(Math.min(...seqs), `a seq at or below the recovered head ${where}`).toBeGreaterThan(previousHead);
    for (const ack of printed) {
      expect(acknowledged.get(ack.seq), `seq ${ack.seq} issued twice ${where}`).toBeUndefined();
      acknowledged.set(ack.seq, ack.id);
    }

    let state: FileState;
    try {
      state = inspect(db.path);
    } catch (error) {
      throw new Error(`the file cannot be read back after the kill ${where}: ${String(error)}`, { cause: error });
    }
    expect(state.integrity, `integrity_check ${where}`).toBe('ok');
    // Every acknowledged insert of every run so far survived, with the seq it was given.
    for (const [seq, id] of acknowledged) {
      if (state.docs.get(id) !== seq || state.inserts.get(seq) !== id) {
        expect.fail(
          `acknowledged insert ${id} @ ${seq} is ${state.docs.has(id) ? `at seq ${state.docs.get(id)}` : 'missing'} after the kill ${where}`,
        );
      }
    }
    // The feed is whole: no gap, nothing but the inserts, and its head is the highest committed seq.
    expect({ min: state.feedMin, max: state.feedMax, rows: state.feedRows }, `feed gap ${where}`).toEqual({
      min: state.feedRows === 0 ? 0 : 1,
      max: state.feedRows,
      rows: state.feedRows,
    });
    expect(state.inserts.size, `feed rows that are not inserts ${where}`).toBe(state.feedRows);
    expect(state.docs.size, `docs without a feed entry ${where}`).toBe(state.feedRows);
    expect(state.head, `head ${where}`).toBe(state.feedMax);
    expect(state.head, `head below an acknowledged seq ${where}`).toBeGreaterThanOrEqual(Math.max(...seqs));

    previousHead = state.head;
    previousLastAck = Math.max(...seqs);
  }

  // The store itself reads the survivor back: every acknowledged doc, and a gapless feed.
  const store = await openSqliteStore({ path: db.path, search: false });
  try {
    expect(await store.head()).toBe(previousHead);
    const seen: number[] = [];
    for (let after = 0; after < previousHead; ) {
      const page = await store.changes(after);
      seen.push(...page.changes.map((change) => change.seq));
      after = page.next;
    }
    expect(seen).toEqual(Array.from({ length: previousHead }, (_, i) => i + 1));
    const [seq, id] = [...acknowledged].at(-1) ?? [0, ''];
    expect((await store.get('events', id))?.seq).toBe(seq);
  } finally {
    await store.close();
  }
});
