// SPDX-License-Identifier: GPL-3.0-or-later
// `pnpm bench <name> [--quick] [--soak]`: runs bench/<name>.ts against files in a fresh temporary
// directory, prints its table on stdout, records it in bench/RESULTS.md and removes the
// directory, also when the bench fails or is interrupted.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { renderTable } from './lib/figures.js';
import { type Bench, describeMachine, renderSection, writeSection } from './lib/report.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Every bench by name, so a scratch script dropped into bench/ is never run by mistake. A bench
 * is `bench/<name>.ts` exporting `run` (see lib/report.ts); listed ones whose file does not exist
 * yet are shown as planned.
 */
const BENCHES: Record<string, string> = {
  store: 'the SQLite store against raw better-sqlite3 on the same schema (DESIGN §3a)',
  http: 'the HTTP server (REST + SSE) end to end',
  cli: 'the CLI in local and remote mode',
};

/** The SQLite version the store runs on (its better-sqlite3), for benches that do not report one. */
function storeSqliteVersion(): string {
  const require = createRequire(path.join(here, '../packages/store-sqlite/package.json'));
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  const db = new Database(':memory:');
  try {
    return db.prepare('SELECT sqlite_version()').pluck().get() as string;
  } finally {
    db.close();
  }
}

function available(name: string): boolean {
  return Object.hasOwn(BENCHES, name) && existsSync(path.join(here, `${name}.ts`));
}

function usage(message: string): never {
  const lines = Object.entries(BENCHES).map(
    ([name, what]) => `  ${name.padEnd(8)} ${what}${available(name) ? '' : ' (planned, not written yet)'}`,
  );
  process.stderr.write(
    `${message}\nusage: pnpm bench <name> [--quick] [--soak]\nknown benches:\n${lines.join('\n')}\n`,
  );
  process.exit(2);
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
// --soak: long-running checks (minutes), for benches that have them; never run by CI.
const soak = args.includes('--soak');
const unknownFlags = args.filter((arg) => arg.startsWith('-') && arg !== '--quick' && arg !== '--soak');
const names = args.filter((arg) => !arg.startsWith('-'));
if (unknownFlags.length > 0) usage(`unknown option ${unknownFlags.join(' ')}`);
const name = names[0];
if (name === undefined || names.length > 1) usage('give exactly one bench name');
if (!Object.hasOwn(BENCHES, name)) usage(`unknown bench "${name}"`);
if (!available(name)) usage(`bench "${name}" is planned but not written yet`);

const dir = mkdtempSync(path.join(os.tmpdir(), `dualstore-bench-${name}-`));
const cleanup = () => rmSync(dir, { recursive: true, force: true });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanup();
    process.exit(130);
  });
}

const started = Date.now();
const log = (message: string) => {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${seconds}s] ${message}\n`);
};

let exitCode = 0;
try {
  const entry = pathToFileURL(path.join(here, `${name}.ts`)).href;
  const bench = (await import(entry)) as Bench;
  log(`bench ${name}${quick ? ' (quick)' : ''}${soak ? ' (soak)' : ''}, files in ${dir}`);
  const report = await bench.run({ quick, soak, dir, log });
  const flags = `${quick ? ' --quick' : ''}${soak ? ' --soak' : ''}`;
  const command = `pnpm bench ${name}${flags}`;
  const machine = describeMachine(report.sqliteVersion ?? storeSqliteVersion());
  const section = renderSection({
    command,
    date: new Date(started),
    machine,
    durationS: (Date.now() - started) / 1000,
    report,
  });
  process.stdout.write(`\n${renderTable(report.rows)}\n\n`);
  for (const note of report.notes) process.stdout.write(`- ${note}\n`);
  const results = path.join(here, 'RESULTS.md');
  writeSection(results, `${name}${quick ? '-quick' : ''}${soak ? '-soak' : ''}`, section);
  log(`recorded in ${path.relative(process.cwd(), results)}`);
} catch (error) {
  exitCode = 1;
  process.stderr.write(
    `bench ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
} finally {
  cleanup();
  if (existsSync(dir)) log(`could not remove ${dir}`);
}
// Worker threads or child processes a failed bench left behind must not keep the run alive.
process.exit(exitCode);
