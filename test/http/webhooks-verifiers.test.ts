// SPDX-License-Identifier: GPL-3.0-or-later
// Every verifier against the same table of deliveries (issue 6 "Tests"): valid, one byte
// tampered, wrong secret, missing header, garbled header, sha1 where sha256 is required,
// upper-case hex, truncated signature, the second of two secrets / signatures (rotation), a
// timestamp outside the tolerance both ways, a replayed delivery id (200, one doc), and a
// pretty-printed body signed over its own bytes (accepted) or over the compact bytes (refused).
// Valid deliveries are signed by the providers' own libraries: @octokit/webhooks-methods for
// GitHub and Bitbucket, stripe's generateTestHeaderString, standardwebhooks' Webhook.sign. Each
// case also checks the store: a refused delivery stores nothing, an accepted one exactly one doc.

import { createHmac, randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HookServer,
  octokit,
  postHook,
  StandardWebhook,
  startHookServer,
  storedDocs,
} from './webhooks-helpers.js';

const S1 = 'first-secret-7c1f3a';
const S2 = 'second-secret-0b9e44';
const WHSEC1 = `whsec_${Buffer.from('stripe-key-one').toString('base64')}`;
const WHSEC2 = `whsec_${Buffer.from('stripe-key-two').toString('base64')}`;
const STD1 = `whsec_${Buffer.from('standard-webhooks-key-one-32byte').toString('base64')}`;
const STD2 = `whsec_${Buffer.from('standard-webhooks-key-two-32byte').toString('base64')}`;
const stripe = new Stripe('sk_test_offline');

let server: HookServer;
beforeAll(async () => {
  server = await startHookServer({
    routes: {
      github: { secrets: [S1, S2] },
      bitbucket: { secrets: [S1, S2] },
      payment: { secrets: [WHSEC1, WHSEC2] },
      std: { verify: 'standard', secrets: [STD1, STD2], topic: 'std-events' },
      bugsnag: { secrets: [S1, S2] },
      plain: { verify: 'none' },
    },
  });
});
afterAll(() => server.close());

/** What a sender does for one delivery. */
interface Delivery {
  /** The bytes to sign. */
  signed: string;
  /** The bytes to send (defaults to `signed`). */
  sent?: string;
  headers: Record<string, string>;
}

interface Provider {
  route: string;
  /** Secrets the route accepts, newest first; `wrong` is not one of them. */
  secrets: [string, string];
  wrong: string;
  /** A body for a fresh delivery (Stripe's event id lives in the body). */
  body(id: string, pretty?: boolean): string;
  /** Sign `body` as the provider would; `at` is the signing time in seconds. */
  sign(body: string, options: { secret: string; id: string; at: number }): Promise<Record<string, string>>;
  /** The header carrying the signature (or secret). */
  signatureHeader: string;
  timestamped: boolean;
  /** The signature covers the body (not true of a plain secret header). */
  coversBody: boolean;
}

function payload(id: string, pretty = false): string {
  const value = {
    id,
    type: 'test.event',
    action: 'opened',
    data: { object: { id: 'obj_1', amount: 1250, currency: 'eur' } },
  };
  return pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
}

const hubBody = (_id: string, pretty?: boolean) => payload(`payload-${randomUUID()}`, pretty);

const PROVIDERS: Provider[] = [
  {
    route: 'github',
    secrets: [S1, S2],
    wrong: 'not-the-secret',
    body: hubBody,
    async sign(body, { secret, id }) {
      return {
        'x-hub-signature-256': await octokit.sign(secret, body),
        'x-github-delivery': id,
        'x-github-event': 'issues',
      };
    },
    signatureHeader: 'x-hub-signature-256',
    timestamped: false,
    coversBody: true,
  },
  {
    route: 'bitbucket',
    secrets: [S1, S2],
    wrong: 'not-the-secret',
    body: hubBody,
    async sign(body, { secret, id }) {
      return { 'x-hub-signature': await octokit.sign(secret, body), 'x-request-uuid': id, 'x-event-key': 'repo:push' };
    },
    signatureHeader: 'x-hub-signature',
    timestamped: false,
    coversBody: true,
  },
  {
    route: 'payment',
    secrets: [WHSEC1, WHSEC2],
    wrong: `whsec_${Buffer.from('some-other-key').toString('base64')}`,
    // Stripe's delivery id is the event id in the (signed) body.
    body: (id, pretty) => payload(id, pretty),
    async sign(body, { secret, at }) {
      return { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: at }) };
    },
    signatureHeader: 'stripe-signature',
    timestamped: true,
    coversBody: true,
  },
  {
    route: 'std',
    secrets: [STD1, STD2],
    wrong: `whsec_${Buffer.from('standard-webhooks-key-bad-32byte').toString('base64')}`,
    body: hubBody,
    async sign(body, { secret, id, at }) {
      return {
        'webhook-id': id,
        'webhook-timestamp': String(at),
        'webhook-signature': new StandardWebhook(secret).sign(id, new Date(at * 1000), body),
      };
    },
    signatureHeader: 'webhook-signature',
    timestamped: true,
    coversBody: true,
  },
  {
    route: 'bugsnag',
    secrets: [S1, S2],
    wrong: 'not-the-secret',
    body: hubBody,
    async sign(_body, { secret, id }) {
      return { 'x-webhook-secret': secret, 'idempotency-key': id };
    },
    signatureHeader: 'x-webhook-secret',
    timestamped: false,
    coversBody: false,
  },
];

const now = () => Math.floor(server.clock.ms / 1000);

/** Replace the signature header's value. */
function withSignature(
  headers: Record<string, string>,
  name: string,
  value: string | undefined,
): Record<string, string> {
  const copy = { ...headers };
  if (value === undefined) delete copy[name];
  else copy[name] = value;
  return copy;
}

/** Change the hex (or base64) signature part of a header with `edit`. */
function editSignature(provider: Provider, value: string, edit: (signature: string) => string): string {
  switch (provider.route) {
    case 'github':
    case 'bitbucket':
      return `sha256=${edit(value.slice('sha256='.length))}`;
    case 'payment':
      return value.replace(/v1=([0-9a-f]+)/, (_m, hex: string) => `v1=${edit(hex)}`);
    case 'std':
      return value.replace(/v1,(\S+)/, (_m, b64: string) => `v1,${edit(b64)}`);
    default:
      return edit(value);
  }
}

type Case = {
  name: string;
  /** Why it does not apply to a provider (the case is not generated for it), or undefined when it does. */
  notFor?: (p: Provider) => string | undefined;
  build: (p: Provider, id: string) => Promise<Delivery>;
  expected: (p: Provider) => number;
};

const CASES: Case[] = [
  {
    name: 'valid',
    build: async (p, id) => {
      const body = p.body(id);
      return { signed: body, headers: await p.sign(body, { secret: p.secrets[0], id, at: now() }) };
    },
    expected: () => 202,
  },
  {
    name: 'one byte tampered',
    notFor: (p) => (p.coversBody ? undefined : 'a plain secret header does not cover the body (docs/webhooks.md)'),
    build: async (p, id) => {
      const body = p.body(id);
      return {
        signed: body,
        sent: body.replace('"opened"', '"openeD"'),
        headers: await p.sign(body, { secret: p.secrets[0], id, at: now() }),
      };
    },
    expected: () => 401,
  },
  {
    name: 'wrong secret',
    build: async (p, id) => {
      const body = p.body(id);
      return { signed: body, headers: await p.sign(body, { secret: p.wrong, id, at: now() }) };
    },
    expected: () => 401,
  },
  {
    name: 'missing header',
    build: async (p, id) => {
      const body = p.body(id);
      const headers = await p.sign(body, { secret: p.secrets[0], id, at: now() });
      return { signed: body, headers: withSignature(headers, p.signatureHeader, undefined) };
    },
    expected: () => 401,
  },
  {
    name: 'garbled header',
    notFor: (p) => (p.coversBody ? undefined : 'any header value is just a wrong secret'),
    build: async (p, id) => {
      const body = p.body(id);
      const headers = await p.sign(body, { secret: p.secrets[0], id, at: now() });
      const garbage: Record<string, string> = {
        github: 'sha256=not-hex-at-all',
        bitbucket: '=,;sha256',
        payment: 't=yesterday,v1=zz',
        std: 'v1,*** v2',
      };
      return { signed: body, headers: withSignature(headers, p.signatureHeader, garbage[p.route]) };
    },
    expected: () => 401,
  },
  {
    name: 'sha1 where sha256 is required',
    notFor: (p) => (p.coversBody ? undefined : 'no hash involved'),
    build: async (p, id) => {
      const body = p.body(id);
      const headers = await p.sign(body, { secret: p.secrets[0], id, at: now() });
      const sha1 = (data: string) => createHmac('sha1', p.secrets[0]).update(data).digest();
      const value: Record<string, string> = {
        github: `sha1=${sha1(body).toString('hex')}`,
        bitbucket: `sha1=${sha1(body).toString('hex')}`,
        payment: `t=${now()},v1=${sha1(`${now()}.${body}`).toString('hex')}`,
        std: `v1,${sha1(body).toString('base64')}`,
      };
      return { signed: body, headers: withSignature(headers, p.signatureHeader, value[p.route]) };
    },
    expected: () => 401,
  },
  {
    name: 'upper-case hex',
    notFor: (p) => (p.coversBody ? undefined : 'no hex involved'),
    build: async (p, id) => {
      const body = p.body(id);
      const headers = await p.sign(body, { secret: p.secrets[0], id, at: now() });
      const value = headers[p.signatureHeader] as string;
      return {
        signed: body,
        headers: withSignature(
          headers,
          p.signatureHeader,
          editSignature(p, value, (s) => s.toUpperCase()),
        ),
      };
    },
    // Hex is case-insensitive (same bytes, accepted); base64 is not (other bytes, refused).
    expected: (p) => (p.route === 'std' ? 401 : 202),
  },
  {
    name: 'truncated signature',
    build: async (p, id) => {
      const body = p.body(id);
      const headers = await p.sign(body, { secret: p.secrets[0], id, at: now() });
      const value = headers[p.signatureHeader] as string;
      return {
        signed: body,
        headers: withSignature(
          headers,
          p.signatureHeader,
          editSignature(p, value, (s) => s.slice(0, -2)),
        ),
      };
    },
    expected: () => 401,
  },
  {
    name: 'rotation: signed with the second secret',
    build: async (p, id) => {
      const body = p.body(id);
      return { signed: body, headers: await p.sign(body, { secret: p.secrets[1], id, at: now() }) };
    },
    expected: () => 202,
  },
  {
    name: 'rotation: two signatures in one header, one of them valid',
    notFor: (p) => (p.route === 'payment' || p.route === 'std' ? undefined : 'one signature per header'),
    build: async (p, id) => {
      const body = p.body(id);
      const bad = await p.sign(body, { secret: p.wrong, id, at: now() });
      const good = await p.sign(body, { secret: p.secrets[1], id, at: now() });
      const value =
        p.route === 'payment'
          ? `${bad['stripe-signature']},${(good['stripe-signature'] as string).replace(/^t=\d+,/, '')}`
          : `${bad['webhook-signature']} ${good['webhook-signature']}`;
      return { signed: body, headers: withSignature(good, p.signatureHeader, value) };
    },
    expected: () => 202,
  },
  {
    name: 'timestamp 301 s old (outside the 300 s tolerance)',
    notFor: (p) => (p.timestamped ? undefined : 'no timestamp'),
    build: async (p, id) => {
      const body = p.body(id);
      return { signed: body, headers: await p.sign(body, { secret: p.secrets[0], id, at: now() - 301 }) };
    },
    expected: () => 401,
  },
  {
    name: 'timestamp 301 s in the future',
    notFor: (p) => (p.timestamped ? undefined : 'no timestamp'),
    build: async (p, id) => {
      const body = p.body(id);
      return { signed: body, headers: await p.sign(body, { secret: p.secrets[0], id, at: now() + 301 }) };
    },
    expected: () => 401,
  },
  {
    name: 'timestamp exactly 300 s old (the edge of the tolerance)',
    notFor: (p) => (p.timestamped ? undefined : 'no timestamp'),
    build: async (p, id) => {
      const body = p.body(id);
      return { signed: body, headers: await p.sign(body, { secret: p.secrets[0], id, at: now() - 300 }) };
    },
    expected: () => 202,
  },
  {
    name: 'pretty-printed body signed over its own bytes',
    build: async (p, id) => {
      const body = p.body(id, true);
      return { signed: body, headers: await p.sign(body, { secret: p.secrets[0], id, at: now() }) };
    },
    expected: () => 202,
  },
  {
    name: 'pretty-printed body with the signature of the compact bytes',
    notFor: (p) => (p.coversBody ? undefined : 'a plain secret header does not cover the body'),
    build: async (p, id) => {
      const compact = p.body(id);
      const pretty = JSON.stringify(JSON.parse(compact), null, 2);
      return { signed: compact, sent: pretty, headers: await p.sign(compact, { secret: p.secrets[0], id, at: now() }) };
    },
    expected: () => 401,
  },
];

describe.each(PROVIDERS)('verifier of /hooks/$route', (provider) => {
  // Cases that cannot apply (no timestamp, no body hash) are not generated, rather than skipped.
  it.for(CASES.filter((testCase) => testCase.notFor?.(provider) === undefined))('$name', async (testCase) => {
    const id = `dlv-${randomUUID()}`;
    const delivery = await testCase.build(provider, id);
    const before = (await storedDocs(server)).length;
    const response = await postHook(server, provider.route, delivery.sent ?? delivery.signed, delivery.headers);
    const expected = testCase.expected(provider);
    expect(response.status, JSON.stringify(response.body)).toBe(expected);
    const after = await storedDocs(server);
    if (expected === 401) {
      expect(response.body.code).toBe('bad_signature');
      expect(after.length).toBe(before);
    } else {
      expect(after.length).toBe(before + 1);
      const doc = after.at(-1)!;
      expect(doc.id).toBe(response.body.id);
      expect(doc.source).toBe(`webhook:${provider.route}`);
      // The payload is what was sent, parsed; the signature never reaches the doc.
      expect(doc.metadata.payload).toEqual(JSON.parse(delivery.sent ?? delivery.signed));
      expect(JSON.stringify(doc.metadata)).not.toContain(delivery.headers[provider.signatureHeader]);
    }
  });

  it('a replayed delivery id answers 200 with the first doc and stores nothing new', async () => {
    const id = `dlv-${randomUUID()}`;
    const body = provider.body(id);
    const first = await postHook(
      server,
      provider.route,
      body,
      await provider.sign(body, { secret: provider.secrets[0], id, at: now() }),
    );
    expect(first.status).toBe(202);
    const count = (await storedDocs(server)).length;
    // The provider retries a minute later: a fresh signature (and timestamp), the same delivery id.
    server.clock.ms += 60_000;
    try {
      const again = await postHook(server, provider.route, body, {
        ...(await provider.sign(body, { secret: provider.secrets[1], id, at: now() })),
        'user-agent': 'Provider-Hookshot/2.0',
      });
      expect(again).toEqual({ status: 200, body: first.body });
      expect((await storedDocs(server)).length).toBe(count);
    } finally {
      server.clock.ms -= 60_000;
    }
  });
});

describe('unsigned route (verify: none) in open loopback mode', () => {
  it('stores a delivery without any signature, deduplicated by Idempotency-Key', async () => {
    const body = payload('plain-1');
    const first = await postHook(server, 'plain', body, { 'idempotency-key': 'plain-key-1' });
    expect(first.status).toBe(202);
    const again = await postHook(server, 'plain', body, { 'idempotency-key': 'plain-key-1' });
    expect(again).toEqual({ status: 200, body: first.body });
  });
});
