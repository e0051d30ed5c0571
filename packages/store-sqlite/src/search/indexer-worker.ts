// SPDX-License-Identifier: GPL-3.0-or-later
// Worker thread that runs the Indexer (DESIGN §3a.3): batches until caught up, then waits for a
// `notify` from the main thread or `pollMs`, whichever comes first. The poll is what picks up
// commits by another process (the CLI) on the same main file, which never notify us.
// An uncaught error ends the thread; the main thread sees it and restarts the worker.

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Indexer, type StepResult } from './indexer.js';
import { type FromIndexer, type IndexerWorkerData, type ToIndexer, toPlainError } from './protocol.js';
import { isBusy } from './sqlite-busy.js';
import { WalCheckpointer } from './wal-checkpointer.js';

if (parentPort === null) throw new Error('indexer-worker.ts must run in a worker thread');
const port: MessagePort = parentPort;
const post = (message: FromIndexer) => port.postMessage(message);

try {
  await run();
} catch (error) {
  // Ends the thread; the main thread reports it and starts a new indexer after a backoff.
  throw toPlainError(error);
}

async function run(): Promise<void> {
  let closing = false;
  let dirty = false;
  let wake: (() => void) | undefined;

  const data = workerData as IndexerWorkerData;
  const indexer = new Indexer(data);
  // Woken by the store's commits anyway, this thread also keeps their checkpoints off the event
  // loop (wal-checkpointer.ts).
  const checkpointer = new WalCheckpointer(data.dbPath);
  port.on('message', (message: ToIndexer) => {
    if (message.type === 'close') closing = true;
    else if (message.type === 'rebuild') indexer.requestRebuild(message.id);
    dirty = true;
    wake?.();
  });

  let reported = indexer.indexedThrough;
  post({ type: 'ready', indexedThrough: reported });

  // The wake-up flag (IndexerWorkerData.readPending) is 1 while a feed read is still ahead: the
  // store posts `notify` only when it finds 0. While reads keep finding work the indexer reads
  // again anyway, so it leaves the flag set and a busy store posts nothing. Only a read that
  // found nothing clears it, and one more read follows the clear, so a commit made after the
  // last read is either in that read or sees 0 and posts.
  while (!closing) {
    dirty = false;
    let result: StepResult;
    try {
      result = indexer.step();
    } catch (error) {
      // Another process holding a lock past the busy timeout is weather, not a bug: try again later.
      if (!isBusy(error)) throw error;
      result = { indexedThrough: reported, more: false, rebuilt: [] };
    }
    const moved = result.indexedThrough !== reported;
    // Feed entries this step covered (a build's steps report 0 until done): the WAL's growth.
    const covered = Math.max(0, result.indexedThrough - reported);
    if (result.rebuilt.length > 0) {
      reported = result.indexedThrough;
      post({ type: 'rebuilt', ids: result.rebuilt, indexedThrough: reported });
    } else if (moved) {
      reported = result.indexedThrough;
      post({ type: 'progress', indexedThrough: reported });
    }
    // After the progress report: a checkpoint's syncs must not delay search visibility.
    checkpointer.maybeCheckpoint(covered);
    if (moved && !result.more && data.lingerMs > 0) {
      // A live batch went in: let the next commits gather for a moment, so they share one index
      // transaction instead of each paying its own commit and FTS5 segment (see lingerMs).
      await new Promise<void>((resolve) => setTimeout(resolve, data.lingerMs));
    } else if (result.more || moved || Atomics.exchange(data.readPending, 0, 0) === 1) {
      // More to do, or maybe: read again, letting notify/rebuild/close messages in first.
      await new Promise<void>((resolve) => setImmediate(resolve));
    } else if (!dirty && !closing) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, data.pollMs);
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  }

  checkpointer.close();
  indexer.close();
  process.exit(0);
}
