// SPDX-License-Identifier: GPL-3.0-or-later
// Starting the search workers both from compiled `dist/*.js` and from TypeScript sources (vitest,
// tsx). On Node 20 a worker does not inherit the parent's module hooks and `--import tsx` in
// `execArgv` does not apply to the worker's entry file (measured: "Unknown file extension .ts"),
// so from sources a tiny CommonJS bootstrap loads tsx's API inside the worker and imports the
// `.ts` entry through `tsImport`.

import { Worker } from 'node:worker_threads';

const FROM_SOURCES = new URL(import.meta.url).pathname.endsWith('.ts');

// Runs as the worker's (CommonJS) main script; `workerData` is shared with the real entry, which
// ignores the two bootstrap keys.
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
import(workerData.tsxApi).then((api) => api.tsImport(workerData.tsEntry, workerData.tsEntry)).catch((error) => {
  process.nextTick(() => { throw error; });
});
`;

/** A worker running `./<name>.js` (or `.ts` from sources) beside this module. */
export function startWorker(name: 'indexer-worker' | 'searcher-worker', data: object): Worker {
  if (!FROM_SOURCES) return new Worker(new URL(`./${name}.js`, import.meta.url), { workerData: data });
  const tsEntry = new URL(`./${name}.ts`, import.meta.url).href;
  // The ESM build of the API: resolving through `require` would pick its CommonJS build, which
  // cannot find its own loader when imported this way.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return new Worker(BOOTSTRAP, { eval: true, workerData: { ...data, tsEntry, tsxApi } });
}
