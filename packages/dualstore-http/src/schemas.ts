// SPDX-License-Identifier: GPL-3.0-or-later
// Wire schemas for the OpenAPI document and request validation. Request schemas stay shallow
// (metadata is "an object") because core re-validates every doc in depth with coded errors
// (json_too_deep, payload_too_large); response schemas document what the store returns.

import { DOC_STATUSES, ERROR_CODES } from '@dualstore/core';
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
export const docParams = z.object({ c: z.string(), id: z.string() });

/** Response map entries for the problem+json errors a route can answer with. */
export function problems(...statuses: number[]): Record<number, typeof problemSchema> {
  return Object.fromEntries(statuses.map((status) => [status, problemSchema]));
}
