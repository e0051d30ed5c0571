// SPDX-License-Identifier: GPL-3.0-or-later
// Validation and defaults for Store method arguments, shared by every backend so that SQLite and
// Postgres refuse the same inputs with the same codes (and the CLI in local mode answers exactly
// as the server does).

import { DOC_STATUSES, type DocStatus } from './doc.js';
import { DualStoreError, type ErrorCode } from './errors.js';
import { normalizeMention } from './extract.js';
import type { Filter } from './filter.js';
import {
  DEFAULT_LEASE_MS,
  DEFAULT_RECENT_LIMIT,
  DEFAULT_SEARCH_K,
  MAX_CLAIM_LIMIT,
  MAX_LEASE_MS,
  MAX_QUERY_CHARS,
  MAX_RECENT_LIMIT,
  MAX_SEARCH_K,
  MAX_WAIT_MS,
  MIN_LEASE_MS,
} from './limits.js';
import { AGENT_NAME, isCollectionName, isTopicName } from './names.js';
import type {
  ClaimRequest,
  CollectionInput,
  RecentQuery,
  RetentionRequest,
  SearchMode,
  SearchOrder,
  SearchQuery,
  TopicInput,
} from './store.js';
import { normalizeTimestamp } from './time.js';

/** Throws `out_of_range` unless `value` is undefined or an integer in min..max. */
export function checkInt(name: string, value: unknown, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new DualStoreError('out_of_range', `${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
}

export function checkCollectionName(name: unknown): string {
  if (typeof name !== 'string' || !isCollectionName(name)) {
    throw new DualStoreError(
      'invalid_name',
      `"${String(name).slice(0, 80)}" is not a valid collection name: use [a-z0-9_-]{1,64}, not a reserved word`,
    );
  }
  return name;
}

export function checkTopicName(name: unknown): string {
  if (typeof name !== 'string' || !isTopicName(name)) {
    throw new DualStoreError(
      'invalid_name',
      `"${String(name).slice(0, 80)}" is not a valid topic name: use [A-Za-z0-9_.:-]{1,128}`,
    );
  }
  return name;
}

const STATUSES: ReadonlySet<string> = new Set(DOC_STATUSES);

export function checkStatus(status: unknown, code: ErrorCode = 'validation_failed'): DocStatus {
  if (typeof status !== 'string' || !STATUSES.has(status)) {
    throw new DualStoreError(code, `status must be one of ${DOC_STATUSES.join(', ')}`);
  }
  return status as DocStatus;
}

export function checkIdempotencyKey(key: unknown): string | undefined {
  if (key === undefined) return undefined;
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new DualStoreError('validation_failed', 'an idempotency key is 1-255 printable ASCII characters');
  }
  return key;
}

export function checkToken(token: unknown): string {
  if (typeof token !== 'string' || token.length === 0 || token.length > 256) {
    throw new DualStoreError('validation_failed', 'token must be the claim token string');
  }
  return token;
}

export function checkAgent(agent: unknown): string {
  if (typeof agent !== 'string' || !AGENT_NAME.test(agent)) {
    throw new DualStoreError('validation_failed', 'agent must be 1-128 characters without spaces');
  }
  return agent;
}

export function checkLeaseMs(leaseMs: unknown): number {
  checkInt('lease_ms', leaseMs, MIN_LEASE_MS, MAX_LEASE_MS);
  return leaseMs as number;
}

/** Longest explicit retry delay `fail` accepts. */
export const MAX_RETRY_IN_MS = 7 * 86_400_000;

export function checkFailError(error: unknown): string {
  if (typeof error !== 'string') throw new DualStoreError('validation_failed', 'error must be a string');
  return error.slice(0, 4096);
}

export interface NormalizedClaim {
  agent: string;
  topic: string | undefined;
  filter: Filter | undefined;
  leaseMs: number;
  limit: number;
  waitMs: number;
}

export function normalizeClaimRequest(request: ClaimRequest): NormalizedClaim {
  const leaseMs = request.leaseMs ?? DEFAULT_LEASE_MS;
  const limit = request.limit ?? 1;
  const waitMs = request.waitMs ?? 0;
  checkLeaseMs(leaseMs);
  checkInt('limit', limit, 1, MAX_CLAIM_LIMIT);
  checkInt('wait_ms', waitMs, 0, MAX_WAIT_MS);
  return {
    agent: checkAgent(request.agent),
    topic: request.topic === undefined ? undefined : checkTopicName(request.topic),
    filter: request.filter,
    leaseMs,
    limit,
    waitMs,
  };
}

export interface NormalizedRecent {
  limit: number;
  /** Only docs with a smaller seq. */
  before: number | undefined;
  topic: string | undefined;
  status: DocStatus | undefined;
  /** Normalised (no `@`, lower case). */
  mention: string | undefined;
  /** Lower case. */
  tool: string | undefined;
  filter: Filter | undefined;
}

export function normalizeRecentQuery(query: RecentQuery): NormalizedRecent {
  const limit = query.limit ?? DEFAULT_RECENT_LIMIT;
  checkInt('limit', limit, 1, MAX_RECENT_LIMIT);
  let before: number | undefined;
  if (query.before !== undefined) {
    if (typeof query.before !== 'string' || !/^\d{1,15}$/.test(query.before)) {
      throw new DualStoreError('bad_cursor', 'expected `before` to be a `next` value from an earlier page');
    }
    before = Number(query.before);
  }
  return {
    limit,
    before,
    topic: query.topic,
    status: query.status === undefined ? undefined : checkStatus(query.status),
    mention: query.mention === undefined ? undefined : normalizeMention(query.mention),
    tool: query.tool?.toLowerCase(),
    filter: query.filter !== undefined && query.filter.conditions.length > 0 ? query.filter : undefined,
  };
}

export interface NormalizedSearch {
  q: string;
  k: number;
  mode: SearchMode;
  order: SearchOrder;
  filter: Filter | undefined;
  waitFor: number | undefined;
}

export function normalizeSearchQuery(query: SearchQuery): NormalizedSearch {
  if (typeof query.q !== 'string') throw new DualStoreError('validation_failed', 'q must be a string');
  if (query.q.length > MAX_QUERY_CHARS)
    throw new DualStoreError('out_of_range', `q is limited to ${MAX_QUERY_CHARS} characters`);
  const k = query.k ?? DEFAULT_SEARCH_K;
  checkInt('k', k, 1, MAX_SEARCH_K);
  const mode = query.mode ?? 'simple';
  const order = query.order ?? 'relevance';
  if (mode !== 'simple' && mode !== 'fts') throw new DualStoreError('validation_failed', 'mode must be simple or fts');
  if (order !== 'relevance' && order !== 'recent')
    throw new DualStoreError('validation_failed', 'order must be relevance or recent');
  checkInt('wait_for', query.waitFor, 0, Number.MAX_SAFE_INTEGER);
  return {
    q: query.q,
    k,
    mode,
    order,
    filter: query.filter !== undefined && query.filter.conditions.length > 0 ? query.filter : undefined,
    waitFor: query.waitFor,
  };
}

export interface NormalizedRetention {
  status: DocStatus | undefined;
  /** ISO time: only docs whose timestamp is before it. */
  cutoff: string | undefined;
}

export function normalizeRetention(request: RetentionRequest): NormalizedRetention {
  if (request.status === undefined && request.olderThan === undefined) {
    throw new DualStoreError('bad_retention', 'give older_than and/or status; refusing to delete a whole collection');
  }
  let cutoff: string | undefined;
  if (request.olderThan !== undefined) {
    cutoff = normalizeTimestamp(request.olderThan);
    if (cutoff === undefined) throw new DualStoreError('bad_retention', 'older_than must be an ISO time');
  }
  return { status: request.status === undefined ? undefined : checkStatus(request.status, 'bad_retention'), cutoff };
}

export function checkCollectionInput(input: CollectionInput): CollectionInput {
  checkInt('max_attempts', input.max_attempts, 1, 1000);
  checkInt('retention_days', input.retention_days, 1, 36_500);
  return input;
}

export function checkTopicInput(input: TopicInput): TopicInput {
  for (const field of ['description', 'prompt'] as const) {
    const value = input[field];
    if (value !== undefined && (typeof value !== 'string' || value.length > 64 * 1024)) {
      throw new DualStoreError('validation_failed', `${field} must be a string of at most 65536 characters`);
    }
  }
  return input;
}
