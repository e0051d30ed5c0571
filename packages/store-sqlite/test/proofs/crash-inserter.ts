// SPDX-License-Identifier: GPL-3.0-or-later
// Child for crash.test.ts: loads, says `loaded`, waits for `{ inFlight, padMax }` on stdin, then
// inserts forever with `inFlight` inserts outstanding (so group commit batches them) and prints
// `{ ev: 'ack', id, seq }` for each insert only after its promise resolved, i.e. after the commit.
// The parent SIGKILLs it at a random moment.

import { openSqliteStore } from '../../src/index.js';
import { emit, nextCommand } from './child-io.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: crash-inserter <db-path>');
emit({ ev: 'loaded' });
const { inFlight, padMax } = await nextCommand<{ inFlight: number; padMax: number }>();
const store = await openSqliteStore({ path, search: false });
emit({ ev: 'ready', head: await store.head() });

/** Bounds a run the parent forgot to kill. */
const MAX_INSERTS = 50_000;
let started = 0;
async function lane(): Promise<void> {
  while (started < MAX_INSERTS) {
    const n = started++;
    // Varying sizes grow the WAL past its auto-checkpoint now and then, so some kills land there.
    const pad = 'x'.repeat((n * 7919) % (padMax + 1));
    const { id, seq } = await store.insert('events', { text: `crash ${process.pid} #${n} ${pad}` });
    emit({ ev: 'ack', id, seq });
  }
}
await Promise.all(Array.from({ length: inFlight }, lane));
emit({ ev: 'exhausted' });
process.exit(0);
