// SPDX-License-Identifier: GPL-3.0-or-later
// A plain shared secret in a header (default `X-Webhook-Secret`, per route `header:`), for
// senders that cannot sign (Bugsnag, home-made scripts). Both sides are hashed before the
// comparison, so secrets of different lengths compare in the same time and never throw.
// It proves only that the sender knows the secret: the body is not covered.

import { createHash } from 'node:crypto';
import { badSignature, header, matchesAny, requireHeader, signingSecret, type Verifier } from './verifier.js';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export const secretHeaderVerifier: Verifier = {
  verify(input) {
    const given = requireHeader(input.headers, input.route.header);
    if (!matchesAny(input.route.secrets.map(digest), [digest(given)])) {
      throw badSignature(`the ${input.route.header} header does not hold the route's secret`);
    }
  },
  sign({ route, deliveryId }) {
    const headers: Record<string, string> = { [route.header]: signingSecret(route) };
    if (deliveryId !== undefined) headers['idempotency-key'] = deliveryId;
    return headers;
  },
  deliveryId: (headers) => header(headers, 'idempotency-key'),
  event: () => undefined,
  keptHeaders: ['user-agent', 'content-type'],
};
