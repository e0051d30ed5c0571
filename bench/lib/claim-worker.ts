// SPDX-License-Identifier: GPL-3.0-or-later
// Child process of the store bench's multi-process claim variant: opens its own store on the
// shared file (its own connection, as a second server or a CLI would), waits for "go", then
// claims and completes until nothing is left, and reports how many it finished.
// argv: <db path> <collection> <agent>

import { openSqliteStore } from './deps.js';

export type ToClaimWorker = { type: 'go' };
export type FromClaimWorker = { type: 'ready' } | { type: 'done'; completed: number; busy: number; error?: string };

const [path, collection, agent] = process.argv.slice(2);
if (path === undefined || collection === undefined || agent === undefined || process.send === undefined) {
  throw new Error('usage: forked with <db path> <collection> <agent>');
}
const send = (message: FromClaimWorker) => process.send?.(message);

const store = await openSqliteStore({ path, search: false, collections: [collection] });
process.once('message', async (message: ToClaimWorker) => {
  if (message.type !== 'go') return;
  let completed = 0;
  let busy = 0;
  let error: string | undefined;
  try {
    for (;;) {
      let items: Awaited<ReturnType<typeof store.claim>>;
      try {
        items = await store.claim(collection, { agent });
      } catch (caught) {
        // Another process held the write lock past the busy timeout: count it and try again.
        if ((caught as { code?: unknown }).code === 'store_busy') {
          busy++;
          continue;
        }
        throw caught;
      }
      const item = items[0];
      if (item === undefined) break;
      for (;;) {
        try {
          await store.complete(collection, item.doc.id, item.claim.token);
          break;
        } catch (caught) {
          if ((caught as { code?: unknown }).code !== 'store_busy') throw caught;
          busy++;
        }
      }
      completed++;
    }
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  send({ type: 'done', completed, busy, ...(error === undefined ? {} : { error }) });
  await store.close();
  process.disconnect();
});
send({ type: 'ready' });
