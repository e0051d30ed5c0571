// SPDX-License-Identifier: GPL-3.0-or-later
// Server-generated ids are UUIDv7 (RFC 9562): time-ordered, so the unique id index grows at its
// right edge (DESIGN §3a.2), and monotonic within a process (the library keeps a counter).

import { V7Generator } from 'uuidv7';

/**
 * Random words for ids from `crypto.getRandomValues`, fetched 1,024 at a time. The library's
 * default fetches 8, one call every few ids: ~1.3% of the server's time under 50 inserting
 * connections (measured).
 */
class PooledRandom {
  readonly #pool = new Uint32Array(1024);
  #next = this.#pool.length;

  nextUint32(): number {
    if (this.#next >= this.#pool.length) {
      crypto.getRandomValues(this.#pool);
      this.#next = 0;
    }
    return this.#pool[this.#next++] as number;
  }
}

const generator = new V7Generator(new PooledRandom());

/** A new time-ordered id, e.g. `019a8f3e-7c1d-7b32-9f0e-3a5b6c7d8e9f`. */
export function newId(): string {
  return generator.generate().toString();
}
