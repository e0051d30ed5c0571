// SPDX-License-Identifier: GPL-3.0-or-later
// When the indexer thread checkpoints the main file's WAL: after enough feed changes, or after
// the interval when fewer came, and never when nothing was written.

import fs from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import { WalCheckpointer } from '../../src/search/wal-checkpointer.js';
import { createTestDb, insertDocs, type TestDb } from './helpers.js';

let t: TestDb | undefined;
let checkpointer: WalCheckpointer | undefined;
afterEach(() => {
  checkpointer?.close();
  t?.cleanup();
});

test('checkpoints after enough changes or after the interval, copying the WAL into the main file', () => {
  t = createTestDb();
  t.db.pragma('wal_autocheckpoint = 0');
  let now = 1_000_000;
  checkpointer = new WalCheckpointer(t.dbPath, { intervalMs: 1000, changesPerCheckpoint: 100, now: () => now });
  const mainSize = () => fs.statSync((t as TestDb).dbPath).size;

  expect(checkpointer.maybeCheckpoint(0)).toBe(false);

  // Fewer changes than the threshold within the interval: wait.
  const before = mainSize();
  insertDocs(
    t.db,
    'events',
    Array.from({ length: 50 }, (_, i) => `doc ${i} ${'x'.repeat(400)}`),
  );
  now += 10;
  expect(checkpointer.maybeCheckpoint(50)).toBe(false);
  expect(mainSize()).toBe(before);
  // The threshold reached: checkpoint now, and the pages reach the main file.
  insertDocs(
    t.db,
    'events',
    Array.from({ length: 50 }, (_, i) => `more ${i} ${'x'.repeat(400)}`),
  );
  expect(checkpointer.maybeCheckpoint(50)).toBe(true);
  const afterFirst = mainSize();
  expect(afterFirst).toBeGreaterThan(before);

  // A few changes, then the interval passes: the next call (a poll wake-up) checkpoints them.
  insertDocs(
    t.db,
    'events',
    Array.from({ length: 20 }, (_, i) => `late ${i} ${'x'.repeat(400)}`),
  );
  expect(checkpointer.maybeCheckpoint(20)).toBe(false);
  now += 999;
  expect(checkpointer.maybeCheckpoint(0)).toBe(false);
  now += 1;
  expect(checkpointer.maybeCheckpoint(0)).toBe(true);
  expect(mainSize()).toBeGreaterThan(afterFirst);
  // Counted work is consumed by the checkpoint: nothing written since, no checkpoint however
  // long it has been.
  now += 5000;
  expect(checkpointer.maybeCheckpoint(0)).toBe(false);
});
