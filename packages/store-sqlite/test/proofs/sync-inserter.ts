// SPDX-License-Identifier: GPL-3.0-or-later
// Child for durability.test.ts, run under strace: `n` inserts with the given durability, either
// one after another (each awaited) or all at once in one tick (group commit). The inserts are
// bracketed by an fsync of two marker files, so the trace shows which syncs they caused.

import { closeSync, fsyncSync, openSync } from 'node:fs';
import { openSqliteStore } from '../../src/index.js';
import { emit } from './child-io.js';

const [path, durability, mode, count, markerBegin, markerEnd] = process.argv.slice(2);
if (
  path === undefined ||
  (durability !== 'normal' && durability !== 'full') ||
  (mode !== 'sequential' && mode !== 'concurrent') ||
  markerBegin === undefined ||
  markerEnd === undefined
) {
  throw new Error('usage: sync-inserter <db> normal|full sequential|concurrent <n> <marker-begin> <marker-end>');
}
const n = Number(count);

function mark(file: string): void {
  const fd = openSync(file, 'w');
  fsyncSync(fd);
  closeSync(fd);
}

const store = await openSqliteStore({ path, durability, search: false });
mark(markerBegin);
const seqs: number[] = [];
if (mode === 'sequential') {
  for (let i = 0; i < n; i++) seqs.push((await store.insert('events', { text: `sync ${i}` })).seq);
} else {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => store.insert('events', { text: `sync ${i}` })));
  seqs.push(...results.map((result) => result.seq));
}
mark(markerEnd);
await store.close();
emit({ ev: 'done', seqs });
process.exit(0);
