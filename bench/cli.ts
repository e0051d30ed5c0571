// SPDX-License-Identifier: GPL-3.0-or-later
// `pnpm bench cli [--quick]`: the wall time of one `dualstore push` in local mode, spawned as a
// process the way an agent's tool call runs it, against `node -e 0` on the same machine, the
// two interleaved run by run so load changes hit both alike. Target (issue 5): ≤ 1.5× node -e 0.
//
// What is spawned is what the package ships: `bin/dualstore.cjs` → `dist/launch.cjs` →
// `dist/dualstore.cjs`, built by the package's own bundle script into this run's directory, with
// the V8 code cache in the run directory (the first warm-up run writes it, as an agent's first
// call would). `dualstore --version` loads the same bundle and does nothing else, so push minus
// version is what the command itself costs (open the file, insert, close).

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { installCli } from '../packages/cli/scripts/bundle.js';
import { atMost, type Row } from './lib/figures.js';
import type { BenchContext, BenchReport } from './lib/report.js';
import { percentile } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const CLI_MAIN = path.join(root, 'packages/cli/src/main.ts');

interface Config {
  runs: number;
  warmup: number;
  referenceRuns: number;
}

const FULL: Config = { runs: 40, warmup: 3, referenceRuns: 10 };
const QUICK: Config = { runs: 15, warmup: 2, referenceRuns: 3 };

/** Wall time of one process from spawn to exit, in ms; throws when it fails. */
function timeProcess(args: readonly string[], env: Record<string, string>, okCodes: readonly number[] = [0]): number {
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  const elapsed = performance.now() - started;
  if (result.status === null || !okCodes.includes(result.status)) {
    throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr.slice(0, 300)}`);
  }
  return elapsed;
}

/**
 * The least any Node program that stores a doc in SQLite does: load better-sqlite3, open the file
 * in WAL mode, insert one row with a random id, close. Written beside the installed CLI so it
 * loads the same better-sqlite3.
 */
const FLOOR_SCRIPT = `
const Database = require('better-sqlite3');
const db = new Database(process.env.FLOOR_DB);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, text TEXT NOT NULL)');
db.prepare('INSERT INTO docs (id, text) VALUES (?, ?)').run(require('node:crypto').randomUUID(), 'build finished');
db.close();
`;

function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const config = context.quick ? QUICK : FULL;
  const rows: Row[] = [];
  const notes: string[] = [];
  const installDir = path.join(context.dir, 'cli');
  const bin = await installCli(installDir);
  context.log(`built the CLI package into ${installDir}`);
  const db = path.join(context.dir, 'bench.sqlite');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: context.dir,
    XDG_CACHE_HOME: path.join(context.dir, 'cache'),
    DUALSTORE_DB: db,
  };
  const uncached = { ...env, NODE_DISABLE_COMPILE_CACHE: '1' };
  const floorScript = path.join(installDir, 'floor.cjs');
  writeFileSync(floorScript, FLOOR_SCRIPT);
  const floorEnv = { ...env, FLOOR_DB: path.join(context.dir, 'floor.sqlite') };
  const nodeArgs = ['-e', '0'];
  const pushArgs = [bin, 'push', 'bench', '--body', 'build finished for @alice', '--meta', '{"repo":"x"}'];
  const versionArgs = [bin, '--version'];
  const pullArgs = [bin, 'pull', 'bench', '--claim', '--agent', '@bench'];

  // The first push creates and migrates the file and writes the code cache; warm-ups also warm
  // the page cache for both.
  for (let i = 0; i < config.warmup; i++) {
    timeProcess(nodeArgs, env);
    timeProcess(pushArgs, env);
  }
  const node: number[] = [];
  const push: number[] = [];
  const version: number[] = [];
  const pull: number[] = [];
  const pushUncached: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < config.runs; i++) {
    // Interleaved, and the order alternates, so drift and bursts of load fall on both sides.
    if (i % 2 === 0) {
      node.push(timeProcess(nodeArgs, env));
      push.push(timeProcess(pushArgs, env));
    } else {
      push.push(timeProcess(pushArgs, env));
      node.push(timeProcess(nodeArgs, env));
    }
    version.push(timeProcess(versionArgs, env));
    floor.push(timeProcess([floorScript], floorEnv));
    pull.push(timeProcess(pullArgs, env, [0, 3]));
    if (i < config.referenceRuns) pushUncached.push(timeProcess(pushArgs, uncached));
  }
  context.log(`timed ${config.runs} interleaved runs`);
  const tsx: number[] = [];
  for (let i = 0; i < config.referenceRuns; i++) {
    tsx.push(
      timeProcess(['--conditions=@dualstore/source', '--import', 'tsx', CLI_MAIN, 'push', 'bench', '--body', 'x'], {
        ...env,
        NODE_PATH: '',
      }),
    );
  }

  const nodeMedian = median(node);
  rows.push({ name: '`node -e 0`, median', value: nodeMedian, unit: 'ms', note: `${config.runs} runs` });
  rows.push({ name: '`node -e 0`, p90', value: percentile(node, 90), unit: 'ms' });
  rows.push({
    name: '`dualstore push` local, median',
    value: median(push),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.runs} runs`,
  });
  rows.push({
    name: '`dualstore push` local, p90',
    value: percentile(push, 90),
    unit: 'ms',
    ceiling: percentile(node, 90),
  });
  rows.push({
    name: '`dualstore push` / `node -e 0`, medians',
    value: median(push) / nodeMedian,
    unit: '×',
    target: atMost(1.5),
  });
  rows.push({
    name: 'floor: plain better-sqlite3 script, one insert with a random id, median',
    value: median(floor),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.runs} runs`,
  });
  rows.push({
    name: 'floor / `node -e 0`, medians (the least a SQLite-backed push can be)',
    value: median(floor) / nodeMedian,
    unit: '×',
  });
  rows.push({
    name: '`dualstore --version` (loading the CLI only), median',
    value: median(version),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.runs} runs`,
  });
  rows.push({
    name: '`dualstore pull --claim` local, median',
    value: median(pull),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.runs} runs, after each push`,
  });
  rows.push({
    name: '`dualstore push` without the code cache, median (reference)',
    value: median(pushUncached),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${pushUncached.length} runs, NODE_DISABLE_COMPILE_CACHE=1`,
  });
  rows.push({
    name: '`dualstore push` from the TypeScript sources through tsx (reference)',
    value: median(tsx),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.referenceRuns} runs`,
  });
  notes.push(
    'Wall time from spawn to exit (spawnSync), interleaved with `node -e 0` run by run on the same machine; each push inserts one doc into a SQLite file in the run directory (WAL, synchronous=NORMAL, search index off: a push never starts the index workers).',
    "What runs is the installed layout: the package's `bin/dualstore.cjs`, and `dist/` as `pnpm build` writes it (packages/cli/scripts/bundle.ts: one minified CommonJS bundle run through a V8 code cache kept under XDG_CACHE_HOME). `--version` loads the same bundle and stops, so push − version is the command's own work: opening the file, one insert, closing.",
    'The floor row is a 7-line CommonJS script using the same better-sqlite3: open the file (WAL), create a table if missing, insert one row with crypto.randomUUID(), close — what any Node program that writes a doc to SQLite pays before doing anything DualStore does (validation, the change feed, mentions, claims).',
    'The uncached row turns the code cache off (as a first-ever run or an unwritable cache directory would); the tsx row runs the TypeScript sources as the repository does without a build — it compiles on the fly and is not what agents should run.',
  );
  return { rows, notes };
}
