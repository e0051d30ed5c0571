// SPDX-License-Identifier: GPL-3.0-or-later
// Shared pieces of the doc routes: query-string integers, filters and retention ages, the
// collection check that runs before body validation, and the signal that ends a long-poll
// when its client goes away.

import { type Filter, parseDuration, parseFilter, type Store, toIso } from '@dualstore/core';
import type { FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify';
import { z } from 'zod';
import { collectionParam, isKnownCollection } from './params.js';

const INTEGER_TEXT = /^-?\d{1,32}$/;
/** 0000-01-01T00:00:00.000Z, the earliest time with a four-digit ISO year. */
const EARLIEST_ISO_MS = Date.parse('0000-01-01T00:00:00.000Z');

/**
 * An integer query parameter in `min..max`. Query values are strings on the wire; only plain
 * decimal digits are accepted ("abc", "1.5", "1e3", " 5" are `validation_failed`) and a number
 * outside the bounds is `out_of_range`, as in a JSON body. The OpenAPI document shows an integer
 * with its bounds (the `meta` replaces the string pattern it would otherwise show).
 *
 * @example
 * z.strictObject({ limit: queryInt(1, 200, 'Page size; defaults to 50').optional() })
 */
export function queryInt(min: number, max: number, description: string) {
  return (
    z
      .string()
      .regex(INTEGER_TEXT, 'expected an integer')
      .transform(Number)
      // No .int(): the pattern already admits only integers, and zod's int check would report a
      // huge value as a type error (validation_failed) before the bounds could say out_of_range.
      .pipe(z.number().min(min).max(max))
      .meta({ type: 'integer', minimum: min, maximum: max, pattern: undefined, description })
  );
}

/**
 * A filter as a query parameter (JSON text or base64url of it) or a body field (also an object),
 * parsed by core: `bad_filter` on any error.
 */
export function filterParam(value: unknown): Filter | undefined {
  return value === undefined ? undefined : parseFilter(value);
}

/**
 * `older_than` of a retention request: a duration (`30d`, `12h`, `15m`, … counted back from
 * `now`) or an ISO time, returned as an ISO time. Anything else is `bad_retention`.
 */
export function olderThanParam(text: string | undefined, now: number = Date.now()): string | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    // Not a duration: the store takes it as an ISO time and answers bad_retention if it is not one.
    return text;
  }
  // A duration reaching back past year 0 means "older than anything storable": clamp rather than
  // build a Date outside ISO's four-digit range (toISOString would throw).
  return toIso(Math.max(now - ms, EARLIEST_ISO_MS));
}

/**
 * A `preValidation` hook for `/v1/:c…` routes: an unknown collection is 404 `collection_not_found`
 * (a malformed name 400 `invalid_name`) before the body and query are looked at, because the URL
 * names a resource that does not exist whatever the request carries.
 */
export function requireCollection(store: Store): preValidationHookHandler {
  // Callback style, synchronous for a known name: an async hook costs a promise and a microtask
  // hop on every request, and nearly every request names a collection already found.
  return (request, _reply, done) => {
    const name = (request.params as { c: string }).c;
    if (isKnownCollection(store, name)) return done();
    collectionParam(store, name).then(() => done(), done);
  };
}

/**
 * An AbortSignal that fires when the client goes away before its answer is sent, so a long-poll
 * stops waiting (and frees its listener) instead of holding on for up to `wait_ms`.
 *
 * It listens on the response, not the request: a request stream emits `close` as soon as its
 * body has been read (Node ≥ 16), which for a POST is before the handler even runs. The
 * response emits `close` when the socket closes or after the answer is written; only the
 * first case, with the answer not yet ended, is a client that left.
 */
export function clientGoneSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  if (request.raw.socket?.destroyed === true) {
    controller.abort();
    return controller.signal;
  }
  response.once('close', () => {
    if (!response.writableEnded) controller.abort();
  });
  return controller.signal;
}
