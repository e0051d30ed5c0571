// SPDX-License-Identifier: GPL-3.0-or-later
// The work queue (DESIGN §4 "Claim semantics", §10 "Leases", "Replies"): POST /v1/:c/claim and
// POST /v1/:c/:id/{complete,fail,extend,release,reply}. Exclusivity and fencing live in the
// store's transactions; these routes translate the wire shapes and end a long-poll whose
// client has gone.

import type { ReplyInput } from '@dualstore/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  claimBody,
  claimResultSchema,
  collectionParams,
  docParams,
  docSchema,
  extendBody,
  failBody,
  noQuery,
  problems,
  replyBody,
  tokenBody,
} from '../schemas.js';
import { clientGoneSignal, filterParam, requireCollection } from './query.js';

/** Statuses every token action can answer besides 200. */
const ACTION_PROBLEMS = problems(400, 401, 403, 404, 409, 413, 415, 429, 503);

/** Register claim, complete, fail, extend, release and reply. */
export function registerWorkRoutes(app: FastifyInstance): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = app.dualstore;
  const collection = requireCollection(store);

  api.post(
    '/v1/:c/claim',
    {
      config: { scope: 'claim' },
      preValidation: collection,
      schema: {
        tags: ['work'],
        summary: 'Claim the oldest due docs, optionally long-polling for work',
        description:
          'Sets the docs `processing` under a lease and returns a fresh fencing token for each. ' +
          '`items` is empty when nothing was due within `wait_ms`. Delivery is at-least-once.',
        params: collectionParams,
        body: claimBody,
        querystring: noQuery,
        response: { 200: claimResultSchema, ...problems(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const { agent, topic, filter, lease_ms: leaseMs, limit, wait_ms: waitMs } = request.body;
      const items = await store.claim(request.params.c, {
        agent,
        topic,
        filter: filterParam(filter),
        leaseMs,
        limit,
        waitMs,
        // Only a long-poll is worth a close listener.
        signal: waitMs !== undefined && waitMs > 0 ? clientGoneSignal(request, reply) : undefined,
      });
      return { items };
    },
  );

  api.post(
    '/v1/:c/:id/complete',
    {
      config: { scope: 'claim' },
      preValidation: collection,
      schema: {
        tags: ['work'],
        summary: 'Finish claimed work',
        params: docParams,
        body: tokenBody,
        querystring: noQuery,
        response: { 200: docSchema, ...ACTION_PROBLEMS },
      },
    },
    async (request) => store.complete(request.params.c, request.params.id, request.body.token),
  );

  api.post(
    '/v1/:c/:id/fail',
    {
      config: { scope: 'claim' },
      preValidation: collection,
      schema: {
        tags: ['work'],
        summary: 'Give up on claimed work: pending again after a backoff, or failed after max_attempts',
        params: docParams,
        body: failBody,
        querystring: noQuery,
        response: { 200: docSchema, ...ACTION_PROBLEMS },
      },
    },
    async (request) => {
      const { token, error, retry_in_ms: retryInMs } = request.body;
      return store.fail(request.params.c, request.params.id, { token, error, retryInMs });
    },
  );

  api.post(
    '/v1/:c/:id/extend',
    {
      config: { scope: 'claim' },
      preValidation: collection,
      schema: {
        tags: ['work'],
        summary: 'Extend the lease of claimed work (a heartbeat); changes nothing else',
        params: docParams,
        body: extendBody,
        querystring: noQuery,
        response: { 200: docSchema, ...ACTION_PROBLEMS },
      },
    },
    async (request) => store.extend(request.params.c, request.params.id, request.body.token, request.body.lease_ms),
  );

  api.post(
    '/v1/:c/:id/release',
    {
      config: { scope: 'claim' },
      preValidation: collection,
      schema: {
        tags: ['work'],
        summary: 'Give claimed work back untouched (attempts restored)',
        params: docParams,
        body: tokenBody,
        querystring: noQuery,
        response: { 200: docSchema, ...ACTION_PROBLEMS },
      },
    },
    async (request) => store.release(request.params.c, request.params.id, request.body.token),
  );

  api.post(
    '/v1/:c/:id/reply',
    {
      config: { scope: 'write' },
      preValidation: collection,
      schema: {
        tags: ['work'],
        summary: 'Reply to a doc and finish it, in one transaction',
        description:
          'Stores the reply (correlation_id = the thread root, parent_id = the doc) and sets the original ' +
          '`completed` (status success) or `failed` (failure). A `processing` original needs its token; a ' +
          '`pending` one is claimed and finished in the same transaction. A reply naming a `topic` is ' +
          'pending work there; otherwise it is stored `completed`.',
        params: docParams,
        body: replyBody,
        querystring: noQuery,
        response: { 201: docSchema, ...ACTION_PROBLEMS },
      },
    },
    async (request, reply) => {
      const result = await store.reply(request.params.c, request.params.id, request.body as ReplyInput);
      return reply.code(201).send(result.reply);
    },
  );
}
