// SPDX-License-Identifier: GPL-3.0-or-later
// Authentication and authorization (DESIGN §8) as one onRequest hook, so it runs before body
// parsing and validation ("authentication is checked before input validation"): an anonymous
// caller learns nothing about a route's input rules.
//
// Modes (a token the CLI creates or revokes in another process counts from the next event-loop
// turn; the store is asked at most once per turn whether any token exists):
// - open: no AUTH_TOKEN and no token was ever stored. Every caller has every scope.
// - authenticated: otherwise. `Authorization: Bearer <secret>` is AUTH_TOKEN (root) or a stored
//   token found by hash; stream routes also take `?ticket=` from POST /v1/tickets.
// A route's `config.scope` says what it needs; a route without one needs `admin` (fail closed),
// and a `/v1` route without one is a startup error.

import { timingSafeEqual } from 'node:crypto';
import { DualStoreError, hashTokenSecret, type TokenInfo, type TokenScope, toIso } from '@dualstore/core';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Caller, RouteScope } from '../context.js';
import { ALL_SCOPES, bearerSecret, checkCollections, checkScope, isRouteScope, ROUTE_SCOPES } from './policy.js';
import { TicketBook } from './tickets.js';

/** A route as the auth hook sees it. */
export interface AuthRoute {
  method: string;
  url: string;
  /** What the hook enforces: the declared scope, or `admin` when none is declared. */
  scope: RouteScope;
  /** Accepts `?ticket=`. */
  stream: boolean;
}

/** A minted stream ticket, as `POST /v1/tickets` returns it. */
export interface IssuedTicket {
  ticket: string;
  expires_at: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The auth plugin's shared surface (the ticket route and tests use it). */
    dualstoreAuth: {
      /** Every route registered after the auth plugin, with the scope it is held to. */
      routes(): AuthRoute[];
      /**
       * Mint a single-use stream ticket carrying the request's caller: its scopes and collections.
       * @throws DualStoreError `rate_limited` (with `Retry-After` set on `reply`) when the caller
       *   holds too many unredeemed tickets.
       */
      issueTicket(request: FastifyRequest, reply: FastifyReply): IssuedTicket;
    };
  }
  interface FastifyRequest {
    /** The stored token's hash when the caller authenticated with one; its tickets re-check it. */
    tokenHash?: string;
  }
}

/** A `/v1` route must declare its scope; anything else without one is held to `admin`. */
const API_PREFIX = '/v1/';

function unauthorized(detail: string): DualStoreError {
  return new DualStoreError('unauthorized', detail);
}

function tokenCaller(token: TokenInfo): Caller {
  const caller: Caller = { kind: 'token', tokenId: token.id, scopes: token.scopes, clientKey: token.id };
  if (token.collections !== null) caller.collections = token.collections;
  return caller;
}

/**
 * Register the auth hook, the route-scope check and the ticket book. Must run before any route
 * is added: it only sees (and so only guards the declarations of) routes registered after it.
 */
export function registerAuth(app: FastifyInstance): void {
  const { store, options } = app.dualstore;
  if (options.authToken !== undefined && options.authToken.length === 0) {
    throw new Error('authToken is empty: unset AUTH_TOKEN to run without one, or give it a long random value');
  }
  // Only the hash of AUTH_TOKEN is kept; presented secrets are hashed and compared with
  // timingSafeEqual, so neither the comparison time nor a length difference says anything.
  const rootDigest =
    options.authToken === undefined ? undefined : Buffer.from(hashTokenSecret(options.authToken), 'hex');
  const tickets = new TicketBook(options.now);
  const routes: RouteOptions[] = [];

  app.addHook('onRoute', (route) => {
    const scope = route.config?.scope;
    if (scope !== undefined && !isRouteScope(scope)) {
      throw new Error(
        `${route.method} ${route.url}: config.scope "${String(scope)}" is not one of ${ROUTE_SCOPES.join(', ')}`,
      );
    }
    if (scope === undefined && route.url.startsWith(API_PREFIX)) {
      throw new Error(
        `${route.method} ${route.url}: every /v1 route declares config.scope (${ROUTE_SCOPES.join(', ')}), so no route is unguarded by accident`,
      );
    }
    // Kept by reference: hooks registered later (the OpenAPI plugin marks /docs public) may still
    // change the config, and the table must show what the hook will enforce.
    routes.push(route);
  });

  app.addHook('onClose', async () => tickets.clear());

  app.decorate('dualstoreAuth', {
    routes: () =>
      routes.flatMap((route) =>
        [route.method].flat().map((method) => ({
          method,
          url: route.url,
          scope: route.config?.scope ?? 'admin',
          stream: route.config?.stream === true,
        })),
      ),
    issueTicket(request: FastifyRequest, reply: FastifyReply): IssuedTicket {
      const caller = request.caller;
      if (caller === undefined) throw unauthorized('a ticket needs an authenticated caller');
      const tokenHash = request.tokenHash;
      const issued = tickets.issue(tokenHash === undefined ? { caller } : { caller, tokenHash });
      if ('retryAfterMs' in issued) {
        reply.header('retry-after', Math.ceil(issued.retryAfterMs / 1000));
        throw new DualStoreError(
          'rate_limited',
          'too many unused stream tickets: open streams with them or let them expire',
        );
      }
      return { ticket: issued.ticket, expires_at: toIso(issued.expiresAt) };
    },
  });
  app.decorateRequest('tokenHash', undefined);

  // Tokens are revoked, never deleted, so once one exists auth stays on: remember that instead of
  // asking the store on every request. Until then the store is asked once per event-loop turn,
  // so a token the CLI just created ends open mode for the next request: the requests that share
  // an answer were already waiting on their sockets when the turn began. (Asked per request, the
  // read cost ~5 µs: 6% of the server's time under 50 inserting connections, measured.)
  let tokensExist = false;
  let askedThisTurn: Promise<boolean> | undefined;
  /** The store's answer within the current turn, once it has come (cleared with askedThisTurn). */
  let answerThisTurn: boolean | undefined;

  /** Whether auth is on, when that is known without waiting; undefined when the store must be asked. */
  function authRequiredNow(): boolean | undefined {
    if (rootDigest !== undefined || tokensExist) return true;
    return answerThisTurn;
  }

  async function authRequired(): Promise<boolean> {
    const known = authRequiredNow();
    if (known !== undefined) return known;
    if (askedThisTurn === undefined) {
      askedThisTurn = store.hasTokens().then((answer) => {
        answerThisTurn = answer;
        return answer;
      });
      setImmediate(() => {
        askedThisTurn = undefined;
        answerThisTurn = undefined;
      });
    }
    tokensExist = await askedThisTurn;
    return tokensExist;
  }

  /** The caller a bearer secret stands for, or undefined when it is no valid token. */
  async function bearerCaller(request: FastifyRequest, secret: string): Promise<Caller | undefined> {
    const hash = hashTokenSecret(secret);
    if (rootDigest !== undefined && timingSafeEqual(Buffer.from(hash, 'hex'), rootDigest)) {
      return { kind: 'root', scopes: ALL_SCOPES, clientKey: 'root' };
    }
    const token = await store.findTokenByHash(hash);
    if (token === undefined || token.revoked_at !== null) return undefined;
    request.tokenHash = hash;
    return tokenCaller(token);
  }

  async function ticketCaller(ticket: string): Promise<Caller | undefined> {
    const grant = tickets.redeem(ticket);
    // A ticket minted while the server was open carries no authority once auth is on.
    if (grant === undefined || grant.caller.kind === 'open') return undefined;
    if (grant.tokenHash !== undefined) {
      const token = await store.findTokenByHash(grant.tokenHash);
      if (token === undefined || token.revoked_at !== null) return undefined;
      return tokenCaller(token);
    }
    return grant.caller;
  }

  // Callback style with a synchronous path: in open mode, once the store has answered for this
  // turn, a request is admitted without a promise or a microtask hop (an async hook pays both on
  // every request). Authentication goes through the store and stays asynchronous.
  app.addHook('onRequest', (request, _reply, done) => {
    let pending: Promise<void> | undefined;
    try {
      pending = authenticate(request);
    } catch (error) {
      done(error as FastifyError);
      return;
    }
    if (pending === undefined) done();
    else pending.then(() => done(), done);
  });

  /** Set `request.caller` or throw; returns a promise only when the store must be asked. */
  function authenticate(request: FastifyRequest): Promise<void> | undefined {
    // Unknown paths get their 404/405 from the not-found handler; there is nothing to guard.
    if (request.is404) return undefined;
    const config = request.routeOptions.config;
    const needed = config.scope ?? 'admin';
    if (needed === 'public') return undefined;

    const query = request.query as Record<string, unknown> | undefined;
    if (query !== undefined && Object.hasOwn(query, 'token')) {
      throw unauthorized(
        'tokens are never accepted in a URL (they end up in logs and history): send Authorization: Bearer <token>, or for a stream use ?ticket= from POST /v1/tickets',
      );
    }
    let ticket: string | undefined;
    if (query !== undefined && Object.hasOwn(query, 'ticket')) {
      if (config.stream !== true) throw unauthorized('?ticket= is accepted only by the stream routes');
      ticket = typeof query.ticket === 'string' ? query.ticket : '';
      // The route's own query validation should neither see nor echo the ticket.
      delete query.ticket;
    }
    if (authRequiredNow() === false) {
      admit(request, openCaller(request), needed);
      return undefined;
    }
    return authenticateWithStore(request, needed, ticket);
  }

  async function authenticateWithStore(request: FastifyRequest, needed: TokenScope, ticket: string | undefined) {
    let caller: Caller | undefined;
    if (!(await authRequired())) {
      caller = openCaller(request);
    } else {
      const header = request.headers.authorization;
      if (header !== undefined) {
        const secret = bearerSecret(header);
        if (secret === undefined) throw unauthorized('send the token as Authorization: Bearer <token>');
        caller = await bearerCaller(request, secret);
        if (caller === undefined) throw unauthorized('the token is not valid, or it was revoked');
      } else if (ticket !== undefined) {
        caller = await ticketCaller(ticket);
        if (caller === undefined) {
          throw unauthorized('the ticket is unknown, used or expired: mint a new one with POST /v1/tickets');
        }
      } else {
        throw unauthorized('this server requires a token: send Authorization: Bearer <token>');
      }
    }
    admit(request, caller, needed);
  }

  function openCaller(request: FastifyRequest): Caller {
    return { kind: 'open', scopes: ALL_SCOPES, clientKey: request.ip };
  }

  function admit(request: FastifyRequest, caller: Caller, needed: TokenScope): void {
    checkScope(caller, needed);
    checkCollections(caller, request);
    request.caller = caller;
  }
}
