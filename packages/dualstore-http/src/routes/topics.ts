// SPDX-License-Identifier: GPL-3.0-or-later
// Topics (DESIGN §6): GET /v1/topics, GET|PUT|DELETE /v1/topics/:name. A topic's prompt is
// returned with every doc a claim hands out in that topic.

import { checkTopicName, DualStoreError } from '@dualstore/core';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { noQuery, problems, topicBody, topicInfoSchema, topicParams } from '../schemas.js';

/** Register the topic routes. */
export function registerTopicRoutes(app: FastifyInstance): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = app.dualstore;

  api.get(
    '/v1/topics',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['topics'],
        summary: 'List topics',
        querystring: noQuery,
        response: { 200: z.array(topicInfoSchema), ...problems(401, 403, 429, 503) },
      },
    },
    async () => store.listTopics(),
  );

  api.get(
    '/v1/topics/:name',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['topics'],
        summary: 'One topic',
        params: topicParams,
        querystring: noQuery,
        response: { 200: topicInfoSchema, ...problems(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request) => {
      const name = checkTopicName(request.params.name);
      const topic = await store.getTopic(name);
      if (topic === undefined) throw new DualStoreError('not_found', `no topic "${name}"`);
      return topic;
    },
  );

  api.put(
    '/v1/topics/:name',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['topics'],
        summary: 'Create a topic, or update its description and prompt (idempotent)',
        params: topicParams,
        body: topicBody,
        querystring: noQuery,
        response: {
          200: topicInfoSchema,
          201: topicInfoSchema,
          ...problems(400, 401, 403, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const { topic, created } = await store.putTopic(checkTopicName(request.params.name), request.body);
      return reply.code(created ? 201 : 200).send(topic);
    },
  );

  api.delete(
    '/v1/topics/:name',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['topics'],
        summary: 'Delete a topic',
        params: topicParams,
        querystring: noQuery,
        response: { 204: z.null().describe('Deleted'), ...problems(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const name = checkTopicName(request.params.name);
      if (!(await store.deleteTopic(name))) throw new DualStoreError('not_found', `no topic "${name}"`);
      return reply.code(204).send(null);
    },
  );
}
