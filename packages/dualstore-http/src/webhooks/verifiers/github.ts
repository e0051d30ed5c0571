// SPDX-License-Identifier: GPL-3.0-or-later
// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the raw body; the delivery id is
// `X-GitHub-Delivery` (repeated on a redelivery), the event `X-GitHub-Event`.
// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries

import { hubSignature, verifyHubSignature } from './hub-signature.js';
import { header, signingSecret, type Verifier } from './verifier.js';

export const githubVerifier: Verifier = {
  verify: (input) => verifyHubSignature(input, 'x-hub-signature-256'),
  sign({ route, raw, deliveryId }) {
    const headers: Record<string, string> = { 'x-hub-signature-256': hubSignature(signingSecret(route), raw) };
    if (deliveryId !== undefined) headers['x-github-delivery'] = deliveryId;
    return headers;
  },
  deliveryId: (headers) => header(headers, 'x-github-delivery'),
  event: (headers) => header(headers, 'x-github-event'),
  keptHeaders: [
    'x-github-event',
    'x-github-delivery',
    'x-github-hook-id',
    'x-github-hook-installation-target-type',
    'x-github-hook-installation-target-id',
    'user-agent',
    'content-type',
  ],
};
