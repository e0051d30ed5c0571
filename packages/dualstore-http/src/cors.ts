// SPDX-License-Identifier: GPL-3.0-or-later
// CORS (DESIGN §8): an exact-match allow-list of origins (`CORS_ORIGIN`), none by default. With an
// empty list the plugin is not registered at all: no response carries CORS headers, and a
// preflight gets the ordinary 405 problem, so a browser on another origin can neither read
// responses nor send credentials-bearing requests.
//
// Registered before auth (app.ts) on purpose: @fastify/cors answers a preflight inside its own
// onRequest hook, and a preflight never carries the Authorization header it asks about.

import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/** Request headers a browser may send: the bearer token, JSON bodies, stream resume, idempotent inserts. */
export const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Last-Event-ID', 'Idempotency-Key'] as const;

/** Response headers a browser script may read: when to retry (429, 503) and where a created doc is. */
export const CORS_EXPOSED_HEADERS = ['Retry-After', 'Location'] as const;

const CORS_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] as const;

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/** A serialised origin: scheme, host and optional port; no path, no wildcard. */
const ORIGIN = /^https?:\/\/[^/\s*?#]+$/;

/**
 * Throws unless every entry is an origin that can match a browser's `Origin` header exactly,
 * so a configuration mistake (`*`, a trailing slash, a path) fails at startup instead of
 * silently allowing nothing (or everything).
 */
export function checkCorsOrigins(origins: readonly string[]): void {
  for (const origin of origins) {
    if (!ORIGIN.test(origin)) {
      throw new Error(
        `CORS_ORIGIN entry "${origin}" is not an origin: use the exact scheme://host[:port] a browser sends (no path, no trailing slash, no wildcard)`,
      );
    }
  }
}

/** Register the CORS allow-list (nothing when the list is empty). */
export async function registerCors(app: FastifyInstance): Promise<void> {
  const origins = [...app.dualstore.options.corsOrigins];
  checkCorsOrigins(origins);
  if (origins.length === 0) return;
  await app.register(fastifyCors, {
    // An array is compared with `===` per entry (@fastify/cors isRequestOriginAllowed): exact match,
    // so `https://example.com.evil.com` and `null` are refused. A non-string origin option also
    // makes the plugin add `Vary: Origin` to every response, so caches keep answers apart.
    origin: origins,
    methods: [...CORS_METHODS],
    allowedHeaders: [...CORS_ALLOWED_HEADERS],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    // Bearer tokens, not cookies: browsers need no credentials mode.
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_S,
    // An OPTIONS request without Origin is not a preflight; answer it like any other (204)
    // rather than with the plugin's plain-text 400.
    strictPreflight: false,
  });
}
