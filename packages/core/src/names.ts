// SPDX-License-Identifier: GPL-3.0-or-later
// Name rules for collections, doc ids and topics (DESIGN §2, §10 "Names"). The reserved words
// would collide with fixed route segments of the HTTP API.

export const COLLECTION_NAME = /^[a-z0-9_-]{1,64}$/;
export const DOC_ID = /^[A-Za-z0-9_-]{1,128}$/;
export const TOPIC_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
export const AGENT_NAME = /^[^\s\u0000-\u001f]{1,128}$/;

export const RESERVED_COLLECTIONS: ReadonlySet<string> = new Set([
  'topics',
  'stream',
  'collections',
  'tickets',
  'health',
]);
export const RESERVED_IDS: ReadonlySet<string> = new Set([
  'recent',
  'search',
  'stats',
  'stream',
  'docs',
  'batch',
  'claim',
]);

/** The collections a fresh store starts with (DESIGN §9 `COLLECTIONS`). */
export const DEFAULT_COLLECTIONS: readonly string[] = ['events', 'session_messages', 'agent_tasks', 'opencode_events'];

export function isCollectionName(name: string): boolean {
  return COLLECTION_NAME.test(name) && !RESERVED_COLLECTIONS.has(name);
}

export function isDocId(id: string): boolean {
  return DOC_ID.test(id) && !RESERVED_IDS.has(id);
}

export function isTopicName(name: string): boolean {
  return TOPIC_NAME.test(name);
}
