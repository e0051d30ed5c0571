// SPDX-License-Identifier: GPL-3.0-or-later
// Server-generated ids are UUIDv7 (RFC 9562): time-ordered, so the unique id index grows at its
// right edge (DESIGN §3a.2), and monotonic within a process (the library keeps a counter).

import { uuidv7 } from 'uuidv7';

/** A new time-ordered id, e.g. `019a8f3e-7c1d-7b32-9f0e-3a5b6c7d8e9f`. */
export function newId(): string {
  return uuidv7();
}
