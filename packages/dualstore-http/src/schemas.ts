// SPDX-License-Identifier: GPL-3.0-or-later
// Wire schemas for the OpenAPI document and request validation. Request schemas stay shallow
// (metadata is "an object") because core re-validates every doc in depth with coded errors
// (json_too_deep, payload_too_large); response schemas document what the store returns.

import {
  agentSchema,
  DOC_STATUSES,
  docInputSchema,
  ERROR_CODES,
  MAX_BATCH_ITEMS,
  MAX_CLAIM_LIMIT,
  MAX_LEASE_MS,
  MAX_RETRY_IN_MS,
  MAX_WAIT_MS,
  MIN_LEASE_MS,
  replyInputSchema,
  topicSchema,
} from '@dualstore/core';
import { z } from 'zod';

export const isoTime = z.string().describe('ISO 8601 UTC time with milliseconds');

export const docSchema = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    collection: z.string(),
    text: z.string(),
    timestamp: isoTime,
    metadata: z.record(z.string(), z.unknown()),
    topic: z.string().nullable(),
    source: z.string().nullable(),
    correlation_id: z.string().nullable(),
    parent_id: z.string().nullable(),
    status: z.enum(DOC_STATUSES),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    claimed_by: z.string().nullable(),
    lease_expires_at: isoTime.nullable(),
    available_at: isoTime.nullable(),
    processed_at: isoTime.nullable(),
    last_error: z.string().nullable(),
    mentions: z.array(z.string()),
    tool_calls: z.array(z.string()),
    version: z.number().int(),
  })
  .meta({ id: 'Doc' });

const errorCodes = Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]];

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.enum(errorCodes),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details with a stable `code` (see docs/errors.md)' });

/** `:c` — validated by the handler (`collectionParam`) so the codes are invalid_name / collection_not_found. */
export const collectionParams = z.object({ c: z.string() });
/** `:c` and `:id`; an id that cannot exist is simply not found. */
export const docParams = z.object({ c: z.string(), id: z.string() });

/** Response map entries for the problem+json errors a route can answer with. */
export function problems(...statuses: number[]): Record<number, typeof problemSchema> {
  return Object.fromEntries(statuses.map((status) => [status, problemSchema]));
}

// Request bodies. Each mirrors core's input schema field for field (it is derived from it where
// core's field is plain enough to become JSON Schema), but stays shallow where core's is not:
// `metadata` is "an object" here because core walks it iteratively with coded errors
// (json_too_deep, payload_too_large), and timestamps are "a string or a number" because core's
// transform normalises them. Bodies are strict, so an unknown field is still a 400.

/** Free JSON; depth and size are checked by the store (json_too_deep, payload_too_large). */
export const metadataInput = z
  .record(z.string(), z.unknown())
  .describe('Free JSON object, nested at most 32 deep; text + metadata at most 64 KiB');

const timestampInput = z
  .union([z.string(), z.number()])
  .describe('ISO 8601 time with a zone, or integer epoch milliseconds; stored as ISO UTC');

/** What a client sends to create a doc (DESIGN §2). */
export const docInputBody = docInputSchema
  .extend({
    text: z.string().optional().describe('The body; full-text indexed. Defaults to ""'),
    timestamp: timestampInput.optional(),
    metadata: metadataInput.optional(),
    available_at: timestampInput.optional(),
  })
  .meta({ id: 'NewDoc', description: 'A doc to insert; unknown fields are refused' });

/** `POST /v1/:c` answer: the new (or, for a repeated Idempotency-Key, the first) doc's id and seq. */
export const insertResultSchema = z.object({ id: z.string(), seq: z.number().int() }).meta({ id: 'InsertResult' });

/** `POST /v1/:c/batch`. The item count is checked by the store, so it answers out_of_range as everywhere. */
export const batchBody = z
  .strictObject({ items: z.array(docInputBody).meta({ minItems: 1, maxItems: MAX_BATCH_ITEMS }) })
  .meta({ id: 'Batch' });

/** `POST /v1/:c/batch` answer: the ids in the order of `items`. */
export const batchResultSchema = z.object({ ids: z.array(z.string()) }).meta({ id: 'BatchResult' });

/** `GET /v1/:c/recent` answer: newest first by seq. */
export const recentPageSchema = z
  .object({
    items: z.array(docSchema),
    next: z.string().optional().describe('Pass back as `before` for the next, older page; absent on the last'),
    cursor: z.number().int().describe('The feed position this page reflects: stream from it to miss nothing'),
  })
  .meta({ id: 'RecentPage' });

/** `GET /v1/:c/:id/thread` answer: the thread, oldest first. */
export const threadSchema = z.object({ items: z.array(docSchema) }).meta({ id: 'Thread' });

/** `GET /v1/:c/search` answer. */
export const searchResultSchema = z
  .object({
    items: z.array(
      z.object({
        doc: docSchema,
        score: z.number().describe('Higher is better'),
        snippet: z.string(),
      }),
    ),
    indexed_through: z.number().int().describe('The feed position the index had reached'),
  })
  .meta({ id: 'SearchResult' });

/** A filter in a JSON body: the object itself, or its JSON text (optionally base64url). */
export const filterInput = z
  .union([z.record(z.string(), z.unknown()), z.string()])
  .describe('`{ "metadata.repo": "x", "topic": { "$in": ["a", "b"] } }`; see the filter language');

// Bounds come before .int() in the numeric fields: zod reports the first failing check, and a
// huge number should be out_of_range (bounds), not validation_failed (int's safe-range check).
/** `POST /v1/:c/claim` body (DESIGN §10 "Leases" for the bounds). */
export const claimBody = z
  .strictObject({
    agent: agentSchema,
    topic: topicSchema.optional(),
    filter: filterInput.optional(),
    lease_ms: z.number().min(MIN_LEASE_MS).max(MAX_LEASE_MS).int().optional().describe('Defaults to 300000 (5 min)'),
    limit: z.number().min(1).max(MAX_CLAIM_LIMIT).int().optional().describe('Defaults to 1'),
    wait_ms: z
      .number()
      .min(0)
      .max(MAX_WAIT_MS)
      .int()
      .optional()
      .describe('Long-poll this long for work; defaults to 0'),
  })
  .meta({ id: 'ClaimRequest' });

/** `POST /v1/:c/claim` answer: empty `items` when nothing was due. */
export const claimResultSchema = z
  .object({
    items: z.array(
      z.object({
        doc: docSchema,
        claim: z.object({
          token: z.string().describe('The fencing token complete / fail / extend / release need'),
          expires_at: isoTime,
        }),
        prompt: z.string().optional().describe("The doc's topic prompt, when it has one"),
      }),
    ),
  })
  .meta({ id: 'ClaimResult' });

const tokenField = z.string().min(1).max(256).describe('The claim token');

/** complete / release body. */
export const tokenBody = z.strictObject({ token: tokenField }).meta({ id: 'ClaimToken' });

/** `POST /v1/:c/:id/fail` body. */
export const failBody = z
  .strictObject({
    token: tokenField,
    error: z.string().describe("Kept (first 4096 characters) as the doc's `last_error`"),
    retry_in_ms: z
      .number()
      .min(0)
      .max(MAX_RETRY_IN_MS)
      .int()
      .optional()
      .describe('Defaults to exponential backoff: 1 s × 2^(attempts−1), capped at 1 h, with jitter'),
  })
  .meta({ id: 'FailRequest' });

/** `POST /v1/:c/:id/extend` body. */
export const extendBody = z
  .strictObject({ token: tokenField, lease_ms: z.number().min(MIN_LEASE_MS).max(MAX_LEASE_MS).int() })
  .meta({ id: 'ExtendRequest' });

/** `POST /v1/:c/:id/reply`; metadata as for docs. */
export const replyBody = replyInputSchema
  .extend({ metadata: metadataInput.optional() })
  .meta({ id: 'Reply', description: 'A reply: stored with correlation_id and parent_id set' });

/** `DELETE /v1/:c/docs` answer. */
export const deletedSchema = z.object({ deleted: z.number().int() }).meta({ id: 'RetentionResult' });

/** A topic as stored (DESIGN §6). */
export const topicInfoSchema = z
  .object({ name: z.string(), description: z.string(), prompt: z.string(), created_at: isoTime, updated_at: isoTime })
  .meta({ id: 'Topic' });

/** `PUT /v1/topics/:name` body; an omitted field keeps its current value. */
export const topicBody = z
  .strictObject({
    description: z.string().max(65_536).optional(),
    prompt: z.string().max(65_536).optional().describe('The system prompt a claim returns with each doc of this topic'),
  })
  .meta({ id: 'TopicSettings' });

/** `:name` — checked by the handler so a malformed name is invalid_name. */
export const topicParams = z.object({ name: z.string() });

/** The query of a route that takes none: any parameter is 400 unknown_parameter (DESIGN §10). */
export const noQuery = z.strictObject({});
