// SPDX-License-Identifier: GPL-3.0-or-later
// The clock the SSE publisher and the fleet's processes share: milliseconds since the epoch with
// sub-millisecond resolution (each process's timeOrigin is taken from the same system clock), so
// a send time stamped in one process can be subtracted in another.

import { performance } from 'node:perf_hooks';

export function sharedNow(): number {
  return performance.timeOrigin + performance.now();
}
