// SPDX-License-Identifier: GPL-3.0-or-later
// Rate limits (DESIGN §4 Limits): `RATE_LIMIT_MAX` requests per minute per client — the token when
// the caller authenticated, else the IP — answered with 429 `rate_limited` problem+json and
// `Retry-After`. 0 (the default) turns limiting off: a local-first server on loopback serves one
// user's own agents, and a limit there only breaks bursts (a CLI import, a busy agent fleet).
//
// Registered after auth (app.ts): the plugin's per-route onRequest hooks run after the global auth
// hook, so the caller — and so the per-token key — is known. Requests that fail authentication
// are not counted: they cost one hash and one indexed lookup, and a 256-bit token cannot be guessed.

import { DualStoreError } from '@dualstore/core';
import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';

/** The window `rateLimitMax` counts in. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/** Register the per-client rate limit (nothing when `rateLimitMax` is 0). */
export async function registerRateLimit(app: FastifyInstance): Promise<void> {
  const max = app.dualstore.options.rateLimitMax;
  if (!Number.isInteger(max) || max < 0) {
    throw new Error(`rateLimitMax must be a non-negative integer (0 turns limiting off), got ${String(max)}`);
  }
  if (max === 0) return;
  await app.register(fastifyRateLimit, {
    max,
    timeWindow: RATE_LIMIT_WINDOW_MS,
    // Anonymous callers count per address, an IPv6 client per /64 (the plugin's own rule): one
    // host holds a whole /64 and could otherwise rotate addresses to reset its budget.
    keyGenerator: (request) =>
      request.caller !== undefined && request.caller.kind !== 'open'
        ? `client:${request.caller.clientKey}`
        : `ip:${normalizeIP(request.ip)}`,
    // Health checks (load balancers, `dualstore status`) and the API description are never
    // limited: public routes carry no caller to charge.
    allowList: (request) => request.routeOptions.config.scope === 'public',
    // Thrown by the plugin after it has set Retry-After and the X-RateLimit-* headers; the shared
    // error handler renders it as problem+json like every other error.
    errorResponseBuilder: (_request, context) =>
      new DualStoreError('rate_limited', `more than ${context.max} requests per minute; retry in ${context.after}`),
  });
}
