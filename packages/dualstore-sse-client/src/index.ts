// SPDX-License-Identifier: GPL-3.0-or-later
export type { AskOptions } from './ask.js';
export type {
  ClaimOptions,
  ClientOptions,
  DeleteDocsOptions,
  FailOptions,
  Health,
  RecentOptions,
  SearchOptions,
  TopicsApi,
} from './client.js';
export { createClient, DualStoreHttp } from './client.js';
export type { ClientErrorCode, DualStoreErrorCode, ProblemFields } from './errors.js';
export { DualStoreError, isDualStoreError } from './errors.js';
export type {
  DualStoreStreamOptions,
  FilterInput,
  ResetInfo,
  StreamAuth,
  StreamErrorInfo,
  SubscribeOptions,
  Subscription,
} from './stream.js';
export { createDualStoreStream } from './stream.js';
export type { CallOptions, FetchLike, ResponseLike } from './transport.js';
export type { WorkerHandle, WorkerHandler, WorkerOptions, WorkerStats, WorkItem } from './worker.js';
