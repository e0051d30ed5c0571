// SPDX-License-Identifier: GPL-3.0-or-later
// The auth matrix over EVERY route the app registers, taken from the auth plugin's own route
// table at run time — a route added later is covered without editing this file. Per route: no
// token, a wrong token and a revoked token are 401 `unauthorized`; a token without the route's
// scope is 403 `forbidden`; a token with exactly that scope, an admin token and AUTH_TOKEN get
// past auth (anything but 401/403); a token limited to another collection is 403 on `:c` routes.
// Bodies are `{}`: authentication comes before validation, so the body never matters for 401/403.

import { hashTokenSecret, newTokenSecret, type TokenScope } from '@dualstore/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';

type AuthRoute = ReturnType<TestServer['app']['dualstoreAuth']['routes']>[number];

const ROOT = newTokenSecret();
const COLLECTION_PARAM = /:c(?=\/|$)/;
const WRONG = newTokenSecret();

let server: TestServer;
let routes: AuthRoute[];
const secrets: Record<string, string> = {};

async function addToken(label: string, scopes: TokenScope[], collections?: string[]): Promise<string> {
  const secret = newTokenSecret();
  const input = { name: label, scopes, hash: hashTokenSecret(secret) };
  const token = await server.store.createToken(collections === undefined ? input : { ...input, collections });
  secrets[label] = secret;
  return token.id;
}

/** A token that lacks `scope` (and admin), for the 403 case. */
function tooSmall(scope: TokenScope): TokenScope[] {
  return scope === 'read' ? ['write', 'claim'] : scope === 'admin' ? ['read', 'write', 'claim'] : ['read'];
}

/** A concrete URL for a route pattern: every collection param is `events`. */
function urlFor(route: AuthRoute, collection = 'events'): string {
  let path = route.url
    .replace(new RegExp(COLLECTION_PARAM, 'g'), collection)
    .replace(/:[A-Za-z_]+/g, 'x1')
    .replace(/\*$/, 'x1');
  // The multi-collection stream names its collections in the query.
  if (route.stream && !COLLECTION_PARAM.test(route.url)) path += `?collections=${collection}`;
  return path;
}

/**
 * One request, reading only what the matrix needs. Streams that open are aborted at once (they
 * would never end by themselves); problem bodies are parsed for their `code`.
 */
async function probe(
  route: AuthRoute,
  options: { secret?: string; collection?: string } = {},
): Promise<{ status: number; code?: string }> {
  const headers: Record<string, string> = {};
  if (options.secret !== undefined) headers.authorization = `Bearer ${options.secret}`;
  const hasBody = !['GET', 'HEAD', 'OPTIONS'].includes(route.method);
  if (hasBody) headers['content-type'] = 'application/json';
  const abort = new AbortController();
  // A route that hangs fails with its own name instead of timing out the whole table.
  const timer = setTimeout(() => abort.abort(new Error(`${route.method} ${route.url} did not answer`)), 10_000);
  const response = await fetch(`${server.url}${urlFor(route, options.collection)}`, {
    method: route.method,
    headers,
    body: hasBody ? '{}' : undefined,
    signal: abort.signal,
  }).finally(() => clearTimeout(timer));
  const type = response.headers.get('content-type') ?? '';
  if (!type.includes('problem+json')) {
    abort.abort();
    await response.body?.cancel().catch(() => {});
    return { status: response.status };
  }
  // HEAD answers carry the problem's headers but no body: the status alone must then tell.
  const text = await response.text();
  const code = text === '' ? undefined : (JSON.parse(text) as { code?: string }).code;
  if (code === undefined && route.method === 'HEAD') {
    const guess = response.status === 401 ? 'unauthorized' : response.status === 403 ? 'forbidden' : undefined;
    return guess === undefined ? { status: response.status } : { status: response.status, code: guess };
  }
  return code === undefined ? { status: response.status } : { status: response.status, code };
}

beforeAll(async () => {
  server = await startServer({ authToken: ROOT, store: { search: false } });
  routes = server.app.dualstoreAuth
    .routes()
    // CORS preflights are answered before auth; HEAD mirrors GET (kept: its own route, same guard).
    .filter((route) => route.method !== 'OPTIONS');
  for (const scope of ['read', 'write', 'claim', 'admin'] as const) {
    await addToken(scope, [scope]);
    await addToken(`not-${scope}`, tooSmall(scope));
    await addToken(`${scope}-other-collection`, [scope], ['agent_tasks']);
  }
  const revoked = await addToken('revoked', ['admin']);
  await server.store.revokeToken(revoked);
});
afterAll(() => server.close());

describe('auth matrix over every registered route', () => {
  it('the route table holds the API and every /v1 route declares a scope', () => {
    const urls = routes.map((route) => `${route.method} ${route.url}`);
    expect(urls).toContain('GET /v1/health');
    expect(urls).toContain('POST /v1/tickets');
    expect(urls).toContain('GET /v1/:c/stats');
    for (const route of routes.filter((r) => r.url.startsWith('/v1/'))) {
      expect(['public', 'read', 'write', 'claim', 'admin'], `${route.method} ${route.url}`).toContain(route.scope);
    }
  });

  it('public routes answer without a token', async () => {
    const open = routes.filter((route) => route.scope === 'public');
    expect(open.map((route) => route.url)).toContain('/v1/health');
    for (const route of open) {
      const result = await probe(route);
      expect([401, 403], `${route.method} ${route.url}`).not.toContain(result.status);
    }
  });

  it('no token, a wrong token and a revoked token are 401 unauthorized on every guarded route', async () => {
    for (const route of routes.filter((r) => r.scope !== 'public')) {
      const name = `${route.method} ${route.url}`;
      for (const secret of [undefined, WRONG, secrets.revoked]) {
        const result = await probe(route, secret === undefined ? {} : { secret });
        expect(result, `${name} with ${secret === undefined ? 'no token' : 'a bad token'}`).toEqual({
          status: 401,
          code: 'unauthorized',
        });
      }
    }
  });

  it("a token without the route's scope is 403 forbidden on every guarded route", async () => {
    for (const route of routes.filter((r) => r.scope !== 'public')) {
      const scope = route.scope as TokenScope;
      const result = await probe(route, { secret: secrets[`not-${scope}`] as string });
      expect(result, `${route.method} ${route.url} with ${tooSmall(scope).join(',')}`).toEqual({
        status: 403,
        code: 'forbidden',
      });
    }
  });

  it('the exact scope, admin and AUTH_TOKEN pass auth on every guarded route', async () => {
    for (const route of routes.filter((r) => r.scope !== 'public')) {
      for (const label of [route.scope, 'admin', 'root']) {
        const secret = label === 'root' ? ROOT : (secrets[label] as string);
        const result = await probe(route, { secret });
        expect([401, 403], `${route.method} ${route.url} with ${label}: ${JSON.stringify(result)}`).not.toContain(
          result.status,
        );
      }
    }
  });

  it('a token limited to other collections is 403 on every route that names a collection', async () => {
    const named = routes.filter((r) => r.scope !== 'public' && (COLLECTION_PARAM.test(r.url) || r.stream));
    expect(named.length).toBeGreaterThan(0);
    for (const route of named) {
      const secret = secrets[`${route.scope}-other-collection`] as string;
      const name = `${route.method} ${route.url}`;
      expect(await probe(route, { secret }), name).toEqual({ status: 403, code: 'forbidden' });
      const own = await probe(route, { secret, collection: 'agent_tasks' });
      expect([401, 403], `${name} on its own collection: ${JSON.stringify(own)}`).not.toContain(own.status);
    }
  });
});
