// SPDX-License-Identifier: GPL-3.0-or-later
// Bitbucket (Cloud and Data Center): `X-Hub-Signature: sha256=<hex>` over the raw body; the
// delivery id is `X-Request-UUID` (Cloud; repeated on a redelivery), the event `X-Event-Key`
// (`repo:push`, `pullrequest:created`).
// https://support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks

import { hubSignature, verifyHubSignature } from './hub-signature.js';
import { header, signingSecret, type Verifier } from './verifier.js';

export const bitbucketVerifier: Verifier = {
  verify: (input) => verifyHubSignature(input, 'x-hub-signature'),
  sign({ route, raw, deliveryId }) {
    const headers: Record<string, string> = { 'x-hub-signature': hubSignature(signingSecret(route), raw) };
    if (deliveryId !== undefined) headers['x-request-uuid'] = deliveryId;
    return headers;
  },
  deliveryId: (headers) => header(headers, 'x-request-uuid') ?? header(headers, 'x-request-id'),
  event: (headers) => header(headers, 'x-event-key'),
  keptHeaders: ['x-event-key', 'x-request-uuid', 'x-request-id', 'x-hook-uuid', 'user-agent', 'content-type'],
};
