// SPDX-License-Identifier: GPL-3.0-or-later
// The OpenAPI document (DESIGN §4: `GET /openapi.json`, `GET /docs`). @fastify/swagger collects
// every route registered after this plugin and fastify-type-provider-zod turns the routes' zod
// schemas into OpenAPI 3.1 (schemas with `.meta({ id })` become shared components). The same
// document is written to the committed `openapi.yaml` by `pnpm openapi`.

import { STATUS_CODES } from 'node:http';
import fastifySwagger, { type SwaggerTransform, type SwaggerTransformObject } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { VERSION } from './context.js';
import { PROBLEM_CONTENT_TYPE } from './problem.js';

/** Where the interactive API documentation is served. */
export const DOCS_PREFIX = '/docs';
/** Where the OpenAPI document is served as JSON. */
export const OPENAPI_JSON_PATH = '/openapi.json';
/** Name of the bearer scheme under `components.securitySchemes`. */
export const BEARER_SCHEME = 'bearer';
/** Name of the stream-ticket scheme: `?ticket=` from `POST /v1/tickets` (DESIGN §8). */
export const TICKET_SCHEME = 'ticket';

type JsonObject = Record<string, unknown>;

/**
 * Route-level corrections on top of the zod transform, so the document says what the server
 * really does: errors are sent as `application/problem+json` (the error handler renders every
 * one), success responses are described by their status and the SSE routes' as
 * `text/event-stream`, public routes need no token (the global `security` would otherwise claim they do), and
 * stream routes accept a ticket instead of the bearer header.
 */
const transform: SwaggerTransform = (input) => {
  const result = jsonSchemaTransform(input);
  const schema = result.schema as JsonObject | undefined;
  if (schema === undefined || schema.hide === true) return result;
  if (schema.security === undefined) {
    if (input.route.config?.scope === 'public') schema.security = [];
    // Stream routes also take a single-use ticket in the URL, since EventSource cannot send headers.
    else if (input.route.config?.stream === true) schema.security = [{ [BEARER_SCHEME]: [] }, { [TICKET_SCHEME]: [] }];
  }
  // What a success body is sent as: the route's own `produces`, else an event stream for the SSE
  // routes, else JSON (the serializer's only output).
  const produces = Array.isArray(schema.produces)
    ? (schema.produces as string[])
    : input.route.config?.stream === true
      ? ['text/event-stream']
      : ['application/json'];
  const response = schema.response as JsonObject | undefined;
  for (const [status, body] of Object.entries(response ?? {})) {
    if (body === null || typeof body !== 'object' || 'content' in body) continue;
    const code = Number(status);
    const { description } = body as { description?: unknown };
    response![status] =
      code >= 400
        ? {
            description: `${STATUS_CODES[code] ?? 'Error'}: problem details; \`code\` says which error`,
            content: { [PROBLEM_CONTENT_TYPE]: { schema: body } },
          }
        : {
            // Named after the status rather than @fastify/swagger's "Default Response".
            description: typeof description === 'string' ? description : (STATUS_CODES[code] ?? 'Success'),
            content: Object.fromEntries(produces.map((type) => [type, { schema: body }])),
          };
  }
  return result;
};

const SCHEMA_REF = '#/components/schemas/';

/** Every `$ref` to a component schema inside `value`. */
function schemaRefs(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) schemaRefs(item, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(SCHEMA_REF)) {
        into.add(child.slice(SCHEMA_REF.length));
      } else {
        schemaRefs(child, into);
      }
    }
  }
}

/**
 * The zod transform plus pruning: fastify-type-provider-zod emits an input and an output
 * component for every schema with an id in zod's global registry, used or not. Keeping only the
 * components the paths reach makes the document say what the API uses, and makes it independent
 * of which modules happen to be loaded in the process that renders it.
 */
const transformObject: SwaggerTransformObject = (input) => {
  const document = jsonSchemaTransformObject(input) as JsonObject & {
    paths?: unknown;
    components?: { schemas?: Record<string, unknown> };
  };
  const schemas = document.components?.schemas;
  if (schemas === undefined) return document as ReturnType<SwaggerTransformObject>;
  const reached = new Set<string>();
  schemaRefs(document.paths, reached);
  const pending = [...reached];
  while (pending.length > 0) {
    const found = new Set<string>();
    schemaRefs(schemas[pending.pop()!], found);
    for (const name of found) {
      if (!reached.has(name)) {
        reached.add(name);
        pending.push(name);
      }
    }
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name)));
  return { ...document, components: { ...document.components, schemas: kept } } as ReturnType<SwaggerTransformObject>;
};

/**
 * Register @fastify/swagger (OpenAPI 3.1), the Swagger UI at `/docs` and `GET /openapi.json`.
 * Must run before the routes are added: the collector only sees routes registered after it.
 * Every documentation route is public (`config.scope = 'public'`), so the auth hook lets
 * anonymous callers read the API description.
 */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // Swagger UI registers its own routes and takes no route config, so mark them here.
  app.addHook('onRoute', (route) => {
    if (route.url === DOCS_PREFIX || route.url.startsWith(`${DOCS_PREFIX}/`)) {
      route.config = { ...route.config, scope: 'public' };
    }
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'DualStore',
        version: VERSION,
        description:
          'A local-first event store and work queue for LLM agents: collections of docs over REST and ' +
          'Server-Sent Events. Every error is `application/problem+json` with a stable `code`.',
        license: { name: 'GPL-3.0-or-later', identifier: 'GPL-3.0-or-later' },
      },
      components: {
        securitySchemes: {
          [BEARER_SCHEME]: {
            type: 'http',
            scheme: 'bearer',
            description:
              '`AUTH_TOKEN` or a scoped token. Without any token configured, a loopback server is open ' +
              'and needs none.',
          },
          [TICKET_SCHEME]: {
            type: 'apiKey',
            in: 'query',
            name: 'ticket',
            description:
              'Stream routes only: a single-use ticket from `POST /v1/tickets`, valid for 60 s, for clients ' +
              'such as browsers whose EventSource cannot send an Authorization header.',
          },
        },
      },
      security: [{ [BEARER_SCHEME]: [] }],
    },
    transform,
    transformObject,
  });

  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });

  app.withTypeProvider<ZodTypeProvider>().get(
    OPENAPI_JSON_PATH,
    {
      config: { scope: 'public' },
      schema: {
        tags: ['meta'],
        summary: 'This OpenAPI document',
        response: { 200: z.record(z.string(), z.unknown()).describe('An OpenAPI 3.1 document') },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );
}
