// SPDX-License-Identifier: GPL-3.0-or-later
// GET /v1/:c/stream and GET /v1/stream?collections=a,b (DESIGN §5). Every check that can fail
// (collection, filter, cursor, per-client cap) runs before the response is hijacked, so a failure
// is an ordinary problem+json answer; after the headers go out, the hub owns the connection.

import type { OutgoingHttpHeaders } from 'node:http';
import {
  DOC_STATUSES,
  type DocSelector,
  DualStoreError,
  normalizeMention,
  normalizeTimestamp,
  parseFilter,
  type Store,
} from '@dualstore/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { collectionParam } from '../routes/params.js';
import { collectionParams, problems } from '../schemas.js';
import { SSE_HEADERS } from './encode.js';
import type { SseHub } from './hub.js';

const selectorQuery = {
  since: z
    .string()
    .optional()
    .describe(
      'Deliver changes after this feed position (an integer seq) or appended at or after this ISO time. ' +
        'A `Last-Event-ID` header takes precedence. Without either the stream starts live.',
    ),
  topic: z.string().optional().describe('Only docs with this topic'),
  mention: z.string().optional().describe('Only docs mentioning this name (`@alice` or `alice`)'),
  status: z.enum(DOC_STATUSES).optional().describe('Only docs in this status'),
  tool: z.string().optional().describe('Only docs with this tool call'),
  filter: z.string().optional().describe('A filter (JSON, or base64url-encoded JSON); see the filter language'),
  ticket: z.string().optional().describe('A single-use stream ticket from `POST /v1/tickets` (for EventSource)'),
};

const collectionStreamQuery = z.strictObject(selectorQuery);
const multiStreamQuery = z.strictObject({
  collections: z
    .string()
    .optional()
    .describe('Comma-separated collection names; every collection the caller may read when absent'),
  ...selectorQuery,
});
type StreamQueryString = z.infer<typeof collectionStreamQuery>;

// Loose: a strict or stripping headers schema would replace the request's other headers.
const streamHeaders = z.looseObject({
  'last-event-id': z
    .string()
    .optional()
    .describe('The `id:` of the last event received; resumes right after it (what EventSource sends)'),
});

const eventStream = z
  .string()
  .describe(
    '`text/event-stream`: `retry: 3000`, then `insert` / `update` (data: the doc), `delete` (data: `{ id, seq }`), ' +
      '`reset` (data: `{ requested, since }`) and `heartbeat` (data: `{ t }`, no id). `id:` is the change seq.',
  );

const streamResponses = { 200: eventStream, ...problems(400, 401, 403, 404, 429, 503) };

const SEQ = /^\d{1,16}$/;

/** A cursor from `Last-Event-ID` or `since`: an integer feed seq or an ISO time. */
async function resolveCursor(
  store: Store,
  lastEventId: string | undefined,
  since: string | undefined,
): Promise<number> {
  // The header wins: it is what a reconnecting EventSource sends, and it is newer than the URL's
  // `since`, which the browser repeats unchanged on every reconnect.
  const text = lastEventId !== undefined && lastEventId !== '' ? lastEventId : since;
  const head = await store.head();
  if (text === undefined) return head;
  let cursor: number;
  if (SEQ.test(text) && Number.isSafeInteger(Number(text))) {
    cursor = Number(text);
  } else {
    const time = normalizeTimestamp(text);
    if (time === undefined) {
      throw new DualStoreError(
        'bad_cursor',
        `expected a non-negative integer feed position or an ISO 8601 time, got ${JSON.stringify(text.slice(0, 40))}`,
      );
    }
    cursor = await store.seqBefore(time);
  }
  // A cursor beyond the head (another database, or one that was restored) starts live.
  return Math.min(cursor, head);
}

function parseSelector(query: StreamQueryString): DocSelector {
  const selector: DocSelector = {};
  if (query.topic !== undefined) selector.topic = query.topic;
  if (query.status !== undefined) selector.status = query.status;
  if (query.mention !== undefined) selector.mention = normalizeMention(query.mention);
  if (query.tool !== undefined) selector.tool = query.tool.toLowerCase();
  if (query.filter !== undefined) {
    const filter = parseFilter(query.filter);
    if (filter.conditions.length > 0) selector.filter = filter;
  }
  return selector;
}

function assertMayRead(request: FastifyRequest, collections: readonly string[]): void {
  const allowed = request.caller?.collections;
  if (allowed === undefined) return;
  for (const name of collections) {
    if (!allowed.includes(name)) throw new DualStoreError('forbidden', `this token may not read collection "${name}"`);
  }
}

/** The collections of `?collections=`; undefined means every collection. */
async function multiCollections(
  store: Store,
  request: FastifyRequest,
  text: string | undefined,
): Promise<readonly string[] | undefined> {
  if (text === undefined) return request.caller?.collections;
  const names = [...new Set(text.split(',').map((name) => name.trim()))];
  if (names.some((name) => name === '')) {
    throw new DualStoreError('validation_failed', 'collections must be a comma-separated list of names, e.g. a,b');
  }
  for (const name of names) await collectionParam(store, name);
  assertMayRead(request, names);
  return names;
}

async function openStream(
  hub: SseHub,
  request: FastifyRequest,
  reply: FastifyReply,
  collections: readonly string[] | undefined,
  query: StreamQueryString,
): Promise<FastifyReply | undefined> {
  const selector = parseSelector(query);
  const lastEventId = request.headers['last-event-id'];
  const cursor = await resolveCursor(hub.store, typeof lastEventId === 'string' ? lastEventId : undefined, query.since);
  // Fastify answers HEAD with the GET handler: validate the same way, then send only the head
  // (a hijacked HEAD response would be a stream that can never carry a byte).
  if (request.method === 'HEAD') return reply.code(200).headers(SSE_HEADERS).send();
  const clientKey = request.caller?.clientKey ?? request.ip;
  // From here to hub.open nothing awaits: the cap check and the registration are one step.
  hub.checkCapacity(clientKey);
  reply.hijack();
  const res = reply.raw;
  // Headers set by earlier hooks (CORS, rate limits) live on the reply; hijacking skips the
  // reply's own send, so they are copied into the raw head here.
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
  res.writeHead(200, { ...headers, ...SSE_HEADERS });
  // Events are small and latency matters more than packet count.
  res.socket?.setNoDelay(true);
  hub.open(res, { cursor, query: { collections, selector }, clientKey });
  return undefined;
}

/** Register both stream routes on the app; the hub must be decorated already. */
export function registerStreamRouteHandlers(app: FastifyInstance, hub: SseHub): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const { store } = app.dualstore;

  api.get(
    '/v1/:c/stream',
    {
      config: { scope: 'read', stream: true },
      // The URL names the collection: an unknown one is 404 whatever the query says, as on every
      // `/v1/:c…` route, so it is checked before the query is validated.
      preValidation: async (request) => {
        await collectionParam(store, (request.params as { c: string }).c);
      },
      schema: {
        tags: ['streams'],
        summary: 'Stream one collection as Server-Sent Events',
        params: collectionParams,
        querystring: collectionStreamQuery,
        headers: streamHeaders,
        response: streamResponses,
      },
    },
    async (request, reply) => {
      const name = request.params.c; // checked by preValidation
      assertMayRead(request, [name]);
      return openStream(hub, request, reply, [name], request.query);
    },
  );

  api.get(
    '/v1/stream',
    {
      config: { scope: 'read', stream: true },
      schema: {
        tags: ['streams'],
        summary: 'Stream several collections as Server-Sent Events',
        querystring: multiStreamQuery,
        headers: streamHeaders,
        response: streamResponses,
      },
    },
    async (request, reply) => {
      const { collections, ...query } = request.query;
      return openStream(hub, request, reply, await multiCollections(store, request, collections), query);
    },
  );
}
