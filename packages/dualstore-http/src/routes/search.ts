// SPDX-License-Identifier: GPL-3.0-or-later
// GET /v1/:c/search: full-text search with a filter, `mode=simple|fts`, `order=relevance|recent`
// and `wait_for=<seq>` (read-your-writes: wait, at most 2 s, until the index covers that seq).

import { MAX_QUERY_CHARS, MAX_SEARCH_K } from '@dualstore/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { collectionParams, problems, searchResultSchema } from '../schemas.js';
import { filterParam, queryInt, requireCollection } from './query.js';

const searchQuery = z.strictObject({
  // Length is left to core, which answers out_of_range past MAX_QUERY_CHARS.
  q: z.string().describe(`The query, at most ${MAX_QUERY_CHARS} characters`),
  k: queryInt(1, MAX_SEARCH_K, 'How many hits; defaults to 8').optional(),
  filter: z.string().optional().describe('A filter: JSON, or base64url of the JSON'),
  mode: z
    .enum(['simple', 'fts'])
    .optional()
    .describe('`simple` (default) makes any text a safe query; `fts` passes FTS5 syntax through'),
  order: z.enum(['relevance', 'recent']).optional().describe('Defaults to `relevance`'),
  wait_for: queryInt(0, Number.MAX_SAFE_INTEGER, 'Wait (at most 2 s) until the index covers this feed seq').optional(),
});

/** Register the search route. */
export function registerSearchRoutes(app: FastifyInstance): void {
  const { store } = app.dualstore;
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/:c/search',
    {
      config: { scope: 'read' },
      preValidation: requireCollection(store),
      schema: {
        tags: ['docs'],
        summary: 'Full-text search',
        params: collectionParams,
        querystring: searchQuery,
        response: { 200: searchResultSchema, ...problems(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const { filter, wait_for: waitFor, ...rest } = request.query;
      return store.search(request.params.c, { ...rest, filter: filterParam(filter), waitFor });
    },
  );
}
