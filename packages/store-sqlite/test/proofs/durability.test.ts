// SPDX-License-Identifier: GPL-3.0-or-later
// The durability setting does what DESIGN §3a.6 / §4 "Durability" say: `normal` is WAL with
// synchronous=NORMAL (no sync per commit), `full` syncs the WAL at every commit, and group
// commit makes concurrent writes share one sync. Syncs are counted with strace on a real child.

import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/index.js';
import { newTempDir } from '../helpers.js';
import { killAllChildren, startChild } from './child-process.js';

const N = 50;
const SYNC_CALLS = ['fsync', 'fdatasync'] as const;

let cleanup: (() => void) | undefined;

afterEach(async () => {
  await killAllChildren();
  cleanup?.();
  cleanup = undefined;
});

function tempDir(): string {
  const { dir, remove } = newTempDir('dualstore-durability-');
  cleanup = remove;
  // strace -y prints resolved paths.
  return realpathSync(dir);
}

describe('durability setting', () => {
  it('reads back as synchronous=NORMAL (1) or FULL (2), in WAL mode', async () => {
    const dir = tempDir();
    const cases = [
      { durability: undefined, synchronous: 1 },
      { durability: 'normal', synchronous: 1 },
      { durability: 'full', synchronous: 2 },
    ] as const;
    for (const [i, { durability, synchronous }] of cases.entries()) {
      const path = join(dir, `pragma-${i}.sqlite`);
      const store = await openSqliteStore({ path, search: false, ...(durability === undefined ? {} : { durability }) });
      try {
        expect(store.database.pragma('synchronous', { simple: true }), `durability ${durability}`).toBe(synchronous);
        expect(store.database.pragma('journal_mode', { simple: true }), `durability ${durability}`).toBe('wal');
      } finally {
        await store.close();
      }
      // WAL is a property of the file: another connection sees it too.
      const other = new Database(path);
      try {
        expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        other.close();
      }
    }
  });
});

interface SyncCall {
  pid: number;
  call: string;
  path: string;
}

interface Trace {
  /** Sync calls by name, from strace's summary table. */
  summary: Map<string, number>;
  summaryTotal: number;
  /** Every sync call, in order, with the path of its file descriptor (`-y`). */
  calls: SyncCall[];
  /** Syncs of the WAL between the two marker fsyncs, i.e. caused by the inserts. */
  walSyncsDuringInserts: number;
}

/** Parse `strace -f -C -y` output: the per-call lines and the summary table at the end. */
function parseTrace(text: string, markerBegin: string, markerEnd: string, walPath: string): Trace {
  const calls: SyncCall[] = [];
  for (const match of text.matchAll(/^(\d+)\s+(fsync|fdatasync)\(\d+<([^>]*)>\)\s+=\s+0$/gm)) {
    calls.push({ pid: Number(match[1]), call: match[2] as string, path: match[3] as string });
  }
  const summary = new Map<string, number>();
  const lines = text.split('\n');
  const header = lines.findIndex((line) => /^% time\s+seconds\s+usecs\/call\s+calls\s+errors\s+syscall/.test(line));
  if (header < 0) throw new Error(`no strace summary table in:\n${text.slice(-2000)}`);
  let summaryTotal = -1;
  for (const line of lines.slice(header + 2)) {
    if (line.startsWith('------')) continue;
    const parts = line.trim().split(/\s+/);
    const name = parts.at(-1);
    const calls = Number(parts[3]);
    if (name === 'total') {
      summaryTotal = calls;
      break;
    }
    if (name !== undefined && Number.isInteger(calls)) summary.set(name, calls);
  }
  const begin = calls.findIndex((call) => call.path === markerBegin);
  const end = calls.findIndex((call) => call.path === markerEnd);
  if (begin < 0 || end < begin) throw new Error(`marker fsyncs missing from the trace:\n${text.slice(-2000)}`);
  const walSyncsDuringInserts = calls.slice(begin + 1, end).filter((call) => call.path === walPath).length;
  return { summary, summaryTotal, calls, walSyncsDuringInserts };
}

function requireStrace(): void {
  const probe = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      'strace is not installed, and the durability proof counts fsyncs with it: install the Debian package ' +
        '`strace` (scripts/test-all.sh does so when it is missing).',
    );
  }
}

/** Run `n` inserts in a child under strace and return its sync calls. */
async function tracedInserts(
  dir: string,
  durability: 'normal' | 'full',
  mode: 'sequential' | 'concurrent',
): Promise<Trace> {
  const db = join(dir, `${durability}-${mode}.sqlite`);
  // Created and migrated here, so the child only opens it.
  await (await openSqliteStore({ path: db, durability, search: false })).close();
  const traceFile = join(dir, `${durability}-${mode}.strace`);
  const markerBegin = join(dir, `${durability}-${mode}.begin`);
  const markerEnd = join(dir, `${durability}-${mode}.end`);
  const child = startChild('sync-inserter.ts', {
    args: [db, durability, mode, String(N), markerBegin, markerEnd],
    // --seccomp-bpf: only the traced calls stop the child, so tracing costs nothing elsewhere.
    wrapper: ['strace', '-f', '-C', '-y', '--seccomp-bpf', '-e', `trace=${SYNC_CALLS.join(',')}`, '-o', traceFile],
  });
  const done = await child.next('done');
  const exit = await child.closed;
  expect(exit, child.stderr).toEqual({ code: 0, signal: null });
  expect(done.seqs, 'every insert was acknowledged with its own seq').toHaveLength(N);
  expect(new Set(done.seqs as number[]).size).toBe(N);
  const trace = parseTrace(readFileSync(traceFile, 'utf8'), markerBegin, markerEnd, `${db}-wal`);
  // The table and the call lines agree, so neither parse missed anything.
  const summed = SYNC_CALLS.reduce((sum, call) => sum + (trace.summary.get(call) ?? 0), 0);
  expect(trace.summaryTotal, 'strace summary total').toBe(summed);
  expect(trace.calls.length, 'sync lines against the summary table').toBe(summed);
  return trace;
}

describe('syncs counted with strace', () => {
  it(`full syncs the WAL at each of ${N} sequential commits, normal hardly ever, and ${N} concurrent inserts share a sync`, {
    timeout: 120_000,
  }, async () => {
    requireStrace();
    const dir = tempDir();
    const [full, normal, fullConcurrent] = await Promise.all([
      tracedInserts(dir, 'full', 'sequential'),
      tracedInserts(dir, 'normal', 'sequential'),
      tracedInserts(dir, 'full', 'concurrent'),
    ]);
    const report = JSON.stringify({
      full: { wal: full.walSyncsDuringInserts, total: full.summaryTotal },
      normal: { wal: normal.walSyncsDuringInserts, total: normal.summaryTotal },
      fullConcurrent: { wal: fullConcurrent.walSyncsDuringInserts, total: fullConcurrent.summaryTotal },
    });

    // FULL: every acknowledged commit was synced first.
    expect(full.walSyncsDuringInserts, report).toBeGreaterThanOrEqual(N);
    expect(full.summaryTotal, report).toBeGreaterThanOrEqual(N);
    // NORMAL: the WAL is synced at checkpoints only, not per commit.
    expect(normal.walSyncsDuringInserts, report).toBeLessThan(N / 5);
    expect(normal.summaryTotal, report).toBeLessThan(full.summaryTotal / 5);
    // Group commit: inserts issued in one tick share a transaction, hence one sync.
    expect(fullConcurrent.walSyncsDuringInserts, report).toBeGreaterThanOrEqual(1);
    expect(fullConcurrent.walSyncsDuringInserts, report).toBeLessThan(N / 10);
    expect(fullConcurrent.summaryTotal, report).toBeLessThan(full.summaryTotal / 5);
  });
});
