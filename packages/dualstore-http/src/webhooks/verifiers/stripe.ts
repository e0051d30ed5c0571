// SPDX-License-Identifier: GPL-3.0-or-later
// Stripe-style signed timestamps: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`,
// each v1 an HMAC-SHA256 of `<t>.<raw body>` with the endpoint secret (used as-is, `whsec_`
// prefix included). Several v1 entries appear while Stripe rolls a secret; other schemes (`v0`)
// are ignored. Unlike Stripe's own library, a timestamp too far in the future is refused too.
// Written here (the `stripe` package is a whole API client) and cross-checked against
// `stripe.webhooks.generateTestHeaderString` / `constructEvent` in the tests.
// https://docs.stripe.com/webhooks#verify-manually

import {
  badSignature,
  checkTimestamp,
  field,
  hmacSha256,
  matchesAny,
  requireHeader,
  sha256Hex,
  signingSecret,
  type Verifier,
} from './verifier.js';

const NAME = 'stripe-signature';
/** More entries than any real header has: a bound on the work a hostile header can cause. */
const MAX_ENTRIES = 16;

export const stripeVerifier: Verifier = {
  verify(input) {
    const entries = requireHeader(input.headers, NAME).split(',');
    if (entries.length > MAX_ENTRIES) throw badSignature(`the ${NAME} header has too many entries`);
    let timestamp: string | undefined;
    const given: Buffer[] = [];
    for (const entry of entries) {
      const eq = entry.indexOf('=');
      const key = entry.slice(0, eq).trim();
      const value = entry.slice(eq + 1).trim();
      if (eq < 0) throw badSignature(`the ${NAME} header must be "t=<seconds>,v1=<hex>"`);
      if (key === 't') {
        if (timestamp !== undefined) throw badSignature(`the ${NAME} header has two timestamps`);
        timestamp = value;
      } else if (key === 'v1') {
        const digest = sha256Hex(value);
        if (digest === undefined) throw badSignature(`a v1 signature in ${NAME} is not 64 hex digits`);
        given.push(digest);
      }
    }
    if (timestamp === undefined || given.length === 0) {
      throw badSignature(`the ${NAME} header must carry t=<seconds> and at least one v1=<hex>`);
    }
    if (!/^\d{1,15}$/.test(timestamp)) throw badSignature(`the ${NAME} timestamp is not a number of seconds`);
    const expected = input.route.secrets.map((secret) => hmacSha256(secret, `${timestamp}.`, input.raw));
    if (!matchesAny(expected, given)) throw badSignature(`no v1 signature in ${NAME} matches the body`);
    // Checked after the signature, so an unsigned request learns nothing about the server clock.
    checkTimestamp(timestamp, input, NAME);
  },
  sign({ route, raw, nowMs }) {
    const t = Math.floor(nowMs / 1000);
    const v1 = hmacSha256(signingSecret(route), `${t}.`, raw).toString('hex');
    return { [NAME]: `t=${t},v1=${v1}` };
  },
  // The event id is signed (it is in the body) and repeated on every retry of the event.
  deliveryId: (_headers, payload) => field(payload, 'id'),
  event: (_headers, payload) => field(payload, 'type'),
  keptHeaders: ['user-agent', 'content-type'],
};
