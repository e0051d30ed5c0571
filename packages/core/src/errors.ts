// SPDX-License-Identifier: GPL-3.0-or-later
// The error-code registry: every failure a DualStore component reports to a user carries one of
// these codes. Codes are stable API: never rename or reuse a retired one (add it to RETIRED_CODES).

/** One registered error: its stable code, HTTP status and a title for problem+json. */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
  /** Shown in docs/errors.md: what the client should change. */
  readonly fix: string;
}

export const ERROR_CODES = {
  validation_failed: {
    status: 400,
    title: 'The request is not valid',
    fix: 'Correct the fields listed in `errors` and send again.',
  },
  invalid_name: {
    status: 400,
    title: 'A collection, topic or doc name is not valid',
    fix: 'Collections are `[a-z0-9_-]{1,64}`; ids `[A-Za-z0-9_-]{1,128}`; some names are reserved.',
  },
  unknown_parameter: {
    status: 400,
    title: 'The request has a query parameter this route does not know',
    fix: 'Remove the parameter; see the OpenAPI document for the accepted ones.',
  },
  bad_filter: {
    status: 400,
    title: 'The filter is not valid',
    fix: 'Send a JSON object of `path: value` or `path: { $op: value }` conditions (see docs).',
  },
  bad_search_syntax: {
    status: 400,
    title: 'The full-text query is not valid FTS5 syntax',
    fix: 'Fix the query, or use `mode=simple`, which accepts any text.',
  },
  out_of_range: {
    status: 400,
    title: 'A number is outside its allowed range',
    fix: 'Use a value inside the bounds named in `detail`.',
  },
  bad_cursor: {
    status: 400,
    title: 'The cursor is not valid',
    fix: 'Send a non-negative integer feed position, an ISO 8601 time, or a `next` value as returned.',
  },
  bad_retention: {
    status: 400,
    title: 'The retention request is not valid',
    fix: 'Give `older_than` (a duration like `30d` or an ISO time) and/or `status`.',
  },
  json_too_deep: {
    status: 400,
    title: 'The JSON is nested too deeply',
    fix: 'Flatten the document: nesting depth is limited (32 by default).',
  },
  token_required: {
    status: 400,
    title: 'The doc is being processed; this action needs its claim token',
    fix: 'Send the `token` returned by the claim.',
  },
  unauthorized: {
    status: 401,
    title: 'Authentication is required',
    fix: 'Send `Authorization: Bearer <token>` with a valid, unrevoked token.',
  },
  bad_signature: {
    status: 401,
    title: 'The webhook signature is missing or does not match',
    fix: 'Check the shared secret configured for this route and the sender.',
  },
  forbidden: {
    status: 403,
    title: 'The token does not allow this',
    fix: 'Use a token with the scope named in `detail`.',
  },
  not_found: {
    status: 404,
    title: 'Not found',
    fix: 'Check the id or path.',
  },
  collection_not_found: {
    status: 404,
    title: 'The collection does not exist',
    fix: 'Create it with `PUT /v1/collections/:c` or list it in `COLLECTIONS`.',
  },
  method_not_allowed: {
    status: 405,
    title: 'The method is not allowed on this path',
    fix: 'See the `Allow` header for the methods this path accepts.',
  },
  lease_lost: {
    status: 409,
    title: 'The claim token is not the current one',
    fix: 'Your lease expired and the doc was claimed again, or released: drop this work.',
  },
  already_finished: {
    status: 409,
    title: 'The doc is already completed or failed',
    fix: 'Nothing to do: the work is finished.',
  },
  idempotency_conflict: {
    status: 409,
    title: 'The idempotency key was used with a different body',
    fix: 'Use a new key for a different doc, or resend the original body.',
  },
  id_conflict: {
    status: 409,
    title: 'A doc with this id already exists in the collection',
    fix: 'Choose another id, or let the server generate one.',
  },
  payload_too_large: {
    status: 413,
    title: 'The body or doc is too large',
    fix: 'Keep bodies within the configured limit (64 KiB per doc by default).',
  },
  unsupported_media_type: {
    status: 415,
    title: 'The content type is not supported',
    fix: 'Send `Content-Type: application/json`.',
  },
  rate_limited: {
    status: 429,
    title: 'Too many requests',
    fix: 'Wait for the time in `Retry-After`, then retry.',
  },
  too_many_streams: {
    status: 429,
    title: 'Too many open streams for this client',
    fix: 'Close a stream first; the per-client cap is configurable (`SSE_MAX_PER_CLIENT`).',
  },
  internal_error: {
    status: 500,
    title: 'Internal error',
    fix: 'A bug: report it with the time of the request. The server log has the details.',
  },
  store_busy: {
    status: 503,
    title: 'The store is busy',
    fix: 'Retry after the time in `Retry-After`.',
  },
  store_closed: {
    status: 503,
    title: 'The store is closed',
    fix: 'The server is shutting down; retry against a running instance.',
  },
  schema_too_new: {
    status: 503,
    title: 'The database was written by a newer DualStore',
    fix: 'Upgrade DualStore to a version that knows this schema.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Codes that were once used and must never be reused for another meaning. */
export const RETIRED_CODES: readonly string[] = [];

/** A field-level problem attached to a `validation_failed` error. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/**
 * The one error type every DualStore component throws for expected failures. The HTTP layer
 * renders it as problem+json using `code` to pick the status.
 *
 * @example
 * throw new DualStoreError('lease_lost', `doc ${id} was claimed again by another worker`);
 */
export class DualStoreError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: readonly FieldError[] | undefined;

  constructor(code: ErrorCode, detail?: string, options?: { errors?: readonly FieldError[]; cause?: unknown }) {
    super(detail ?? ERROR_CODES[code].title, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DualStoreError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.errors = options?.errors;
  }
}

/** True when `value` is a DualStoreError (also across module copies, by shape). */
export function isDualStoreError(value: unknown): value is DualStoreError {
  return (
    value instanceof DualStoreError ||
    (value instanceof Error &&
      value.name === 'DualStoreError' &&
      typeof (value as unknown as { code?: unknown }).code === 'string' &&
      Object.hasOwn(ERROR_CODES, (value as unknown as { code: string }).code))
  );
}
