// SPDX-License-Identifier: GPL-3.0-or-later
// The client's own error class. It mirrors core's DualStoreError (same name, `code`, `status`)
// but is a separate class: the client imports core for types only, so no zod and no server code
// reach a browser bundle. Leaf module: imports nothing from the package.

import type { ErrorCode, FieldError } from '@dualstore/core';

/**
 * Codes the client itself reports, beside the server's problem+json codes:
 * - `network_error`: the request never got an HTTP answer (refused, reset, DNS, CORS).
 * - `bad_response`: an answer that is not what the API sends (not JSON, not problem+json, not
 *   `text/event-stream`), e.g. from a proxy.
 * - `timeout`: `ask` waited `timeoutMs` for a reply.
 * - `stream_ended`: the server closed an open stream (the client reconnects).
 * - `stream_refused`: the server answered a stream with 204 No Content: "do not reconnect".
 * - `handler_error`: a callback or worker handler threw; the original is the `cause`.
 */
export type ClientErrorCode =
  | 'network_error'
  | 'bad_response'
  | 'timeout'
  | 'stream_ended'
  | 'stream_refused'
  | 'handler_error';

/** Every code a client error can carry; a newer server may add codes this build does not know. */
export type DualStoreErrorCode = ErrorCode | ClientErrorCode | (string & {});

/** The problem+json fields (RFC 9457) the client keeps. */
export interface ProblemFields {
  status: number;
  code: DualStoreErrorCode;
  title?: string;
  detail?: string;
  type?: string;
  errors?: readonly FieldError[];
  /** From `Retry-After` (429, 503), in ms. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * What every client call throws for a failure: a problem+json answer of the server, or one of
 * the client's own {@link ClientErrorCode}s. An aborted call rejects with the signal's reason
 * instead, as `fetch` does.
 *
 * @example
 * try {
 *   await client.complete('agent_tasks', id, token);
 * } catch (error) {
 *   if (isDualStoreError(error) && error.code === 'lease_lost') return; // someone else has it now
 *   throw error;
 * }
 */
export class DualStoreError extends Error {
  /** The HTTP status; 0 when there was no HTTP answer (`network_error`, `timeout`). */
  readonly status: number;
  /** A stable machine code: match on it, never on the message. */
  readonly code: DualStoreErrorCode;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  readonly type: string | undefined;
  /** Field errors of a `validation_failed` answer. */
  readonly errors: readonly FieldError[] | undefined;
  /** How long the server asked to wait (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(fields: ProblemFields) {
    super(
      fields.detail ?? fields.title ?? fields.code,
      fields.cause === undefined ? undefined : { cause: fields.cause },
    );
    this.name = 'DualStoreError';
    this.status = fields.status;
    this.code = fields.code;
    this.title = fields.title;
    this.detail = fields.detail;
    this.type = fields.type;
    this.errors = fields.errors;
    this.retryAfterMs = fields.retryAfterMs;
  }
}

/**
 * True for a {@link DualStoreError}, also one from another copy of this package (by shape), so
 * two bundled copies still recognise each other's errors.
 */
export function isDualStoreError(value: unknown): value is DualStoreError {
  return (
    value instanceof DualStoreError ||
    (value instanceof Error &&
      value.name === 'DualStoreError' &&
      typeof (value as { code?: unknown }).code === 'string')
  );
}

/**
 * Worth trying again: no answer, a 5xx, a 429 or a server-closed stream. Everything else (4xx)
 * will fail the same way again.
 */
export function isTransient(error: unknown): boolean {
  if (!isDualStoreError(error)) return false;
  return error.code === 'network_error' || error.status >= 500 || error.status === 429 || error.code === 'stream_ended';
}
