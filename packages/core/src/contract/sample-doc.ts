// SPDX-License-Identifier: GPL-3.0-or-later
// A complete wire doc with neutral defaults, for tests that need one without a store.

import type { Doc } from '../doc.js';

/** A pending doc in `events` with every field set; `overrides` replaces any of them. */
export function sampleDoc(overrides: Partial<Doc> = {}): Doc {
  const seq = overrides.seq ?? 1;
  return {
    id: `d${seq}`,
    seq,
    collection: 'events',
    text: '',
    timestamp: '2026-01-01T00:00:00.000Z',
    metadata: {},
    topic: null,
    source: null,
    correlation_id: null,
    parent_id: null,
    status: 'pending',
    attempts: 0,
    max_attempts: 5,
    claimed_by: null,
    lease_expires_at: null,
    available_at: null,
    processed_at: null,
    last_error: null,
    mentions: [],
    tool_calls: [],
    version: 1,
    ...overrides,
  };
}
