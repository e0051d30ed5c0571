// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers for the SQLite store's tests: temporary database files that are removed after.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the OS temp dir and a function that removes it. */
export function newTempDir(prefix = 'dualstore-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A path for a new database file in a fresh temp dir. */
export function newTestDb(): { path: string; remove: () => void } {
  const { dir, remove } = newTempDir();
  return { path: join(dir, 'store.sqlite'), remove };
}
