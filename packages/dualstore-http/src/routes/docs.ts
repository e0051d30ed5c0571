// SPDX-License-Identifier: GPL-3.0-or-later
// Docs: GET /v1/:c/recent, GET /v1/:c/:id, GET /v1/:c/:id/thread, POST /v1/:c (insert, with
// Idempotency-Key), POST /v1/:c/batch. Writes answer only after the store's promise settles,
// which is after the group-commit transaction holding them has committed (DESIGN §4 Durability).

import { DOC_STATUSES, type DocInput, DualStoreError, MAX_RECENT_LIMIT } from '@dualstore/core';
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify';
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  batchBody,
  batchResultSchema,
  collectionParams,
  docInputBody,
  docParams,
  docSchema,
  insertResultSchema,
  noQuery,
  problems,
  recentPageSchema,
  threadSchema,
} from '../schemas.js';
import { filterParam, queryInt, requireCollection } from './query.js';

const recentQuery = z.strictObject({
  limit: queryInt(1, MAX_RECENT_LIMIT, 'Page size; defaults to 50').optional(),
  before: z.string().optional().describe('The `next` of an earlier page'),
  filter: z.string().optional().describe('A filter: JSON, or base64url of the JSON'),
  topic: z.string().optional(),
  status: z.enum(DOC_STATUSES).optional(),
  mention: z.string().optional().describe('`@alice` or `alice`; case-insensitive'),
  tool: z.string().optional().describe('A tool name from `tool_calls`'),
});

const insertHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .optional()
    .describe('1-255 printable ASCII characters; a repeat returns the first doc with 200'),
});

/**
 * The single insert's validators: params and query as everywhere; the body and the headers not
 * at all. The store validates the doc and the idempotency key itself (it must, for every caller:
 * CLI, client library, webhooks) against core's schema, which `docInputBody` and `insertHeaders`
 * document, with the same error codes. Validating them here too cost ~1.5 µs of the ~34 µs the
 * main thread spends per insert (docs/decisions.md, 2026-12-06).
 */
const storeValidatesBodyAndHeaders: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === 'body' || route.httpPart === 'headers'
    ? (value: unknown) => ({ value })
    : validatorCompiler(route as never);

/** Register the doc read and insert routes. */
export function registerDocRoutes(app: FastifyInstance): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store, options } = app.dualstore;
  const collection = requireCollection(store);

  api.get(
    '/v1/:c/recent',
    {
      config: { scope: 'read' },
      preValidation: collection,
      schema: {
        tags: ['docs'],
        summary: 'Newest docs first, one page at a time',
        params: collectionParams,
        querystring: recentQuery,
        response: { 200: recentPageSchema, ...problems(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const { filter, ...rest } = request.query;
      return store.recent(request.params.c, { ...rest, filter: filterParam(filter) });
    },
  );

  api.get(
    '/v1/:c/:id',
    {
      config: { scope: 'read' },
      preValidation: collection,
      schema: {
        tags: ['docs'],
        summary: 'One doc',
        params: docParams,
        querystring: noQuery,
        response: { 200: docSchema, ...problems(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const { c, id } = request.params;
      const doc = await store.get(c, id);
      if (doc === undefined) throw new DualStoreError('not_found', `no doc "${id.slice(0, 128)}" in "${c}"`);
      return doc;
    },
  );

  api.get(
    '/v1/:c/:id/thread',
    {
      config: { scope: 'read' },
      preValidation: collection,
      schema: {
        tags: ['docs'],
        summary: "Every doc sharing the doc's correlation id, oldest first",
        params: docParams,
        querystring: noQuery,
        response: { 200: threadSchema, ...problems(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => ({ items: await store.thread(request.params.c, request.params.id) }),
  );

  api.post(
    '/v1/:c',
    {
      config: { scope: 'write' },
      preValidation: collection,
      validatorCompiler: storeValidatesBodyAndHeaders,
      schema: {
        tags: ['docs'],
        summary: 'Insert one doc',
        description:
          'Answers after the write has committed. With `Idempotency-Key`, a repeat of the same body returns the ' +
          "first doc's `{ id, seq }` with 200 (concurrent repeats wait for the first one's commit); the same key " +
          'with a different body is 409 `idempotency_conflict`.',
        params: collectionParams,
        headers: insertHeaders,
        body: docInputBody,
        querystring: noQuery,
        response: {
          200: insertResultSchema.describe('An earlier insert with the same Idempotency-Key and body'),
          201: insertResultSchema,
          ...problems(400, 401, 403, 404, 409, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const result = await store.insert(
        request.params.c,
        request.body as DocInput,
        key === undefined ? {} : { idempotencyKey: key },
      );
      return reply.code(result.created ? 201 : 200).send({ id: result.id, seq: result.seq });
    },
  );

  api.post(
    '/v1/:c/batch',
    {
      config: { scope: 'write' },
      // A batch carries up to 1000 docs, so it gets its own, larger body limit.
      bodyLimit: options.batchBodyLimit,
      preValidation: collection,
      schema: {
        tags: ['docs'],
        summary: 'Insert up to 1000 docs atomically',
        params: collectionParams,
        body: batchBody,
        querystring: noQuery,
        response: { 201: batchResultSchema, ...problems(400, 401, 403, 404, 409, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const results = await store.insertBatch(
        request.params.c,
        request.body.items.map((doc) => ({ doc: doc as DocInput })),
      );
      return reply.code(201).send({ ids: results.map((result) => result.id) });
    },
  );
}
