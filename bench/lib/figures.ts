// SPDX-License-Identifier: GPL-3.0-or-later
// One measured figure and how it is judged. Every benchmark reports a flat list of these so the
// table, the pass/fail verdicts and bench/RESULTS.md are produced in one place and look alike.

/** What a figure is compared against to say "pass". */
export type Target =
  /** An absolute bound in the figure's own unit, e.g. p99 ≤ 10 ms. */
  | { kind: 'absolute'; cmp: '>=' | '<='; value: number }
  /** A share of the in-run ceiling, e.g. ≥ 0.7 of raw SQLite's rate. */
  | { kind: 'ratio'; cmp: '>='; value: number };

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** The same operation done as directly as possible (raw better-sqlite3), measured in this run. */
  ceiling?: number;
  target?: Target;
  /** Shown after the name, e.g. the sample count or a caveat. */
  note?: string;
}

/** A figure that could not be measured (the feature failed); shown as a row with the reason. */
export interface Failure {
  name: string;
  error: string;
}

export type Row = Figure | Failure;

export function isFailure(row: Row): row is Failure {
  return 'error' in row;
}

/** Latencies: lower is better, so the ratio is "times slower than the ceiling". */
function lowerIsBetter(unit: string): boolean {
  return unit === 'ms' || unit === 'µs' || unit === 's';
}

export function atLeast(value: number): Target {
  return { kind: 'absolute', cmp: '>=', value };
}

export function atMost(value: number): Target {
  return { kind: 'absolute', cmp: '<=', value };
}

export function shareOfCeiling(value: number): Target {
  return { kind: 'ratio', cmp: '>=', value };
}

/** True/false when the figure has a target it can be judged by, undefined otherwise. */
export function passes(figure: Figure): boolean | undefined {
  const target = figure.target;
  if (target === undefined) return undefined;
  if (target.kind === 'ratio') {
    if (figure.ceiling === undefined || figure.ceiling === 0) return undefined;
    return figure.value / figure.ceiling >= target.value;
  }
  return target.cmp === '>=' ? figure.value >= target.value : figure.value <= target.value;
}

export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return `— ${unit}`;
  if (lowerIsBetter(unit)) {
    const digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3;
    return `${value.toFixed(digits)} ${unit}`;
  }
  if (Math.abs(value) >= 1000) return `${Math.round(value).toLocaleString('en-US')} ${unit}`;
  return `${value.toFixed(value >= 10 ? 0 : 1)} ${unit}`;
}

function formatRatio(figure: Figure): string {
  if (figure.ceiling === undefined || figure.ceiling === 0 || !Number.isFinite(figure.value)) return '—';
  if (lowerIsBetter(figure.unit)) return `${(figure.value / figure.ceiling).toFixed(1)}× time`;
  return `${Math.round((figure.value / figure.ceiling) * 100)}%`;
}

function formatTarget(figure: Figure): string {
  const target = figure.target;
  if (target === undefined) return '—';
  const cmp = target.cmp === '>=' ? '≥' : '≤';
  if (target.kind === 'ratio') return `${cmp} ${Math.round(target.value * 100)}% of ceiling`;
  return `${cmp} ${formatValue(target.value, figure.unit)}`;
}

function formatPass(figure: Figure): string {
  const verdict = passes(figure);
  return verdict === undefined ? '—' : verdict ? 'yes' : '**NO**';
}

/** The Markdown table: operation | DualStore | ceiling | ratio | target | pass? */
export function renderTable(rows: readonly Row[]): string {
  const lines = ['| operation | DualStore | ceiling | ratio | target | pass? |', '|---|---:|---:|---:|---|---|'];
  for (const row of rows) {
    if (isFailure(row)) {
      lines.push(`| ${cell(row.name)} | could not run: ${cell(row.error)} | — | — | — | **NO** |`);
      continue;
    }
    const name = row.note === undefined ? row.name : `${row.name} (${row.note})`;
    const ceiling = row.ceiling === undefined ? '—' : formatValue(row.ceiling, row.unit);
    lines.push(
      `| ${cell(name)} | ${formatValue(row.value, row.unit)} | ${ceiling} | ${formatRatio(row)} | ${formatTarget(row)} | ${formatPass(row)} |`,
    );
  }
  return lines.join('\n');
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}
