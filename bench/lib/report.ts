// SPDX-License-Identifier: GPL-3.0-or-later
// What a benchmark hands back, the machine it ran on, and bench/RESULTS.md upkeep: each command
// (`store`, `store --quick`, later `http`, `cli`) owns one section of the file, replaced on every
// run, so the file always shows the latest figures of each command side by side.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { type Row, renderTable } from './figures.js';

export interface BenchContext {
  /** `--quick`: a smaller corpus so the whole run takes a few minutes. */
  quick: boolean;
  /** `--soak`: long-running stability checks instead of the regular figures (never in CI). */
  soak?: boolean;
  /** A fresh temporary directory for this run's files; the dispatcher removes it afterwards. */
  dir: string;
  /** Progress line on stderr (stdout carries only the result). */
  log: (message: string) => void;
}

export interface BenchReport {
  rows: Row[];
  /** Facts needed to read the table: corpus sizes, document frequencies, caveats. */
  notes: string[];
  /** e.g. `select sqlite_version()` of the driver the bench used. */
  sqliteVersion?: string;
}

export interface Bench {
  run(context: BenchContext): Promise<BenchReport>;
}

export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  node: string;
  sqlite: string;
  platform: string;
}

export function describeMachine(sqlite: string): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    sqlite,
    platform: `${os.platform()} ${os.release()}`,
  };
}

export function renderSection(options: {
  command: string;
  date: Date;
  machine: Machine;
  durationS: number;
  report: BenchReport;
}): string {
  const { machine, report } = options;
  const lines = [
    `## \`${options.command}\``,
    '',
    `- Date: ${options.date.toISOString()}`,
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.ramGiB} GiB RAM, ${machine.platform}`,
    `- Node ${machine.node}, SQLite ${machine.sqlite}`,
    `- Command: \`${options.command}\` (took ${Math.round(options.durationS)} s)`,
    '',
    renderTable(report.rows),
    '',
  ];
  if (report.notes.length > 0) {
    lines.push('Notes:', '', ...report.notes.map((note) => `- ${note}`), '');
  }
  return lines.join('\n');
}

const HEADER = `# Benchmark results

Written by \`pnpm bench <name> [--quick]\` (bench/run.ts). Each command owns one section below,
replaced by its next run; anything outside the markers is left alone. Ceilings are measured in the
same run on the same machine, so compare a figure with its own ceiling rather than across runs.
Ratios: for rates, DualStore as a share of the ceiling; for latencies, how many times the
ceiling's time DualStore takes.
`;

/** Replace (or append) the section of `key` in `file`. */
export function writeSection(file: string, key: string, section: string): void {
  const begin = `<!-- bench:${key} -->`;
  const end = `<!-- /bench:${key} -->`;
  const block = `${begin}\n${section.trimEnd()}\n${end}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? current.slice(0, from) + block + current.slice(to + end.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}
