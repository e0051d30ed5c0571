// SPDX-License-Identifier: GPL-3.0-or-later
// Telling lock contention (another connection or process holding a lock) from real failures,
// in the worker threads, which cannot import @dualstore/core's coded errors.

/** SQLITE_BUSY / SQLITE_LOCKED and their extended codes: retry later, it is not a bug. */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}
