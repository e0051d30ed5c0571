// SPDX-License-Identifier: GPL-3.0-or-later
// No signature: the route is guarded by the bearer token instead (`write` scope, or open loopback
// mode), which the auth hook checks before the body is read.

import { header, type Verifier } from './verifier.js';

export const noneVerifier: Verifier = {
  verify: () => {},
  sign({ deliveryId }): Record<string, string> {
    return deliveryId === undefined ? {} : { 'idempotency-key': deliveryId };
  },
  deliveryId: (headers) => header(headers, 'idempotency-key'),
  event: () => undefined,
  keptHeaders: ['user-agent', 'content-type'],
};
