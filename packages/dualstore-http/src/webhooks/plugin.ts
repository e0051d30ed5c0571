// SPDX-License-Identifier: GPL-3.0-or-later
// `POST /hooks/<route>` (DESIGN §7): one Fastify route per configured webhook route, so each has
// its own body limit and its own auth scope — a signed route is authenticated by its signature
// (`public` for the bearer check), an unsigned one needs a token with `write` (or open loopback
// mode), which the auth hook enforces before the body is read. An unknown route name is the
// server's ordinary 404.
//
// The routes live in an encapsulated plugin whose only content-type parser hands over the raw
// bytes: signatures are over exactly what was sent, and the JSON API keeps its own parser.
// Order per delivery: verify (401, nothing parsed), parse (400), build the doc, insert with the
// provider's delivery id as idempotency key (202, or 200 for a redelivery). Nothing is stored on
// any failure: the insert is the last step.

import { createHash } from 'node:crypto';
import { type DocInput, DualStoreError, isDualStoreError, isTopicName, parseFilter } from '@dualstore/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { insertResultSchema, problems } from '../schemas.js';
import { fitMetadata } from './metadata.js';
import { parseWebhookRoutes, type WebhookRoute, type WebhookRoutes, type WebhookVerifierName } from './routes-file.js';
import { summarize } from './summary.js';
import { type Headers, VERIFIERS, type Verifier } from './verifiers/index.js';

/** Where webhook routes are served. */
export const HOOKS_PREFIX = '/hooks';
/** A header value kept in metadata is cut to this many characters. */
const MAX_HEADER_CHARS = 512;
/** Delivery ids longer than this (or not printable ASCII) are stored and keyed as their SHA-256. */
const MAX_DELIVERY_CHARS = 180;

/**
 * The provider whose headers describe a delivery. A default route keeps reading its provider's
 * event and delivery headers while it is unsigned (verify: none) or uses a plain secret header.
 */
function providerOf(route: WebhookRoute): Verifier {
  if (route.verify !== 'none' && route.verify !== 'secret-header') return VERIFIERS[route.verify];
  const byName: Record<string, WebhookVerifierName> = { github: 'github', bitbucket: 'bitbucket', payment: 'stripe' };
  return VERIFIERS[byName[route.name] ?? route.verify];
}

function headerValue(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

function rejectProto(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new SyntaxError('__proto__ key');
  return value;
}

/**
 * The payload: JSON, or a form body's `payload` field (GitHub's "application/x-www-form-urlencoded"
 * delivery option). Any content type is tried as JSON, since some senders label JSON `text/plain`.
 * @throws DualStoreError `validation_failed` for a body that is not that.
 */
function parsePayload(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) throw new DualStoreError('validation_failed', 'the body is empty; the route expects JSON');
  let text: string;
  try {
    text = fatalUtf8.decode(raw);
  } catch {
    throw new DualStoreError('validation_failed', 'the body is not UTF-8 text; the route expects JSON');
  }
  if (contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    const field = new URLSearchParams(text).get('payload');
    if (field === null) {
      throw new DualStoreError(
        'validation_failed',
        'a form-encoded delivery must carry the JSON in its `payload` field',
      );
    }
    text = field;
  }
  try {
    // The reviver costs a second walk, so only bodies that mention the key pay for it; the JSON
    // API refuses `__proto__` keys as well (Fastify's secure parser).
    return text.includes('__proto__') ? JSON.parse(text, rejectProto) : JSON.parse(text);
  } catch {
    throw new DualStoreError('validation_failed', 'the body is not valid JSON (a `__proto__` key is refused too)');
  }
}

function valueAt(payload: unknown, path: readonly string[]): unknown {
  let node = payload;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
  }
  return node;
}

/** `topic_from` when it yields a valid topic name, else the route's topic. */
function topicOf(route: WebhookRoute, headers: Headers, payload: unknown): string | undefined {
  const from = route.topicFrom;
  if (from !== undefined) {
    const value = from.from === 'header' ? headerValue(headers, from.name) : valueAt(payload, from.path);
    if (typeof value === 'string' && isTopicName(value)) return value;
  }
  return route.topic;
}

/** A delivery id safe to store and to use in an idempotency key (printable ASCII, bounded). */
function normalizeDelivery(id: string | undefined): string | undefined {
  if (id === undefined || id.length === 0) return undefined;
  if (new RegExp(`^[\\x21-\\x7e]{1,${MAX_DELIVERY_CHARS}}$`).test(id)) return id;
  return `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/** The headers kept in metadata: the provider's descriptive ones, never a signature or secret. */
function keptHeaders(route: WebhookRoute, provider: Verifier, headers: Headers): Record<string, string> {
  const names = new Set(provider.keptHeaders);
  if (route.topicFrom?.from === 'header') names.add(route.topicFrom.name);
  // The secret-header route's secret must never be stored, whatever the configuration says.
  if (route.verify === 'secret-header') names.delete(route.header);
  const kept: Record<string, string> = {};
  for (const name of [...names].sort()) {
    const value = headerValue(headers, name);
    if (value !== undefined) kept[name] = value.slice(0, MAX_HEADER_CHARS);
  }
  return kept;
}

/** The earlier doc of a redelivery whose body or kept headers differ from the first delivery's. */
async function findDelivery(
  app: FastifyInstance,
  route: WebhookRoute,
  delivery: string,
): Promise<{ id: string; seq: number } | undefined> {
  const filter = parseFilter({ source: `webhook:${route.name}`, 'metadata.webhook.delivery': delivery });
  const page = await app.dualstore.store.recent(route.collection, { filter, limit: 1 });
  const doc = page.items[0];
  return doc === undefined ? undefined : { id: doc.id, seq: doc.seq };
}

function routeSchema(route: WebhookRoute) {
  const guard =
    route.verify === 'none'
      ? 'Unsigned: needs a bearer token with `write` (or open loopback mode).'
      : `Signed (\`${route.verify}\`): authenticated by its signature, no bearer token.`;
  return {
    tags: ['webhooks'],
    summary: `Webhook "${route.name}" into ${route.collection}`,
    description:
      `${guard} Stores the delivery as one doc (source \`webhook:${route.name}\`${route.topic ? `, topic \`${route.topic}\`` : ''}): ` +
      "a one-line summary as `text`, the payload and the provider's descriptive headers as `metadata`. The " +
      "provider's delivery id (or `Idempotency-Key`) makes a redelivery answer 200 with the first doc. " +
      `Body limit: ${route.bodyLimit} bytes. See docs/webhooks.md.`,
    body: z.unknown().describe("The provider's payload (JSON), verified on its raw bytes"),
    response: {
      200: insertResultSchema.describe('A redelivery: the doc of the first delivery'),
      202: insertResultSchema.describe('Stored'),
      ...problems(400, 401, 403, 404, 413, 429, 503),
    },
  };
}

/**
 * Register `POST /hooks/<name>` for every route. Without `routes`, the defaults of DESIGN §7.
 * Must be registered after auth and the OpenAPI collector, like every route.
 */
export async function registerWebhooks(
  app: FastifyInstance,
  routes: WebhookRoutes = parseWebhookRoutes(),
): Promise<void> {
  const { store, options } = app.dualstore;
  await app.register(async (hooks) => {
    // Only this plugin's routes see the raw bytes; the route's bodyLimit bounds the buffer.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const api = hooks.withTypeProvider<ZodTypeProvider>();

    for (const route of routes.values()) {
      const verifier = VERIFIERS[route.verify];
      const provider = providerOf(route);
      const source = `webhook:${route.name}`;
      api.post(
        `${HOOKS_PREFIX}/${route.name}`,
        {
          config: { scope: route.verify === 'none' ? 'write' : 'public' },
          bodyLimit: route.bodyLimit,
          // A token limited to some collections may not write into another one through a hook.
          onRequest: async (request: FastifyRequest) => {
            const allowed = request.caller?.collections;
            if (allowed !== undefined && !allowed.includes(route.collection)) {
              throw new DualStoreError(
                'forbidden',
                `this token is limited to the collections ${allowed.join(', ')}; /hooks/${route.name} writes to "${route.collection}"`,
              );
            }
          },
          schema: routeSchema(route),
        },
        async (request: FastifyRequest, reply: FastifyReply) => {
          const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          const headers = request.headers as Headers;
          verifier.verify({ route, raw, headers, nowMs: options.now() });
          const payload = parsePayload(raw, headerValue(headers, 'content-type'));
          const event = provider.event(headers, payload);
          const delivery = normalizeDelivery(
            provider.deliveryId(headers, payload) ?? headerValue(headers, 'idempotency-key'),
          );
          const topic = topicOf(route, headers, payload);
          const text = summarize({ route: route.name, verify: route.verify, event, payload });
          const webhook: Record<string, string | Record<string, string>> = { route: route.name, verify: route.verify };
          if (event !== undefined) webhook.event = event.slice(0, MAX_HEADER_CHARS);
          if (delivery !== undefined) webhook.delivery = delivery;
          webhook.headers = keptHeaders(route, provider, headers);
          const doc: DocInput = {
            text,
            metadata: fitMetadata(webhook, payload as Parameters<typeof fitMetadata>[1], text, raw.length),
            source,
          };
          if (topic !== undefined) doc.topic = topic;
          // Keys are per collection and several routes may share one: the route name scopes them.
          const idempotencyKey = delivery === undefined ? undefined : `webhook:${route.name}:${delivery}`;
          try {
            const result = await store.insert(
              route.collection,
              doc,
              idempotencyKey === undefined ? {} : { idempotencyKey },
            );
            return reply.code(result.created ? 202 : 200).send({ id: result.id, seq: result.seq });
          } catch (error) {
            // A redelivery is the same event even when a header the doc keeps (a user agent
            // after a provider upgrade) or the body differs: the first doc stands.
            if (!isDualStoreError(error) || error.code !== 'idempotency_conflict' || delivery === undefined)
              throw error;
            const earlier = await findDelivery(app, route, delivery);
            if (earlier === undefined) throw error;
            request.log.info(
              { route: route.name, delivery },
              'webhook redelivery differs from the first delivery; kept the first',
            );
            return reply.code(200).send(earlier);
          }
        },
      );
    }
  });
}
