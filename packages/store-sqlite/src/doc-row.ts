// SPDX-License-Identifier: GPL-3.0-or-later
// Mapping between `docs` rows and wire docs, and the per-change snapshot of a doc's mutable
// fields that lets the feed replay a doc as it was right after each change.

import type { Doc, DocStatus, JsonObject } from '@dualstore/core';

/** A `docs` row as better-sqlite3 returns it. */
export interface DocRow {
  seq: number;
  id: string;
  collection: string;
  text: string;
  timestamp: string;
  metadata: string;
  topic: string | null;
  source: string | null;
  correlation_id: string | null;
  parent_id: string | null;
  status: DocStatus;
  attempts: number;
  max_attempts: number;
  claimed_by: string | null;
  claim_token: string | null;
  lease_expires_at: string | null;
  available_at: string | null;
  processed_at: string | null;
  last_error: string | null;
  mentions: string;
  tool_calls: string;
  version: number;
  idempotency_key: string | null;
  request_hash: string | null;
}

/** The fields a change can alter; stored as JSON in `changes.state`. */
export interface DocState {
  status: DocStatus;
  attempts: number;
  claimed_by: string | null;
  lease_expires_at: string | null;
  available_at: string | null;
  processed_at: string | null;
  last_error: string | null;
  version: number;
}

export function stateOf(row: Pick<DocRow, keyof DocState>): DocState {
  return {
    status: row.status,
    attempts: row.attempts,
    claimed_by: row.claimed_by,
    lease_expires_at: row.lease_expires_at,
    available_at: row.available_at,
    processed_at: row.processed_at,
    last_error: row.last_error,
    version: row.version,
  };
}

/** The wire doc of a row; `state` (from a feed entry) overrides the row's current mutable fields. */
export function rowToDoc(row: DocRow, state?: DocState): Doc {
  const current = state ?? row;
  return {
    id: row.id,
    seq: row.seq,
    collection: row.collection,
    text: row.text,
    timestamp: row.timestamp,
    metadata: JSON.parse(row.metadata) as JsonObject,
    topic: row.topic,
    source: row.source,
    correlation_id: row.correlation_id,
    parent_id: row.parent_id,
    status: current.status,
    attempts: current.attempts,
    max_attempts: row.max_attempts,
    claimed_by: current.claimed_by,
    lease_expires_at: current.lease_expires_at,
    available_at: current.available_at,
    processed_at: current.processed_at,
    last_error: current.last_error,
    mentions: JSON.parse(row.mentions) as string[],
    tool_calls: JSON.parse(row.tool_calls) as string[],
    version: current.version,
  };
}
