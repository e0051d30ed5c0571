// SPDX-License-Identifier: GPL-3.0-or-later
// buildApp: the whole server as a Fastify instance, testable with `inject()` and without a port.
// Features register in a fixed order: error handling and CORS first (they must see every
// request), then auth and rate limits (hooks), then the OpenAPI collector (it records routes
// added after it), then the routes.

import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { registerAuth } from './auth/index.js';
import { type AppOptions, resolveOptions } from './context.js';
import { registerCors } from './cors.js';
import { handleFrameworkError, registerErrorHandling } from './error-handler.js';
import { registerOpenApi } from './openapi.js';
import { registerRateLimit } from './rate-limit.js';
import { registerCollectionRoutes } from './routes/collections.js';
import { registerDocRoutes } from './routes/docs.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerRetentionRoutes } from './routes/retention.js';
import { registerSearchRoutes } from './routes/search.js';
import { registerTicketRoutes } from './routes/tickets.js';
import { registerTopicRoutes } from './routes/topics.js';
import { registerWorkRoutes } from './routes/work.js';
import { registerStreamRoutes } from './sse/index.js';
import { registerWebhooks } from './webhooks/index.js';

/** Log lines never carry a query string: stream tickets and filters travel there (DESIGN §8). */
const REQUEST_SERIALIZERS = {
  req(request: { method: string; url: string; ip?: string }) {
    return { method: request.method, path: request.url.split('?', 1)[0], ip: request.ip };
  },
};

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const resolved = resolveOptions(options);
  const logger =
    options.logger === undefined || options.logger === false
      ? false
      : { ...(options.logger === true ? {} : options.logger), serializers: REQUEST_SERIALIZERS };
  const app = Fastify({
    logger,
    bodyLimit: resolved.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    return503OnClosing: true,
    frameworkErrors: handleFrameworkError,
  });
  app.decorate('dualstore', { store: options.store, options: resolved });

  // Requests are validated with zod (the same schemas document the API). Responses are not
  // re-validated: they come from the store, which builds them from validated rows, and zod
  // encoding every doc of every page would cost more than the store read (docs/decisions.md).
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // Only JSON bodies: a text/plain body on a JSON route is 415, not a string to validate.
  app.removeContentTypeParser('text/plain');
  // Some clients send `Content-Type: application/json` on every request, also a body-less DELETE;
  // that is not an error. Everything else goes through Fastify's own (prototype-safe) JSON parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.method === 'DELETE') return done(null, undefined);
    parseJson(request, body as string, done);
  });

  closeUnusedSocketsOnClose(app);
  registerErrorHandling(app);
  await registerCors(app);
  registerAuth(app);
  await registerRateLimit(app);
  await registerOpenApi(app);

  registerHealthRoutes(app);
  registerCollectionRoutes(app);
  registerTopicRoutes(app);
  registerTicketRoutes(app);
  registerDocRoutes(app);
  registerSearchRoutes(app);
  registerWorkRoutes(app);
  registerRetentionRoutes(app);
  registerStreamRoutes(app);
  await registerWebhooks(app, options.hooks);
  return app;
}

/**
 * Sockets that never carried a request (browsers open them ahead of time; undici leaves them
 * behind when a queued request is aborted) are not "idle" to Node, so `server.close()` would wait
 * for them until the client gives up or the headers timeout passes — past `serve`'s 10 s budget.
 * On close they are destroyed; sockets with a request in flight finish it, and keep-alive sockets
 * between requests are closed by Fastify (`forceCloseConnections: 'idle'`, the default).
 */
function closeUnusedSocketsOnClose(app: FastifyInstance): void {
  const unused = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  app.server.on('request', (request: { socket: Socket }) => unused.delete(request.socket));
  app.addHook('preClose', (done) => {
    for (const socket of unused) socket.destroy();
    unused.clear();
    done();
  });
}
