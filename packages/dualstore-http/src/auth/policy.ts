// SPDX-License-Identifier: GPL-3.0-or-later
// Who may call what: the route's declared scope against the caller's scopes, and a token's
// collection limit against the collections the request names. Pure functions of the request, so
// the rules read in one place.

import { DualStoreError, TOKEN_SCOPES, type TokenScope } from '@dualstore/core';
import type { FastifyRequest } from 'fastify';
import type { Caller, RouteScope } from '../context.js';

/** Every value `config.scope` may take. */
export const ROUTE_SCOPES: readonly RouteScope[] = ['public', ...TOKEN_SCOPES];

/** Scopes of the open (no auth configured) and root (`AUTH_TOKEN`) callers. */
export const ALL_SCOPES: readonly TokenScope[] = TOKEN_SCOPES;

export function isRouteScope(value: unknown): value is RouteScope {
  return typeof value === 'string' && (ROUTE_SCOPES as readonly string[]).includes(value);
}

/** Longest secret worth hashing; real ones are 47 characters, AUTH_TOKEN is chosen by people. */
const MAX_SECRET_LENGTH = 1024;
const BEARER = /^Bearer +(\S+) *$/i;

/** The secret of an `Authorization: Bearer <secret>` header, or undefined when it is not one. */
export function bearerSecret(header: string): string | undefined {
  const secret = BEARER.exec(header)?.[1];
  return secret !== undefined && secret.length <= MAX_SECRET_LENGTH ? secret : undefined;
}

/**
 * Throws `forbidden` unless `caller` may use a route needing `needed`. `admin` implies every
 * scope; `read`, `write` and `claim` are independent (a pusher's `write` token cannot read what
 * others wrote), so a token that does both says so: `read,write`.
 */
export function checkScope(caller: Caller, needed: TokenScope): void {
  if (caller.scopes.includes('admin') || caller.scopes.includes(needed)) return;
  throw new DualStoreError(
    'forbidden',
    `this route needs a token with the "${needed}" scope (or "admin"); this token has ${caller.scopes.join(', ')}`,
  );
}

/**
 * Throws `forbidden` when `caller` is limited to some collections and the request names another
 * one: the `:c` path parameter, or for the multi-collection stream every name in
 * `?collections=`. Without `?collections=` that stream means "every collection I may read": the
 * stream route narrows it to `caller.collections` (sse/routes.ts), so it is not refused here.
 * Routes that name no collection (topics, the collection list, tickets) are governed by scope
 * alone.
 */
export function checkCollections(caller: Caller, request: FastifyRequest): void {
  const allowed = caller.collections;
  if (allowed === undefined) return;
  const params = request.params as Record<string, unknown> | undefined;
  let named: string[] | undefined;
  if (typeof params?.c === 'string') {
    named = [params.c];
  } else if (request.routeOptions.config.stream === true) {
    const list = (request.query as Record<string, unknown> | undefined)?.collections;
    // Anything but one string is the route's validation error to report, after auth.
    if (typeof list === 'string') named = list.split(',').map((name) => name.trim());
  }
  for (const name of named ?? []) {
    if (name !== '' && !allowed.includes(name)) {
      throw new DualStoreError(
        'forbidden',
        `this token is limited to the collections ${allowed.join(', ')}; "${name.slice(0, 80)}" is not one of them`,
      );
    }
  }
}
