// SPDX-License-Identifier: GPL-3.0-or-later
// Worker thread that runs the Indexer (DESIGN §3a.3): batches until caught up, then waits for a
// `notify` from the main thread or POLL_MS, whichever comes first. The poll is what picks up
// commits by another process (the CLI) on the same main file, which never notify us.
// An uncaught error ends the thread; the main thread sees it and restarts the worker.

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Indexer, type StepResult } from './indexer.js';
import { type FromIndexer, type IndexerOptions, type ToIndexer, toPlainError } from './protocol.js';

/** Fallback check of the feed when no notification came (DESIGN §3: within 250 ms). */
const POLL_MS = 250;

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

  const indexer = new Indexer(workerData as IndexerOptions);
  port.on('message', (message: ToIndexer) => {
    if (message.type === 'close') closing = true;
    else if (message.type === 'rebuild') indexer.requestRebuild(message.id);
    dirty = true;
    wake?.();
  });

  let reported = indexer.indexedThrough;
  post({ type: 'ready', indexedThrough: reported });

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
    if (result.rebuilt.length > 0) {
      reported = result.indexedThrough;
      post({ type: 'rebuilt', ids: result.rebuilt, indexedThrough: reported });
    } else if (result.indexedThrough !== reported) {
      reported = result.indexedThrough;
      post({ type: 'progress', indexedThrough: reported });
    }
    if (result.more) {
      // Let notify/rebuild/close messages in between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    } else if (!dirty && !closing) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, POLL_MS);
        function done(): void {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    }
  }

  indexer.close();
  process.exit(0);
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}
