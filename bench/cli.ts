// SPDX-License-Identifier: GPL-3.0-or-later
// `pnpm bench cli [--quick]`: the wall time of one `dualstore push` in local mode, spawned as a
// process the way an agent's tool call runs it, against `node -e 0` on the same machine, the
// two interleaved run by run so load changes hit both alike. Target (issue 5): ≤ 1.5× node -e 0.
//
// What is spawned: the CLI bundled by esbuild into this run's temp directory (one ESM entry plus
// lazily loaded chunks; better-sqlite3 stays external because it is native). That is what an
// installed CLI should ship (`dist/` is plain tsc output today, one file per module, which costs
// extra module resolution); running the TypeScript sources through tsx compiles on the fly and
// is shown only as a reference, not judged.

import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { atMost, type Row } from './lib/figures.js';
import type { BenchContext, BenchReport } from './lib/report.js';
import { percentile } from './lib/stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const CLI_MAIN = path.join(root, 'packages/cli/src/main.ts');

/** Modules only `serve` (or remote mode) loads: left out of the bundle so it builds without their optional deps. */
const SERVER_ONLY = [
  'fastify',
  '@fastify/*',
  'fastify-type-provider-zod',
  'standardwebhooks',
  '@octokit/*',
  'yaml',
  'eventsource-parser',
];

interface Config {
  runs: number;
  /** Runs of the stage-by-stage probe. */
  probeRuns: number;
  warmup: number;
  referenceRuns: number;
}

const FULL: Config = { runs: 40, warmup: 3, referenceRuns: 5, probeRuns: 15 };
const QUICK: Config = { runs: 15, warmup: 2, referenceRuns: 3, probeRuns: 7 };

/** How both the CLI and the probe are bundled, so the probe's stages cost what the CLI's do. */
const BUNDLE: BuildOptions = {
  bundle: true,
  splitting: true,
  // Minified: V8 compiles ESM sources eagerly enough that parse/compile of the ~0.8 MB
  // unminified zod + core + store chunk is the largest single cost of a push (profiled).
  minify: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  conditions: ['@dualstore/source'],
  // commander is CommonJS; its bundled `require('node:events')` needs a real `require` in ESM.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'error',
};

/** Bundle the CLI into `dir` and make better-sqlite3 resolvable from there. Returns the entry file. */
async function bundle(dir: string): Promise<string> {
  const outdir = path.join(dir, 'cli-bundle');
  await build({ ...BUNDLE, entryPoints: { main: CLI_MAIN }, outdir, external: ['better-sqlite3', ...SERVER_ONLY] });
  const storeRequire = createRequire(path.join(root, 'packages/store-sqlite/package.json'));
  const sqliteDir = path.dirname(storeRequire.resolve('better-sqlite3/package.json'));
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  symlinkSync(sqliteDir, path.join(dir, 'node_modules', 'better-sqlite3'), 'dir');
  return path.join(outdir, 'main.js');
}

/**
 * A probe bundled like the CLI that loads a push's dependencies stage by stage and prints how
 * long each took, so the table says where a push's time goes (module loading vs the write).
 */
const PROBE = `
const marks = [];
let last = performance.now();
const mark = (name) => { const now = performance.now(); marks.push([name, now - last]); last = now; };
await import('commander'); mark('commander');
await import(${JSON.stringify(path.join(root, 'packages/cli/src/run.ts'))}); mark('cli modules');
await import('zod'); mark('zod');
await import(${JSON.stringify(path.join(root, 'packages/core/src/index.ts'))}); mark('core');
await import('better-sqlite3'); mark('better-sqlite3');
const { openSqliteStore } = await import(${JSON.stringify(path.join(root, 'packages/store-sqlite/src/index.ts'))}); mark('store-sqlite');
const store = await openSqliteStore({ path: process.env.DUALSTORE_DB, search: false }); mark('open the file');
await store.insert('events', { text: 'probe', topic: 'bench' }); mark('insert');
await store.close(); mark('close');
process.stdout.write(JSON.stringify(marks));
`;

async function bundleProbe(dir: string): Promise<string> {
  const source = path.join(dir, 'probe-src.ts');
  writeFileSync(source, PROBE);
  const outdir = path.join(dir, 'cli-bundle');
  await build({
    ...BUNDLE,
    entryPoints: { probe: source },
    outdir,
    external: ['better-sqlite3'],
    // The probe sits outside the packages; resolve their dependencies from where they live.
    nodePaths: ['cli', 'core', 'store-sqlite'].map((name) => path.join(root, 'packages', name, 'node_modules')),
  });
  return path.join(outdir, 'probe.js');
}

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

function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const config = context.quick ? QUICK : FULL;
  const rows: Row[] = [];
  const notes: string[] = [];
  const entry = await bundle(context.dir);
  context.log(`bundled the CLI into ${path.dirname(entry)}`);
  const db = path.join(context.dir, 'bench.sqlite');
  const env = { PATH: process.env.PATH ?? '', HOME: context.dir, DUALSTORE_DB: db };
  const nodeArgs = ['-e', '0'];
  const pushArgs = [entry, 'push', 'bench', '--body', 'build finished for @alice', '--meta', '{"repo":"x"}'];
  const pullArgs = [entry, 'pull', 'bench', '--claim', '--agent', '@bench'];

  // The first push creates and migrates the file; warm-ups also warm the page cache for both.
  for (let i = 0; i < config.warmup; i++) {
    timeProcess(nodeArgs, env);
    timeProcess(pushArgs, env);
  }
  const node: number[] = [];
  const push: number[] = [];
  const pull: number[] = [];
  for (let i = 0; i < config.runs; i++) {
    // Interleaved, and the order alternates, so drift and bursts of load fall on both sides.
    if (i % 2 === 0) {
      node.push(timeProcess(nodeArgs, env));
      push.push(timeProcess(pushArgs, env));
    } else {
      push.push(timeProcess(pushArgs, env));
      node.push(timeProcess(nodeArgs, env));
    }
    pull.push(timeProcess(pullArgs, env, [0, 3]));
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

  const probe = await bundleProbe(context.dir);
  const stages = new Map<string, number[]>();
  for (let i = 0; i < config.probeRuns; i++) {
    const result = spawnSync(process.execPath, [probe], { env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`the probe failed: ${result.stderr.slice(0, 300)}`);
    for (const [name, ms] of JSON.parse(result.stdout) as [string, number][]) {
      stages.set(name, [...(stages.get(name) ?? []), ms]);
    }
  }

  const nodeMedian = median(node);
  rows.push({ name: '`node -e 0`, median', value: nodeMedian, unit: 'ms', note: `${config.runs} runs` });
  rows.push({ name: '`node -e 0`, p90', value: percentile(node, 90), unit: 'ms' });
  rows.push({
    name: '`dualstore push` local, bundled, median',
    value: median(push),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.runs} runs`,
  });
  rows.push({
    name: '`dualstore push` local, bundled, p90',
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
    name: '`dualstore pull --claim` local, bundled, median',
    value: median(pull),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.runs} runs, after each push`,
  });
  rows.push({
    name: '`dualstore push` through tsx (reference, not judged)',
    value: median(tsx),
    unit: 'ms',
    ceiling: nodeMedian,
    note: `${config.referenceRuns} runs`,
  });
  for (const [name, samples] of stages) {
    rows.push({
      name: `where a push's time goes: ${name}`,
      value: median(samples),
      unit: 'ms',
      note: 'median, in-process',
    });
  }
  notes.push(
    'Wall time from spawn to exit (spawnSync), interleaved with `node -e 0` run by run on the same machine; each push inserts one doc into a SQLite file in the run directory (WAL, synchronous=NORMAL, search index off: a push never starts the index workers).',
    "The 'where a push's time goes' rows come from a probe bundled the same way that imports a push's dependencies one by one, then opens the file, inserts and closes, timing each step inside the process (medians); they add up to most of the difference between a push and `node -e 0`.",
    'The CLI is bundled by esbuild (ESM, code splitting, minified, target node20) into the run directory, better-sqlite3 external (native) and server-only packages external (never loaded by push). The tsx row runs the TypeScript sources as the repository does without a build; it compiles on the fly and is not what agents should run.',
  );
  return { rows, notes };
}
