// SPDX-License-Identifier: GPL-3.0-or-later
// Signing a body the way a route's provider would, for `dualstore hooks test` (a user wiring a
// provider checks the route before the provider's first real delivery) and for tests.

import type { WebhookRoute } from './routes-file.js';
import { VERIFIERS } from './verifiers/index.js';

export interface SignWebhookOptions {
  /** The signing time for timestamped schemes (stripe, standard), ms since the epoch. Defaults to `Date.now()`. */
  now?: number;
  /**
   * The delivery id to send, in the provider's header (`X-GitHub-Delivery`, `X-Request-UUID`,
   * `webhook-id`, else `Idempotency-Key`). Stripe-style routes take it from the body's `id`
   * instead. Standard Webhooks always need one: defaults to a random `msg_…` there.
   */
  deliveryId?: string;
}

/**
 * The headers that make `rawBody` a valid delivery for `route`: the signature header(s) of the
 * route's verifier, signed with its first secret, plus the delivery id header. Send the body
 * byte for byte as given.
 *
 * @throws Error when the route is signed but has no secret (cannot happen for a parsed route).
 * @example
 * const routes = parseWebhookRoutes({ routes: { github: { secret: 's3cret' } } });
 * const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
 * const headers = signWebhook(routes.get('github')!, body, { deliveryId: crypto.randomUUID() });
 * await fetch(`${url}/hooks/github`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', 'x-github-event': 'ping' }, body });
 */
export function signWebhook(
  route: WebhookRoute,
  rawBody: string | Uint8Array,
  options: SignWebhookOptions = {},
): Record<string, string> {
  const raw = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : Buffer.from(rawBody);
  return VERIFIERS[route.verify].sign({ route, raw, nowMs: options.now ?? Date.now(), deliveryId: options.deliveryId });
}
