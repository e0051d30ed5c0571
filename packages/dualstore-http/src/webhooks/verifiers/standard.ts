// SPDX-License-Identifier: GPL-3.0-or-later
// Standard Webhooks (https://www.standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
// `webhook-signature: v1,<base64> [v1,<base64> …]` (several during a key rotation), each an
// HMAC-SHA256 of `<id>.<timestamp>.<body>` keyed with the base64 of a `whsec_` secret.
//
// The HMAC is the `standardwebhooks` library's own (`Webhook.sign`), so key decoding and the
// signed content are exactly the reference's. Its `verify` is not called: it reads `Date.now()`
// and a fixed 5-minute window, where the route has its own tolerance and the server an
// injectable clock; the signature comparison below is constant-time as the library's is.

import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  badSignature,
  checkTimestamp,
  field,
  header,
  matchesAny,
  requireHeader,
  signingSecret,
  type Verifier,
} from './verifier.js';

/** A v1 signature: base64 of 32 bytes, canonical (Node's base64 decoder would skip stray characters). */
const V1_BASE64 = /^[A-Za-z0-9+/]{43}=$/;
const MAX_SIGNATURES = 16;

function expectedSignature(secret: string, id: string, seconds: number, raw: Buffer): Buffer {
  const signed = new Webhook(secret).sign(id, new Date(seconds * 1000), raw);
  return Buffer.from(signed.slice(signed.indexOf(',') + 1), 'base64');
}

export const standardVerifier: Verifier = {
  verify(input) {
    const id = requireHeader(input.headers, 'webhook-id');
    const timestamp = requireHeader(input.headers, 'webhook-timestamp');
    const list = requireHeader(input.headers, 'webhook-signature').trim().split(/ +/);
    if (list.length > MAX_SIGNATURES) throw badSignature('the webhook-signature header has too many signatures');
    if (!/^\d{1,15}$/.test(timestamp)) throw badSignature('the webhook-timestamp is not a number of seconds');
    const given: Buffer[] = [];
    for (const item of list) {
      const comma = item.indexOf(',');
      // Other versions (v1a: asymmetric) are skipped, as the specification says.
      if (comma < 0 || item.slice(0, comma) !== 'v1') continue;
      const value = item.slice(comma + 1);
      if (!V1_BASE64.test(value)) throw badSignature('a v1 signature in webhook-signature is not base64 of 32 bytes');
      given.push(Buffer.from(value, 'base64'));
    }
    if (given.length === 0) throw badSignature('the webhook-signature header has no "v1,<base64>" signature');
    const seconds = Number(timestamp);
    const expected = input.route.secrets.map((secret) => expectedSignature(secret, id, seconds, input.raw));
    if (!matchesAny(expected, given)) throw badSignature('no signature in webhook-signature matches the body');
    checkTimestamp(timestamp, input, 'webhook-timestamp');
  },
  sign({ route, raw, nowMs, deliveryId }) {
    const id = deliveryId ?? `msg_${randomUUID()}`;
    const seconds = Math.floor(nowMs / 1000);
    const signature = new Webhook(signingSecret(route)).sign(id, new Date(seconds * 1000), raw);
    return { 'webhook-id': id, 'webhook-timestamp': String(seconds), 'webhook-signature': signature };
  },
  deliveryId: (headers) => header(headers, 'webhook-id'),
  event: (_headers, payload) => field(payload, 'type'),
  keptHeaders: ['webhook-id', 'user-agent', 'content-type'],
};
