// SPDX-License-Identifier: GPL-3.0-or-later
// The SSE feature: one hub per app (decorated as `app.sseHub`), the two stream routes, and the
// shutdown hook that ends every stream so `app.close()` does not wait on open connections.

import type { FastifyInstance } from 'fastify';
import { SseHub } from './hub.js';
import { registerStreamRouteHandlers } from './routes.js';

export type { OpenStream, SseHubOptions, SseHubStats } from './hub.js';
export { SseHub } from './hub.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The SSE hub: open streams, their store watch and heartbeat (`stats()` for diagnostics and tests). */
    sseHub: SseHub;
  }
}

/**
 * Create the app's SSE hub and register `GET /v1/:c/stream` and `GET /v1/stream`.
 *
 * Options come from `app.dualstore.options`: `heartbeatMs`, `sseMaxPerClient`,
 * `sseMaxBufferedBytes`, `sseFanoutSlice`.
 */
export function registerStreamRoutes(app: FastifyInstance): void {
  const { store, options } = app.dualstore;
  const hub = new SseHub({
    store,
    heartbeatMs: options.heartbeatMs,
    maxPerClient: options.sseMaxPerClient,
    maxBufferedBytes: options.sseMaxBufferedBytes,
    fanoutSlice: options.sseFanoutSlice,
    onError: (error) => app.log.error({ err: error }, 'an SSE stream failed'),
  });
  app.decorate('sseHub', hub);
  // preClose runs before the server stops listening and waits for connections: ending the
  // streams here lets that wait finish at once. onClose covers an app closed before listening.
  app.addHook('preClose', async () => hub.close());
  app.addHook('onClose', async () => hub.close());
  registerStreamRouteHandlers(app, hub);
}
