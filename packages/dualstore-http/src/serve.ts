// SPDX-License-Identifier: GPL-3.0-or-later
// `serve`: run the server from a parsed configuration until SIGINT/SIGTERM, then shut down in
// order — stop accepting, let the streams end (the SSE hub ends them from its close hooks), close
// the store (which checkpoints its WAL) — within a grace period, else force the exit. The store
// arrives through a factory so this package never imports a concrete store (DESIGN §1).

import type { AddressInfo } from 'node:net';
import type { Store } from '@dualstore/core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { assertSafeBind, isLoopbackHost, type ServeConfig } from './config.js';
import type { AppOptions } from './context.js';
import { DOCS_PREFIX } from './openapi.js';
import { loadWebhookRoutesFile, parseWebhookRoutes, unsignedWebhookRoutes } from './webhooks/index.js';

/** DESIGN / issue 3: a shutdown finishes within 10 s or the process is forced out. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** Opens the backend a configuration selects; the CLI supplies SQLite or Postgres. */
export type OpenStore = (config: ServeConfig) => Promise<Store>;

export interface ServeOptions {
  /** Stop on SIGINT and SIGTERM. Defaults to true; in-process callers use `signal` instead. */
  handleSignals?: boolean;
  /** Aborting it shuts the server down as a signal would. */
  signal?: AbortSignal;
  /** Fastify logger setting; pass `{ stream }` to capture the JSON lines. Defaults to JSON lines on stdout. */
  logger?: AppOptions['logger'];
  /** How long a shutdown may take before `forceExit`. Defaults to 10 000 ms. */
  shutdownGraceMs?: number;
  /** Called when the grace period passes. Defaults to `process.exit`. */
  forceExit?: (code: number) => void;
}

/** A running server. */
export interface RunningServer {
  /** Where it listens, e.g. `http://127.0.0.1:4261`. */
  url: string;
  app: FastifyInstance;
  store: Store;
  /** Shut down as SIGTERM would; resolves once the store is closed. Idempotent. */
  close(): Promise<void>;
  /** Settles when the server has shut down, however that started. */
  closed: Promise<void>;
}

function urlOf(app: FastifyInstance): string {
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function appOptions(
  config: ServeConfig,
  store: Store,
  logger: AppOptions['logger'],
  hooks: NonNullable<AppOptions['hooks']>,
): AppOptions {
  return {
    store,
    hooks,
    authToken: config.authToken,
    corsOrigins: config.corsOrigins,
    heartbeatMs: config.heartbeatMs,
    bodyLimit: config.bodyLimit,
    sseMaxPerClient: config.sseMaxPerClient,
    rateLimitMax: config.rateLimitMax,
    logger,
  };
}

/**
 * Start the server and return once it listens. It logs one `listening` line whose `url` field is
 * the address (`--port 0` callers read the port from it); no log line carries a secret.
 *
 * @throws DualStoreError `validation_failed` (path `HOST`) for a non-loopback host without a
 *   token unless `insecure`; whatever `openStore` or `listen` throws (the store is closed first).
 * @example
 * const config = parseConfig({ env: process.env });
 * const server = await serve(config, (c) => openSqliteStore({ path: c.db }));
 * await server.closed;
 */
export async function serve(
  config: ServeConfig,
  openStore: OpenStore,
  options: ServeOptions = {},
): Promise<RunningServer> {
  // Checked again here (parseConfig checks too) because a caller may build the config by hand.
  assertSafeBind(config);
  // Read before the store opens: a bad routes file stops the start with its own error.
  const hooks = config.hooksFile === undefined ? parseWebhookRoutes() : await loadWebhookRoutesFile(config.hooksFile);
  const store = await openStore(config);
  let app: FastifyInstance;
  try {
    app = await buildApp(appOptions(config, store, options.logger ?? { level: 'info' }, hooks));
  } catch (error) {
    await store.close();
    throw error;
  }
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app.close().catch(() => {});
    await store.close();
    throw error;
  }

  const url = urlOf(app);
  // What a caller needs, as the auth plugin decides it: a stored token (even a revoked one) ends open mode.
  const auth = config.authToken !== undefined ? 'token' : (await store.hasTokens()) ? 'scoped-tokens' : 'open';
  app.log.info(
    {
      url,
      docs: `${url}${DOCS_PREFIX}`,
      store: store.kind,
      db: config.databaseUrl === undefined ? config.db : undefined,
      auth,
    },
    `DualStore listening on ${url}`,
  );
  const unsigned = unsignedWebhookRoutes(hooks);
  app.log.info(
    { hooks: config.hooksFile, routes: [...hooks.values()].map((route) => `/hooks/${route.name} (${route.verify})`) },
    'webhook routes',
  );
  if (unsigned.length > 0) {
    // Not an error (the defaults start unsigned), but a user wiring a provider must see it.
    app.log.warn(
      { unsigned: unsigned.map((name) => `/hooks/${name}`) },
      `webhook routes without a signature check (they need a bearer token with write scope${auth === 'open' ? '; this server runs open, so anyone who can reach it may post to them' : ''}): ${unsigned.map((name) => `/hooks/${name}`).join(', ')}; configure a secret in DUALSTORE_HOOKS to sign them`,
    );
  }
  if (auth === 'open' && !isLoopbackHost(config.host)) {
    app.log.warn(
      { host: config.host },
      'running open on a network address (--insecure): anyone who can reach it has full access',
    );
  }

  const grace = options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS;
  const forceExit = options.forceExit ?? ((code: number) => process.exit(code));
  const handleSignals = options.handleSignals ?? true;
  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  let rejectClosed!: (error: unknown) => void;
  const closed = new Promise<void>((resolve, reject) => {
    resolveClosed = resolve;
    rejectClosed = reject;
  });
  // Callers that never await `closed` must not see an unhandled rejection; those that do still do.
  closed.catch(() => {});

  const shutdown = (reason: string): Promise<void> => {
    if (closing !== undefined) return closed;
    app.log.info({ reason }, 'shutting down');
    // A ref'd timer on purpose: if a close step hangs with nothing else keeping the loop alive,
    // the process must still leave, with a line saying why.
    const timer = setTimeout(() => {
      app.log.error({ grace_ms: grace }, `shutdown did not finish within ${grace} ms; forcing exit`);
      forceExit(1);
    }, grace);
    closing = (async () => {
      try {
        // Stops accepting, answers in-flight requests, runs the close hooks (streams end there).
        await app.close();
        await store.close();
        app.log.info('stopped');
        resolveClosed();
      } catch (error) {
        app.log.error({ err: error }, 'shutdown failed');
        rejectClosed(error);
      } finally {
        clearTimeout(timer);
        if (handleSignals) {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        options.signal?.removeEventListener('abort', onAbort);
      }
    })();
    return closed;
  };

  // A second signal while shutting down means "now": the user has run out of patience.
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing !== undefined) {
      app.log.warn({ signal }, 'second signal during shutdown; forcing exit');
      forceExit(1);
      return;
    }
    void shutdown(signal);
  };
  const onAbort = () => void shutdown('abort');
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  if (options.signal?.aborted) void shutdown('abort');
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  return {
    url,
    app,
    store,
    close: () => shutdown('close'),
    closed,
  };
}
