// SPDX-License-Identifier: GPL-3.0-or-later
// The OpenAPI document: the committed openapi.yaml is exactly what the code generates, it is a
// valid OpenAPI 3.1 document, it documents every error code and every route, and the server
// serves it at /openapi.json and a UI at /docs, both without a token.

import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '@dualstore/core';
import { validate } from '@readme/openapi-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { generateOpenApiYaml, OPENAPI_YAML_PATH } from '../../scripts/gen-openapi.js';
import { startServer, type TestServer } from '../helpers.js';

type OpenApiDocument = {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, { properties?: Record<string, { enum?: string[] }> }> };
};

const TOKEN = 'openapi-test-token';
let server: TestServer;
let committed: string;
let generated: string;

beforeAll(async () => {
  committed = readFileSync(OPENAPI_YAML_PATH, 'utf8');
  generated = await generateOpenApiYaml();
  server = await startServer({ listen: false, authToken: TOKEN, store: { search: false } });
});
afterAll(() => server?.close());

/** Every route the app registered, as `METHOD /path` pairs, read from Fastify's own route tree. */
function registeredRoutes(): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const parents: string[] = [];
  for (const line of server.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^(.*?)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    const path = (parents[depth - 1] ?? '') + match[2]!;
    parents[depth] = path;
    parents.length = depth + 1;
    for (const method of match[3]?.split(', ') ?? []) routes.push({ method, path });
  }
  return routes;
}

describe('openapi.yaml', () => {
  it('is exactly what the code generates', () => {
    // A plain `expect(generated).toBe(committed)` would print a 2,000-line diff without the fix.
    if (generated !== committed) {
      expect.fail('openapi.yaml is out of date with the route schemas: run pnpm openapi and commit the result');
    }
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const document = parse(generated) as OpenApiDocument;
    expect(document.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(document) as unknown as Parameters<typeof validate>[0]);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every error code of the registry, and no other, in the Problem schema', () => {
    const document = parse(generated) as OpenApiDocument;
    const codes = document.components.schemas.Problem?.properties?.code?.enum ?? [];
    expect([...codes].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it('documents every route the server registers, except the documentation UI itself', () => {
    const document = parse(generated) as OpenApiDocument;
    const undocumented = registeredRoutes()
      .filter(({ method, path }) => method !== 'HEAD' && method !== 'OPTIONS' && !path.startsWith('/docs'))
      .map(({ method, path }) => ({ method, path: path.replace(/:([A-Za-z_]+)/g, '{$1}') }))
      .filter(({ method, path }) => document.paths[path]?.[method.toLowerCase()] === undefined);
    expect(undocumented).toEqual([]);
  });

  it('marks public routes as needing no token, stream routes as taking a ticket, the rest the bearer token', () => {
    const document = parse(generated) as OpenApiDocument;
    expect(document.paths['/v1/health']?.get?.security).toEqual([]);
    expect(document.paths['/openapi.json']?.get?.security).toEqual([]);
    expect(document.paths['/v1/{c}/stream']?.get?.security).toEqual([{ bearer: [] }, { ticket: [] }]);
    expect(document.paths['/v1/collections']?.get?.security).toBeUndefined();
    expect((document as unknown as { security: unknown }).security).toEqual([{ bearer: [] }]);
  });

  it('gives every response the content type the server sends', () => {
    const document = parse(generated) as OpenApiDocument;
    const contentTypes = (path: string, status: string) =>
      Object.keys((document.paths[path]?.get?.responses[status] as { content?: object } | undefined)?.content ?? {});
    expect(contentTypes('/v1/{c}/stats', '404')).toEqual(['application/problem+json']);
    expect(contentTypes('/v1/{c}/stats', '200')).toEqual(['application/json']);
    expect(contentTypes('/v1/{c}/stream', '200')).toEqual(['text/event-stream']);
    expect(contentTypes('/v1/stream', '200')).toEqual(['text/event-stream']);
  });
});

describe('served documentation', () => {
  it('is served by a server that does require a token elsewhere', async () => {
    // Guards the two tests below: "public" means something only when auth is enforced.
    const res = await server.app.inject({ method: 'GET', url: '/v1/collections' });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('unauthorized');
  });

  it('serves the same document at /openapi.json without a token', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual(parse(committed));
  });

  it('serves the Swagger UI at /docs without a token', async () => {
    for (const url of ['/docs', '/docs/', '/docs/static/swagger-initializer.js', '/docs/json']) {
      const res = await server.app.inject({ method: 'GET', url });
      expect({ url, status: res.statusCode }).toEqual({ url, status: 200 });
    }
    const page = await server.app.inject({ method: 'GET', url: '/docs' });
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('swagger-ui');
  });
});
