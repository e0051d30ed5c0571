// SPDX-License-Identifier: GPL-3.0-or-later
// The child side of the proofs' processes: one JSON object per stdout line, commands as JSON
// lines on stdin, and no orphans — a child exits as soon as its parent closes stdin or dies.

import { createInterface } from 'node:readline';

/** Print one event line. Writes to a pipe are synchronous on Linux: once this returns, the line is the parent's. */
export function emit(line: { ev: string } & Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const pending: string[] = [];
let wake: (() => void) | undefined;
const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  pending.push(line);
  wake?.();
});
input.on('close', () => process.exit(0));

/** The next command line from the parent, parsed as JSON. */
export async function nextCommand<T>(): Promise<T> {
  while (pending.length === 0) await new Promise<void>((resolve) => (wake = resolve));
  wake = undefined;
  return JSON.parse(pending.shift() as string) as T;
}

/** Yield to the event loop `turns` times (a pause with no timer). */
export async function yieldTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
