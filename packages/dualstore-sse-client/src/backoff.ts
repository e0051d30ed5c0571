// SPDX-License-Identifier: GPL-3.0-or-later
// Reconnect and retry delays: exponential backoff with full jitter (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): a random delay in [0, min(cap, base × 2^attempt)), so many
// clients dropped by one server restart do not come back in one wave.

/**
 * The delay before retry number `attempt` (0 for the first retry).
 * @example
 * backoffDelay(0, 3000, 30_000); // somewhere in [0, 3000)
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number): number {
  return Math.floor(Math.random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30)));
}

/**
 * Wait `ms`, or less when `signal` aborts. Resolves either way (true when it slept the whole
 * time) and leaves no timer or listener behind.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (full: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(full);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort);
  });
}
