// SPDX-License-Identifier: GPL-3.0-or-later
// GET /v1/collections, PUT /v1/collections/:c (admin), GET /v1/:c/stats.

import { checkCollectionName, DOC_STATUSES } from '@dualstore/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { collectionParams, isoTime, noQuery, problems } from '../schemas.js';
import { collectionParam } from './params.js';

const collectionSchema = z
  .object({ name: z.string(), max_attempts: z.number().int(), retention_days: z.number().int(), created_at: isoTime })
  .meta({ id: 'Collection' });

const collectionBody = z
  .strictObject({
    max_attempts: z.number().int().min(1).max(1000).optional(),
    retention_days: z.number().int().min(1).max(36_500).optional(),
  })
  .default({});

const statsSchema = z
  .object({
    collection: z.string(),
    counts: z.object(
      Object.fromEntries(DOC_STATUSES.map((s) => [s, z.number().int()])) as Record<
        (typeof DOC_STATUSES)[number],
        z.ZodNumber
      >,
    ),
    total: z.number().int(),
    last_seq: z.number().int(),
  })
  .meta({ id: 'Stats' });

export function registerCollectionRoutes(app: FastifyInstance): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = app.dualstore;

  api.get(
    '/v1/collections',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['collections'],
        summary: 'List collections',
        querystring: noQuery,
        response: { 200: z.array(z.string()), ...problems(400, 401, 403) },
      },
    },
    async () => store.listCollections(),
  );

  api.put(
    '/v1/collections/:c',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Create a collection, or update its settings (idempotent)',
        params: collectionParams,
        querystring: noQuery,
        body: collectionBody,
        response: { 200: collectionSchema, 201: collectionSchema, ...problems(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const name = checkCollectionName(request.params.c);
      const { collection, created } = await store.putCollection(name, request.body);
      return reply.code(created ? 201 : 200).send(collection);
    },
  );

  api.get(
    '/v1/:c/stats',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['collections'],
        summary: 'Counts by status and the last change seq',
        params: collectionParams,
        querystring: noQuery,
        response: { 200: statsSchema, ...problems(400, 401, 403, 404) },
      },
    },
    async (request) => store.stats(await collectionParam(store, request.params.c)),
  );
}
