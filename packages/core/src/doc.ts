// SPDX-License-Identifier: GPL-3.0-or-later
// The doc model (DESIGN §2): the wire shape every store returns, and the input schemas every
// entry point validates with. Inputs are strict: an unknown field is an error, never dropped.

import * as z from 'zod';
import { DualStoreError, type FieldError } from './errors.js';
import { jsonDepth, MAX_DOC_BYTES, MAX_JSON_DEPTH, notPlainJson, utf8Length } from './limits.js';
import { AGENT_NAME, DOC_ID, isDocId, TOPIC_NAME } from './names.js';
import { normalizeTimestamp } from './time.js';

export const DOC_STATUSES = ['pending', 'processing', 'completed', 'failed'] as const;
export type DocStatus = (typeof DOC_STATUSES)[number];

/** Free JSON object stored with a doc. */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

/** A stored doc, exactly as it goes over the wire. */
export interface Doc {
  id: string;
  seq: number;
  collection: string;
  text: string;
  timestamp: string;
  metadata: JsonObject;
  topic: string | null;
  source: string | null;
  correlation_id: string | null;
  parent_id: string | null;
  status: DocStatus;
  attempts: number;
  max_attempts: number;
  claimed_by: string | null;
  lease_expires_at: string | null;
  available_at: string | null;
  processed_at: string | null;
  /** The `error` of the last `fail` (an extension of DESIGN §2; see docs/decisions.md). */
  last_error: string | null;
  mentions: string[];
  tool_calls: string[];
  version: number;
}

/** An ISO 8601 time (with `Z` or an offset) or epoch milliseconds, normalised to ISO UTC with ms. */
export const timestampSchema = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const iso = normalizeTimestamp(value);
  if (iso === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected an ISO 8601 time with a zone (e.g. 2026-01-01T00:00:00.000Z) or integer epoch milliseconds',
    });
    return z.NEVER;
  }
  return iso;
});

/** A plain JSON object, nested at most MAX_JSON_DEPTH deep (the object itself counts as 1). */
export const metadataSchema = z.custom<JsonObject>().superRefine((value, ctx) => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'expected a JSON object' });
    return;
  }
  // Depth is checked before the walk so a hostile value is never traversed in full.
  if (jsonDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    ctx.addIssue({ code: 'custom', message: `nested deeper than ${MAX_JSON_DEPTH} levels` });
    return;
  }
  const problem = notPlainJson(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const docIdSchema = z.string().regex(DOC_ID, 'expected [A-Za-z0-9_-]{1,128}').refine(isDocId, 'this id is reserved');
const refIdSchema = z.string().min(1).max(256);
export const sourceSchema = z
  .string()
  .regex(
    /^(system|(agent|webhook|human):[^\s\u0000-\u001f]{1,128})$/,
    'expected agent:<name>, webhook:<route>, human:<name> or system',
  );
export const topicSchema = z.string().regex(TOPIC_NAME, 'expected [A-Za-z0-9_.:-]{1,128}');
export const agentSchema = z.string().regex(AGENT_NAME, 'expected 1-128 characters without spaces');

/** What a client sends to create a doc. Derived fields (seq, status, mentions…) are not accepted. */
export const docInputSchema = z.strictObject({
  id: docIdSchema.optional(),
  text: z.string().default(''),
  timestamp: timestampSchema.optional(),
  metadata: metadataSchema.default({}),
  topic: topicSchema.optional(),
  source: sourceSchema.optional(),
  correlation_id: refIdSchema.optional(),
  parent_id: refIdSchema.optional(),
  max_attempts: z.number().int().min(1).max(1000).optional(),
  available_at: timestampSchema.optional(),
});

export type DocInput = z.input<typeof docInputSchema>;
export type ValidDocInput = z.output<typeof docInputSchema>;

/** Body of a reply (DESIGN §4 `POST /v1/:c/:id/reply`). */
export const replyInputSchema = z.strictObject({
  text: z.string(),
  status: z.enum(['success', 'failure']),
  metadata: metadataSchema.default({}),
  token: z.string().min(1).max(256).optional(),
  topic: topicSchema.optional(),
  source: sourceSchema.optional(),
});
export type ReplyInput = z.input<typeof replyInputSchema>;
export type ValidReplyInput = z.output<typeof replyInputSchema>;

/** Turn zod issues into the `errors` list of a validation_failed error. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

/**
 * A zod issue for a number outside its bounds: answered `out_of_range` rather than
 * `validation_failed`, here and by the HTTP layer's schema checks.
 */
export function isNumberRangeIssue(code: unknown, origin: unknown): boolean {
  return (code === 'too_big' || code === 'too_small') && origin === 'number';
}

/** Parse with `schema`, throwing `validation_failed` (`out_of_range` for a number out of bounds) with field errors. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    const errors = fieldErrors(result.error);
    const first = errors[0];
    const issue = result.error.issues[0];
    throw new DualStoreError(
      issue !== undefined && isNumberRangeIssue(issue.code, (issue as { origin?: unknown }).origin)
        ? 'out_of_range'
        : 'validation_failed',
      `${what} is not valid${first ? `: ${first.path}: ${first.message}` : ''}`,
      { errors },
    );
  }
  return result.data;
}

/**
 * Validate a doc input: schema, then the combined size of `text` and `metadata`.
 * @throws DualStoreError `validation_failed`, `out_of_range`, `json_too_deep` or `payload_too_large`.
 */
export function validateDocInput(input: unknown): ValidDocInput {
  assertMetadataDepth(input);
  const doc = parseOrThrow(docInputSchema, input, 'doc');
  assertDocSize(doc.text, doc.metadata);
  return doc;
}

/** Too-deep metadata is its own code (json_too_deep), checked before the schema walks it. */
function assertMetadataDepth(input: unknown): void {
  if (input !== null && typeof input === 'object' && 'metadata' in input) {
    const metadata = (input as { metadata: unknown }).metadata;
    if (jsonDepth(metadata, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
      throw new DualStoreError('json_too_deep', `metadata is nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
  }
}

export function assertDocSize(text: string, metadata: JsonObject): void {
  const bytes = utf8Length(text) + utf8Length(JSON.stringify(metadata));
  if (bytes > MAX_DOC_BYTES) {
    throw new DualStoreError('payload_too_large', `text + metadata is ${bytes} bytes; the limit is ${MAX_DOC_BYTES}`);
  }
}

/** Validate a reply body the same way. */
export function validateReplyInput(input: unknown): ValidReplyInput {
  assertMetadataDepth(input);
  const reply = parseOrThrow(replyInputSchema, input, 'reply');
  assertDocSize(reply.text, reply.metadata);
  return reply;
}
