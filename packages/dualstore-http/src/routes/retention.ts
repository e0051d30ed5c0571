// SPDX-License-Identifier: GPL-3.0-or-later
// DELETE /v1/:c/docs?status=&older_than= (admin): retention. `older_than` is a duration counted
// back from now (`30d`, `12h`, `15m`) or an ISO time; a request with neither condition is
// refused (bad_retention) rather than emptying the collection.

import { DOC_STATUSES, type DocStatus } from '@dualstore/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { collectionParams, deletedSchema, problems } from '../schemas.js';
import { olderThanParam, requireCollection } from './query.js';

const retentionQuery = z.strictObject({
  // A plain string (documented as the enum) so that a wrong status is bad_retention, the code
  // core gives it everywhere (the CLI's `clean` answers the same).
  status: z
    .string()
    .optional()
    .meta({ enum: [...DOC_STATUSES], description: 'Only docs in this status' }),
  older_than: z
    .string()
    .optional()
    .describe('Only docs whose timestamp is older: a duration (`30d`, `12h`, `15m`, `2w`) or an ISO time'),
});

/** Register the retention route. */
export function registerRetentionRoutes(app: FastifyInstance): void {
  const { store } = app.dualstore;
  app.withTypeProvider<ZodTypeProvider>().delete(
    '/v1/:c/docs',
    {
      config: { scope: 'admin' },
      preValidation: requireCollection(store),
      schema: {
        tags: ['maintenance'],
        summary: 'Delete docs by status and age (retention)',
        description: 'Each deletion is a `delete` event on the change feed. Give `status`, `older_than`, or both.',
        params: collectionParams,
        querystring: retentionQuery,
        response: { 200: deletedSchema, ...problems(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const { status, older_than: olderThan } = request.query;
      return store.deleteDocs(request.params.c, {
        status: status as DocStatus | undefined,
        olderThan: olderThanParam(olderThan),
      });
    },
  );
}
