// SPDX-License-Identifier: GPL-3.0-or-later
// Worker thread that answers searches (DESIGN §3a.5): bm25 over a common word and the doc
// fetches run here, never on the event loop, and never behind an indexing batch (the indexer has
// its own thread). Requests are answered one at a time, in order.

import { parentPort, workerData } from 'node:worker_threads';
import { type FromSearcher, type SearcherOptions, type ToSearcher, toPlainError } from './protocol.js';
import { Searcher, SearchSyntaxError } from './searcher.js';

const port = parentPort;
if (port === null) throw new Error('searcher-worker.ts must run in a worker thread');
const post = (message: FromSearcher) => port.postMessage(message);

let searcher: Searcher | undefined;

port.on('message', (message: ToSearcher) => {
  if (message.type === 'open') {
    try {
      searcher = new Searcher(workerData as SearcherOptions);
    } catch (error) {
      // Uncaught on purpose: the thread ends and whoever awaits it (open(), search()) rejects.
      throw toPlainError(error);
    }
    post({ type: 'ready' });
    return;
  }
  if (message.type === 'close') {
    searcher?.close();
    process.exit(0);
  }
  try {
    if (searcher === undefined) throw new Error('search before open');
    post({ type: 'result', id: message.id, ...searcher.search(message.request) });
  } catch (error) {
    const syntax = error instanceof SearchSyntaxError;
    const text = error instanceof Error ? error.message : String(error);
    post({ type: 'error', id: message.id, code: syntax ? 'bad_search_syntax' : 'internal', message: text });
  }
});
