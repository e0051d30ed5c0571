// SPDX-License-Identifier: GPL-3.0-or-later
// Property-based fuzzing (fast-check) of bodies, query strings, path parameters and headers on
// every doc, search, work, retention and topic route: no input yields a 5xx, every 4xx is
// problem+json with a registered code that matches the status, and the server still answers.
// The route list is collected from the route modules themselves (an onRoute hook on a probe
// instance), and each is checked to exist in the real app, so a new route cannot slip through.

import { ERROR_CODES } from '@dualstore/core';
import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveOptions } from '../../packages/dualstore-http/src/context.js';
import { registerDocRoutes } from '../../packages/dualstore-http/src/routes/docs.js';
import { registerRetentionRoutes } from '../../packages/dualstore-http/src/routes/retention.js';
import { registerSearchRoutes } from '../../packages/dualstore-http/src/routes/search.js';
import { registerTopicRoutes } from '../../packages/dualstore-http/src/routes/topics.js';
import { registerWorkRoutes } from '../../packages/dualstore-http/src/routes/work.js';
import { request, startServer, type TestServer } from '../helpers.js';

/** Runs per route: ~20 routes × this many requests keeps the file to a few seconds. */
const RUNS = 60;

interface Route {
  method: string;
  url: string;
  /** The query parameters and body fields the route's own schemas name. */
  queryKeys: string[];
  bodyKeys: string[];
}

/** Keys of a zod object schema (or of the object inside a wrapper), else none. */
function shapeKeys(schema: unknown): string[] {
  const shape = (schema as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape === undefined ? [] : Object.keys(shape);
}

let server: TestServer;
let routes: Route[] = [];
let docId = '';

beforeAll(async () => {
  server = await startServer({ listen: true });
  const probe = Fastify();
  probe.decorate('dualstore', { store: server.store, options: resolveOptions({ store: server.store }) });
  probe.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const schema = route.schema as { querystring?: unknown; body?: unknown } | undefined;
      routes.push({
        method,
        url: route.url,
        queryKeys: shapeKeys(schema?.querystring),
        bodyKeys: shapeKeys(schema?.body),
      });
    }
  });
  for (const register of [
    registerDocRoutes,
    registerSearchRoutes,
    registerWorkRoutes,
    registerRetentionRoutes,
    registerTopicRoutes,
  ]) {
    register(probe);
  }
  await probe.close();
  routes = routes.sort((a, b) => `${a.url} ${a.method}`.localeCompare(`${b.url} ${b.method}`));
  const seeded = await request(server, 'POST', '/v1/events', { body: { id: 'fuzz-doc', text: 'seed' } });
  docId = seeded.body.id;
});
afterAll(() => server.close());

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) });
const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), printable);

/** Fastify's router refuses longer parameters itself (see the router-error tests below). */
const MAX_PARAM_LENGTH = 256;
const paramValue = (name: string) =>
  fc
    .oneof(
      { weight: 8, arbitrary: fc.constant(name === 'c' ? 'events' : name === 'id' ? 'fuzz-doc' : 'fuzz-topic') },
      { weight: 1, arbitrary: fc.constantFrom('nope', 'recent', 'topics', 'a b', '..', '%', '%zz', '\u0000') },
      { weight: 2, arbitrary: anyText },
    )
    .filter((value) => encodeURIComponent(value).length <= MAX_PARAM_LENGTH);

const QUERY_KEYS = [
  'limit',
  'before',
  'filter',
  'topic',
  'status',
  'mention',
  'tool',
  'q',
  'k',
  'mode',
  'order',
  'wait_for',
  'older_than',
  '__proto__',
  'constructor',
  'x',
];
const filterText = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
const queryValue = fc.oneof(
  anyText,
  fc.integer().map(String),
  fc.constantFrom('0', '1', '50', '200', '201', '-1', '1e3', '0x10', 'NaN', 'completed', '30d', 'fts', 'recent'),
  filterText,
  filterText.map((t) => Buffer.from(t).toString('base64url')),
  fc.constant(JSON.stringify({ 'metadata.a': { $gte: 1 }, topic: { $in: ['a', 'b'] } })),
);
/** Mostly the route's own parameters (so requests get past the strict query check), sometimes any. */
const queryFor = (route: Route) =>
  fc.array(
    fc.tuple(
      fc.oneof(
        { weight: route.queryKeys.length > 0 ? 12 : 0, arbitrary: fc.constantFrom('', ...route.queryKeys) },
        { weight: 1, arbitrary: fc.constantFrom(...QUERY_KEYS) },
        { weight: 1, arbitrary: anyText },
      ),
      queryValue,
    ),
    { maxLength: route.queryKeys.length > 0 ? 3 : 1 },
  );

const BODY_KEYS = [
  'id',
  'text',
  'metadata',
  'topic',
  'source',
  'timestamp',
  'available_at',
  'max_attempts',
  'correlation_id',
  'items',
  'agent',
  'filter',
  'lease_ms',
  'limit',
  'wait_ms',
  'token',
  'error',
  'retry_in_ms',
  'status',
  'description',
  'prompt',
];
const fieldValue = fc.oneof(
  anyText,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('success', 'failure', 'w1', 'agent:bot', 100, 1000, 0, -1, 86_400_001),
  fc.jsonValue({ maxDepth: 4 }),
  fc.array(fc.dictionary(fc.constantFrom('text', 'metadata', 'id', 'x'), fc.jsonValue({ maxDepth: 2 })), {
    maxLength: 3,
  }),
);
/** Nesting far past the depth limit, in an object and in arrays. */
const deepBody = fc
  .integer({ min: 30, max: 3000 })
  .map((n) => `{"text":"deep","metadata":${'{"a":'.repeat(n)}[${'['.repeat(n)}${']'.repeat(n)}]${'}'.repeat(n)}}`);
/** A valid body per route: most fuzzed bodies start from it, so they reach the store. */
const BASE_BODY: Record<string, Record<string, unknown>> = {
  'POST /v1/:c': { text: 'fuzz' },
  'POST /v1/:c/batch': { items: [{ text: 'fuzz' }] },
  'POST /v1/:c/claim': { agent: 'fuzzer', wait_ms: 0 },
  'POST /v1/:c/:id/complete': { token: 't' },
  'POST /v1/:c/:id/fail': { token: 't', error: 'e' },
  'POST /v1/:c/:id/extend': { token: 't', lease_ms: 1000 },
  'POST /v1/:c/:id/release': { token: 't' },
  'POST /v1/:c/:id/reply': { text: 'r', status: 'success' },
  'PUT /v1/topics/:name': { prompt: 'p' },
};
/** A valid query per route, which the fuzzed parameters are added to. */
const BASE_QUERY: Record<string, Array<[string, string]>> = {
  'GET /v1/:c/search': [['q', 'seed']],
  'DELETE /v1/:c/docs': [['status', 'failed']],
};

const bodyFor = (route: Route) =>
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc
        .dictionary(fc.constantFrom(...(route.bodyKeys.length > 0 ? route.bodyKeys : BODY_KEYS)), fieldValue, {
          maxKeys: 2,
        })
        .map((b) => JSON.stringify({ ...BASE_BODY[`${route.method} ${route.url}`], ...b })),
    },
    {
      weight: 8,
      arbitrary: fc
        .dictionary(fc.constantFrom(...(route.bodyKeys.length > 0 ? route.bodyKeys : BODY_KEYS)), fieldValue, {
          maxKeys: 5,
        })
        .map((b) => JSON.stringify(b)),
    },
    {
      weight: 1,
      arbitrary: fc.dictionary(fc.constantFrom(...BODY_KEYS), fieldValue, { maxKeys: 5 }).map((b) => JSON.stringify(b)),
    },
    { weight: 1, arbitrary: deepBody },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: anyText },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/problem+json',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/json; charset=latin1',
  '',
];
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'host', 'connection', 'expect', 'upgrade']);
/** Headers: a JSON content type most of the time (rarely on bodiless routes), plus noise. */
const headersFor = (route: Route) =>
  fc.record(
    {
      'content-type': fc.oneof(
        {
          weight: route.method === 'GET' || route.method === 'DELETE' ? 1 : 12,
          arbitrary: fc.constant('application/json'),
        },
        { weight: route.method === 'GET' || route.method === 'DELETE' ? 12 : 0, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        { weight: 1, arbitrary: printable },
      ),
      'idempotency-key': fc.oneof(printable, fc.constantFrom('k1', 'k2')),
      'content-encoding': fc.constantFrom('gzip', 'identity', 'br'),
      other: fc.dictionary(
        fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).filter((name) => !HOP_BY_HOP.has(name)),
        printable,
        { maxKeys: 3 },
      ),
    },
    { requiredKeys: ['content-type'] },
  );

/** Keep long-polls short: a valid wait_ms would otherwise hold a fuzz run for up to 30 s. */
function bounded(route: Route, payload: string | undefined): string | undefined {
  if (payload === undefined || !route.url.endsWith('/claim')) return payload;
  try {
    const parsed = JSON.parse(payload);
    if (parsed !== null && typeof parsed === 'object' && typeof parsed.wait_ms === 'number' && parsed.wait_ms > 20) {
      if (parsed.wait_ms <= 30_000) parsed.wait_ms = 20;
      return JSON.stringify(parsed);
    }
  } catch {
    // Not JSON: sent as it is.
  }
  return payload;
}

function urlFor(route: Route, params: Record<string, string>, pairs: Array<[string, string]>): string {
  const path = route.url.replace(/:([a-z]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  const search = new URLSearchParams(pairs).toString();
  return search === '' ? path : `${path}?${search}`;
}

describe('fuzzing every route', () => {
  it('collected the routes, and the app serves each of them', () => {
    expect(routes.length).toBeGreaterThanOrEqual(17);
    for (const route of routes) {
      expect(
        server.app.hasRoute({ method: route.method as 'GET', url: route.url }),
        `${route.method} ${route.url}`,
      ).toBe(true);
    }
  });

  it('never answers 5xx; every error is problem+json with a registered code', async () => {
    const seen = new Map<string, number>();
    for (const route of routes) {
      const names = [...route.url.matchAll(/:([a-z]+)/g)].map((m) => m[1] as string);
      const params = fc.record(Object.fromEntries(names.map((name) => [name, paramValue(name)])));
      await fc.assert(
        fc.asyncProperty(params, queryFor(route), headersFor(route), bodyFor(route), async (p, fuzzed, h, b) => {
          const q = [...(BASE_QUERY[`${route.method} ${route.url}`] ?? []), ...fuzzed];
          const { other, ...named } = h;
          if (named['content-type'] === undefined) delete named['content-type'];
          const payload = route.method === 'GET' || route.method === 'DELETE' ? undefined : bounded(route, b);
          const res = await server.app.inject({
            method: route.method as 'GET',
            url: urlFor(route, p as Record<string, string>, q),
            headers: { ...other, ...named },
            ...(payload === undefined ? {} : { payload }),
          });
          const where = `${route.method} ${route.url} → ${res.statusCode} ${res.body.slice(0, 200)}`;
          const key = `${route.method} ${route.url} ${res.statusCode} ${res.statusCode >= 400 ? JSON.parse(res.body).code : ''}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          expect(res.statusCode, where).toBeLessThan(500);
          if (res.statusCode >= 400) {
            expect(res.headers['content-type'], where).toMatch(/^application\/problem\+json/);
            const problem = JSON.parse(res.body);
            expect(Object.hasOwn(ERROR_CODES, problem.code), where).toBe(true);
            expect(problem.status, where).toBe(res.statusCode);
            expect(ERROR_CODES[problem.code as keyof typeof ERROR_CODES].status, where).toBe(res.statusCode);
          }
        }),
        { numRuns: RUNS },
      );
    }
    if (process.env.FUZZ_STATS)
      console.log(
        [...seen]
          .sort()
          .map(([k, n]) => `${n}\t${k}`)
          .join('\n'),
      );
    // The server is alive and still serves its seed doc over a real socket.
    expect((await request(server, 'GET', '/v1/health')).status).toBe(200);
    expect((await request(server, 'GET', `/v1/events/${docId}`)).status).toBe(200);
  });
});

// Regression tests for the router's own errors, which bypass the app's error handler unless
// Fastify's `frameworkErrors` option routes them there: found by the fuzzer above.
describe('router errors', () => {
  it('answers a path parameter over maxParamLength with problem+json', async () => {
    const res = await server.app.inject({ method: 'GET', url: `/v1/events/${'x'.repeat(300)}` });
    expect(res.statusCode).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers a malformed percent-encoding in the path with problem+json', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/v1/events/%zz' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
