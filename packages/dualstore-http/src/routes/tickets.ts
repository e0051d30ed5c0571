// SPDX-License-Identifier: GPL-3.0-or-later
// POST /v1/tickets: trade the bearer header for a single-use stream ticket (DESIGN §8). The
// minting and checking live in the auth plugin (`app.dualstoreAuth`), reached through the
// instance rather than an import, so features stay independent.

import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isoTime, problems } from '../schemas.js';

const ticketSchema = z
  .object({
    ticket: z.string().describe('Pass as `?ticket=` to a stream route once, before `expires_at`'),
    expires_at: isoTime,
  })
  .meta({ id: 'Ticket' });

/** Register POST /v1/tickets. */
export function registerTicketRoutes(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/tickets',
    {
      // Streams need `read`; a ticket carries the minting token's scopes and collections. No body
      // schema: the request needs none (a JSON body, if sent, is parsed and ignored).
      config: { scope: 'read' },
      schema: {
        tags: ['auth'],
        summary: 'A short-lived, single-use ticket for a stream URL (browsers cannot send headers)',
        description:
          'The ticket opens one stream (`GET /v1/:c/stream?ticket=…` or `GET /v1/stream?collections=…&ticket=…`) ' +
          'within 60 s, with the scopes and collections of the token that minted it.',
        response: { 201: ticketSchema, ...problems(400, 401, 403, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(app.dualstoreAuth.issueTicket(request, reply)),
  );
}
