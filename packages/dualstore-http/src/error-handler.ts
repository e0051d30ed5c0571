// SPDX-License-Identifier: GPL-3.0-or-later
// One error handler for the whole server (STYLE: "one error handler renders every one"). It turns
// Fastify's own errors (bad JSON, body too large, wrong content type, schema validation), core's
// DualStoreError and anything unexpected into problem+json, and answers unknown routes with 404
// and known paths with the wrong method with 405 + `Allow`.

import { DualStoreError, type FieldError, isDualStoreError, isNumberRangeIssue } from '@dualstore/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendProblem } from './problem.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Map a schema validation failure to the most specific registry code. */
export function validationToError(issues: readonly ValidationIssue[], context: string | undefined): DualStoreError {
  const errors: FieldError[] = issues.map((issue) => ({
    path: `${context ?? 'request'}${issue.instancePath.replaceAll('/', '.')}`.replace(/\.$/, ''),
    message: issue.message ?? issue.keyword,
  }));
  const first = issues[0];
  const where = errors[0] ? `${errors[0].path}: ${errors[0].message}` : 'invalid request';
  if (first?.keyword === 'unrecognized_keys' && context === 'querystring') {
    const keys = (first.params?.keys as string[] | undefined) ?? [];
    return new DualStoreError('unknown_parameter', `unknown query parameter ${keys.map((k) => `"${k}"`).join(', ')}`, {
      errors,
    });
  }
  if (first !== undefined && isNumberRangeIssue(first.keyword, first.params?.origin)) {
    return new DualStoreError('out_of_range', where, { errors });
  }
  return new DualStoreError('validation_failed', where, { errors });
}

/** Translate Fastify's built-in errors; undefined when the error is not one of them. */
function fastifyToError(error: FastifyError, request: FastifyRequest): DualStoreError | undefined {
  if (Array.isArray(error.validation)) {
    return validationToError(error.validation as ValidationIssue[], error.validationContext);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new DualStoreError('payload_too_large', `the body is larger than ${request.routeOptions.bodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new DualStoreError('unsupported_media_type', 'send the body as Content-Type: application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new DualStoreError('validation_failed', 'the Content-Length does not match the body');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new DualStoreError('validation_failed', 'the body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new DualStoreError('validation_failed', 'the body is not valid JSON');
  }
  if (error instanceof SyntaxError || error.statusCode === 400) {
    return new DualStoreError('validation_failed', 'the body is not valid JSON');
  }
  if (error.statusCode === 429) return new DualStoreError('rate_limited', error.message);
  if (error.statusCode === 413) return new DualStoreError('payload_too_large', 'the body is too large');
  if (error.statusCode === 415) return new DualStoreError('unsupported_media_type', error.message);
  return undefined;
}

/**
 * Fastify's `frameworkErrors`: failures found by the router before any route or hook runs (a
 * malformed percent-encoding, a path segment past `maxParamLength`). Without it Fastify answers
 * with its own JSON body, which can echo the URL.
 */
export function handleFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const problem =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new DualStoreError('invalid_name', 'a path segment is too long: names and ids are at most 128 characters')
      : new DualStoreError('validation_failed', 'the URL is not valid: check its percent-encoding');
  sendProblem(reply, problem);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isDualStoreError(error)) {
      if (error.status >= 500) request.log.warn({ code: error.code }, error.message);
      return sendProblem(reply, error);
    }
    const known = fastifyToError(error, request);
    if (known) return sendProblem(reply, known);
    // A bug or an unexpected backend failure: log it in full, tell the client nothing internal.
    request.log.error({ err: error }, 'unhandled error');
    return sendProblem(reply, new DualStoreError('internal_error'));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '/';
    const allowed = METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
    if (allowed.length > 0) {
      return sendProblem(
        reply,
        new DualStoreError(
          'method_not_allowed',
          `${request.method} is not allowed on ${path}; use ${allowed.join(', ')}`,
        ),
        { allow: allowed.join(', ') },
      );
    }
    return sendProblem(reply, new DualStoreError('not_found', `no route ${request.method} ${path}`));
  });
}
