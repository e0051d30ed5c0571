// SPDX-License-Identifier: GPL-3.0-or-later
// GET /v1/health: public liveness and what the server serves.

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { noQuery } from '../schemas.js';

export function registerHealthRoutes(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/health',
    {
      config: { scope: 'public' },
      schema: {
        tags: ['meta'],
        summary: 'Liveness and what this server serves',
        querystring: noQuery,
        response: {
          200: z.object({ ok: z.boolean(), collections: z.array(z.string()), store: z.string(), version: z.string() }),
        },
      },
    },
    async () => {
      const { store, options } = app.dualstore;
      return { ok: true, collections: await store.listCollections(), store: store.kind, version: options.version };
    },
  );
}
