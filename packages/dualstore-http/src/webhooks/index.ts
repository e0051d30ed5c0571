// SPDX-License-Identifier: GPL-3.0-or-later
export { HOOKS_PREFIX, registerWebhooks } from './plugin.js';
export type {
  ParseWebhookRoutesOptions,
  ValueSource,
  WebhookRoute,
  WebhookRoutes,
  WebhookRoutesFile,
  WebhookVerifierName,
} from './routes-file.js';
export {
  DEFAULT_WEBHOOK_ROUTES,
  loadWebhookRoutesFile,
  parseWebhookRoutes,
  unsignedWebhookRoutes,
  WEBHOOK_DEFAULTS,
  WEBHOOK_VERIFIERS,
} from './routes-file.js';
export type { SignWebhookOptions } from './sign.js';
export { signWebhook } from './sign.js';
export { MAX_SUMMARY_CHARS, summarize } from './summary.js';
