// SPDX-License-Identifier: GPL-3.0-or-later
export type { FastifyInstance } from 'fastify';
export { buildApp } from './app.js';
export type { DurabilityMode, ParseConfigInput, ServeConfig, ServeFlags } from './config.js';
export {
  assertSafeBind,
  CONFIG_DEFAULTS,
  CONFIG_NAMES,
  defaultDbPath,
  describeConfig,
  isLoopbackHost,
  parseConfig,
} from './config.js';
export type { AppOptions, Caller, DualStoreRouteConfig, RouteScope } from './context.js';
export { DEFAULTS, VERSION } from './context.js';
export { BEARER_SCHEME, DOCS_PREFIX, OPENAPI_JSON_PATH, TICKET_SCHEME } from './openapi.js';
export type { OpenStore, RunningServer, ServeOptions } from './serve.js';
export { SHUTDOWN_GRACE_MS, serve } from './serve.js';
export type {
  ParseWebhookRoutesOptions,
  SignWebhookOptions,
  WebhookRoute,
  WebhookRoutes,
  WebhookRoutesFile,
  WebhookVerifierName,
} from './webhooks/index.js';
export {
  DEFAULT_WEBHOOK_ROUTES,
  HOOKS_PREFIX,
  loadWebhookRoutesFile,
  parseWebhookRoutes,
  signWebhook,
  unsignedWebhookRoutes,
  WEBHOOK_DEFAULTS,
  WEBHOOK_VERIFIERS,
} from './webhooks/index.js';
