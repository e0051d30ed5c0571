// SPDX-License-Identifier: GPL-3.0-or-later
// Renders every failure as RFC 9457 problem+json with a stable `code` from core's registry.
// Only DualStoreError details reach a client; anything else becomes a generic 500 body.

import { type DualStoreError, ERROR_CODES, type ErrorCode, type FieldError } from '@dualstore/core';
import type { FastifyReply } from 'fastify';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: readonly FieldError[];
}

/** The `type` URI of a code: its anchor in docs/errors.md. */
export function problemType(code: ErrorCode): string {
  return `https://dualstore.dev/errors#${code}`;
}

export function toProblem(error: DualStoreError): Problem {
  const spec = ERROR_CODES[error.code];
  const problem: Problem = {
    type: problemType(error.code),
    title: spec.title,
    status: spec.status,
    detail: error.message,
    code: error.code,
  };
  if (error.errors !== undefined && error.errors.length > 0) problem.errors = error.errors;
  return problem;
}

/** Seconds a client should wait before retrying a 503 or 429 without its own figure. */
const DEFAULT_RETRY_AFTER_S = 1;

export function sendProblem(
  reply: FastifyReply,
  error: DualStoreError,
  headers?: Record<string, string>,
): FastifyReply {
  const problem = toProblem(error);
  if (problem.status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', DEFAULT_RETRY_AFTER_S);
  if (headers) reply.headers(headers);
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}
