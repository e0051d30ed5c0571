// SPDX-License-Identifier: GPL-3.0-or-later
// Webhook ingestion end to end over real sockets: real GitHub payloads from
// @octokit/webhooks-examples signed with @octokit/webhooks-methods become docs (source, topic,
// summary text, payload and headers in metadata) that an SSE subscriber sees as `insert` events;
// the answers for bodies over the limit (413), not JSON (400) and unknown routes (404) store
// nothing; oversized and too-deep payloads are trimmed to core's limits instead of failing;
// unsigned routes need a bearer token with `write`; `signWebhook` output is accepted by the
// providers' own verifiers.

import { createHmac, randomUUID } from 'node:crypto';
import { hashTokenSecret, MAX_DOC_BYTES, newTokenSecret, type TokenScope, utf8Length } from '@dualstore/core';
import { signWebhook } from '@dualstore/http';
import examples from '@octokit/webhooks-examples';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSse, RawStream } from './sse-helpers.js';
import {
  type HookServer,
  octokit,
  postHook,
  StandardWebhook,
  startHookServer,
  storedDocs,
} from './webhooks-helpers.js';

const SECRET = 'github-secret-5d0c';
const STD = `whsec_${Buffer.from('standard-webhooks-key-one-32byte').toString('base64')}`;
const WHSEC = `whsec_${Buffer.from('stripe-endpoint-key').toString('base64')}`;

/** The first example payload of a GitHub event type. */
function example(event: string, index = 0): Record<string, unknown> {
  const entry = (examples as unknown as { name: string; examples: Record<string, unknown>[] }[]).find(
    (item) => item.name === event,
  );
  const payload = entry?.examples[index];
  if (payload === undefined) throw new Error(`no example for ${event}`);
  return payload;
}

async function githubDelivery(event: string, payload: unknown, delivery = randomUUID()) {
  const body = JSON.stringify(payload);
  return {
    body,
    delivery,
    headers: {
      'x-hub-signature-256': await octokit.sign(SECRET, body),
      'x-github-event': event,
      'x-github-delivery': delivery,
      'x-github-hook-id': '4242',
      'user-agent': 'GitHub-Hookshot/abc123',
    },
  };
}

let server: HookServer;
beforeAll(async () => {
  server = await startHookServer({
    routes: {
      github: { secret: SECRET },
      payment: { secret: WHSEC },
      std: { verify: 'standard', secret: STD },
      'gh-events': { verify: 'github', secret: SECRET, topic_from: 'header:X-GitHub-Event', collection: 'agent_tasks' },
      typed: { verify: 'none', topic: 'typed-fallback', topic_from: 'body:$.type' },
      small: { verify: 'none', body_limit: '1kb' },
    },
  });
});
afterAll(() => server.close());

describe('real GitHub deliveries', () => {
  it.for([
    ['push', /^push to tag simple-tag by Codertocat: 0 commits \(Codertocat\/Hello-World\)$/],
    ['pull_request', /^pull request #\d+ \w+ by \S+: .+ \(\S+\/\S+\)$/],
    ['issues', /^issue #\d+ \w+ by \S+: .+ \(\S+\/\S+\)$/],
    ['issue_comment', /^comment \w+ on #\d+ by \S+: .+/],
    ['ping', /^ping: .+/],
    ['release', /^release \S+ \w+ by \S+/],
    ['workflow_run', /^workflow .+/],
  ] as const)('%s becomes one doc with a summary, the payload and the delivery headers', async ([event, summary]) => {
    const payload = example(event);
    const delivery = await githubDelivery(event, payload);
    const response = await postHook(server, 'github', delivery.body, delivery.headers);
    expect(response.status).toBe(202);
    const doc = await server.store.get('events', response.body.id);
    expect(doc).toMatchObject({
      seq: response.body.seq,
      source: 'webhook:github',
      topic: 'github-webhook',
      status: 'pending',
    });
    expect(doc!.text).toMatch(summary);
    expect(doc!.metadata.payload).toEqual(payload);
    expect(doc!.metadata.webhook).toEqual({
      route: 'github',
      verify: 'github',
      event,
      delivery: delivery.delivery,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/abc123',
        'x-github-delivery': delivery.delivery,
        'x-github-event': event,
        'x-github-hook-id': '4242',
      },
    });
  });

  it('a search for the summary finds the delivery', async () => {
    const searchable = await startHookServer({ routes: { github: { secret: SECRET } } }, { store: { search: true } });
    try {
      const delivery = await githubDelivery('push', example('push'));
      const response = await postHook(searchable, 'github', delivery.body, delivery.headers);
      const result = await searchable.store.search('events', {
        q: 'simple-tag Codertocat',
        waitFor: response.body.seq,
      });
      expect(result.items.map((hit) => hit.doc.id)).toEqual([response.body.id]);
    } finally {
      await searchable.close();
    }
  });

  it('topic_from a header and from a body path, with the route topic as fallback', async () => {
    const delivery = await githubDelivery('issues', example('issues'));
    const fromHeader = await postHook(server, 'gh-events', delivery.body, delivery.headers);
    expect(fromHeader.status).toBe(202);
    expect((await server.store.get('agent_tasks', fromHeader.body.id))?.topic).toBe('issues');

    const typed = await postHook(server, 'typed', JSON.stringify({ type: 'invoice.paid' }));
    expect((await server.store.get('events', typed.body.id))?.topic).toBe('invoice.paid');
    // Not a valid topic name (a space), so the route's topic is used rather than failing the delivery.
    const fallback = await postHook(server, 'typed', JSON.stringify({ type: 'not a topic' }));
    expect((await server.store.get('events', fallback.body.id))?.topic).toBe('typed-fallback');
  });

  it('a form-encoded GitHub delivery (payload=<json>) is verified on its bytes and parsed', async () => {
    const payload = example('ping');
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const response = await postHook(server, 'github', body, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-hub-signature-256': await octokit.sign(SECRET, body),
      'x-github-event': 'ping',
      'x-github-delivery': randomUUID(),
    });
    expect(response.status).toBe(202);
    expect((await server.store.get('events', response.body.id))?.metadata.payload).toEqual(payload);
  });
});

describe('SSE', () => {
  it('a subscriber sees each stored webhook as an insert event, and a redelivery as nothing', async () => {
    const stream = RawStream.open(server.url, '/v1/events/stream');
    try {
      await stream.ready();
      expect(stream.status).toBe(200);
      const ids: string[] = [];
      for (const event of ['push', 'pull_request', 'issues']) {
        const delivery = await githubDelivery(event, example(event));
        const response = await postHook(server, 'github', delivery.body, delivery.headers);
        expect(response.status).toBe(202);
        ids.push(response.body.id);
        // A redelivery of the same delivery id: answered 200, not a second event.
        expect((await postHook(server, 'github', delivery.body, delivery.headers)).status).toBe(200);
      }
      const inserts = () => parseSse(stream.text).events.filter((event) => event.event === 'insert');
      await stream.until(() => inserts().length >= 3, 10_000, 'three insert events');
      const docs = inserts().map((event) => JSON.parse(event.data) as { id: string; source: string; topic: string });
      expect(docs.map((doc) => doc.id)).toEqual(ids);
      expect(docs.every((doc) => doc.source === 'webhook:github' && doc.topic === 'github-webhook')).toBe(true);
    } finally {
      stream.close();
    }
  });
});

describe('answers that store nothing', () => {
  async function expectNothingStored(run: () => Promise<void>): Promise<void> {
    const before = (await storedDocs(server)).length;
    await run();
    expect((await storedDocs(server)).length).toBe(before);
  }

  it('a body over the route limit is 413 payload_too_large', async () => {
    await expectNothingStored(async () => {
      const response = await postHook(server, 'small', JSON.stringify({ pad: 'x'.repeat(2048) }));
      expect(response.status).toBe(413);
      expect(response.body.code).toBe('payload_too_large');
    });
  });

  it('the default 5 MiB limit applies to a signed route, before the signature is checked', async () => {
    await expectNothingStored(async () => {
      const body = JSON.stringify({ pad: 'x'.repeat(5 * 1024 * 1024) });
      const response = await postHook(server, 'github', body, {
        'x-hub-signature-256': await octokit.sign(SECRET, body),
      });
      expect(response.status).toBe(413);
      expect(response.body.code).toBe('payload_too_large');
    });
  });

  it.for([
    ['not JSON', 'this is not json'],
    ['empty', ''],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
    ['a __proto__ key', '{"__proto__":{"polluted":true}}'],
  ] as const)('a correctly signed body that is %s is 400 validation_failed', async ([, body]) => {
    await expectNothingStored(async () => {
      // Signed over the exact bytes (octokit's sign takes a string, which invalid UTF-8 is not).
      const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
      const response = await postHook(server, 'github', body, { 'x-hub-signature-256': signature });
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('validation_failed');
    });
  });

  it('an unknown route is 404 not_found', async () => {
    await expectNothingStored(async () => {
      const response = await postHook(server, 'gitlab', '{}');
      expect(response.status).toBe(404);
      expect(response.body.code).toBe('not_found');
    });
  });

  it('a bad signature is checked before the body: 401 even for a body that is not JSON', async () => {
    await expectNothingStored(async () => {
      const response = await postHook(server, 'github', 'not json', {
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
      });
      expect(response.status).toBe(401);
      expect(response.body.code).toBe('bad_signature');
    });
  });
});

describe('payloads beyond core limits are trimmed, not refused', () => {
  it('a 1 MB push keeps its identifying fields and fits 64 KiB, listing what was trimmed', async () => {
    const base = example('push', 1);
    const commits = Array.from({ length: 1500 }, (_, i) => ({
      id: `${i}`.padStart(40, '0'),
      message: `commit ${i} ${'detail '.repeat(80)}`,
      author: { name: 'alice', email: 'alice@example.com' },
    }));
    const payload = { ...base, ref: 'refs/heads/main', commits, pusher: { name: 'alice' } };
    const delivery = await githubDelivery('push', payload);
    expect(delivery.body.length).toBeGreaterThan(800_000);
    const response = await postHook(server, 'github', delivery.body, delivery.headers);
    expect(response.status).toBe(202);
    const doc = (await server.store.get('events', response.body.id))!;
    expect(doc.text).toMatch(/^push to main by alice: 1500 commits \(/);
    expect(utf8Length(doc.text) + utf8Length(JSON.stringify(doc.metadata))).toBeLessThanOrEqual(MAX_DOC_BYTES);
    const kept = doc.metadata.payload as typeof payload & { repository: { full_name: string } };
    expect(kept.ref).toBe('refs/heads/main');
    expect(kept.repository.full_name).toBe((base.repository as { full_name: string }).full_name);
    expect(kept.commits[0]).toEqual(commits[0]);
    expect(kept.commits.at(-1)).toMatch(/^\[trimmed: \d+ more items\]$/);
    const webhook = doc.metadata.webhook as { trimmed: string[]; body_bytes: number };
    expect(webhook.trimmed).toContainEqual(expect.stringMatching(/^payload\.commits\[\d+\.\.\]$/));
    expect(webhook.body_bytes).toBe(Buffer.byteLength(delivery.body));
  });

  it('a payload nested deeper than 32 levels is cut at the limit', async () => {
    let deep: unknown = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { child: deep };
    const delivery = await githubDelivery('ping', { zen: 'deep', deep });
    const response = await postHook(server, 'github', delivery.body, delivery.headers);
    expect(response.status).toBe(202);
    const doc = (await server.store.get('events', response.body.id))!;
    expect(JSON.stringify(doc.metadata)).toContain('[trimmed: nested too deeply]');
    expect((doc.metadata.payload as { zen: string }).zen).toBe('deep');
  });

  it('an object of thousands of small fields loses the excess fields, not the delivery', async () => {
    const wide = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`field_${i}`, 'v'.repeat(100)]));
    const delivery = await githubDelivery('ping', { zen: 'wide', hook_id: 1, wide });
    const response = await postHook(server, 'github', delivery.body, delivery.headers);
    expect(response.status).toBe(202);
    const doc = (await server.store.get('events', response.body.id))!;
    expect(utf8Length(doc.text) + utf8Length(JSON.stringify(doc.metadata))).toBeLessThanOrEqual(MAX_DOC_BYTES);
    expect(doc.metadata.payload).toMatchObject({ zen: 'wide', hook_id: 1 });
    expect((doc.metadata.webhook as { trimmed: string[] }).trimmed).toContainEqual(
      expect.stringMatching(/^payload\.wide\{\d+ fields removed\}$/),
    );
  });

  it('one huge string keeps its start', async () => {
    const delivery = await githubDelivery('issues', {
      action: 'opened',
      issue: { number: 7, title: 'big', body: 'y'.repeat(200_000) },
    });
    const response = await postHook(server, 'github', delivery.body, delivery.headers);
    expect(response.status).toBe(202);
    const doc = (await server.store.get('events', response.body.id))!;
    const body = (doc.metadata.payload as { issue: { body: string } }).issue.body;
    expect(body.startsWith('yyyy')).toBe(true);
    expect(body.endsWith('… [trimmed]')).toBe(true);
    expect(doc.text).toBe('issue #7 opened: big');
  });
});

describe('auth', () => {
  const ROOT = newTokenSecret();
  let guarded: HookServer;
  const tokens: Record<string, string> = {};

  async function token(label: string, scopes: TokenScope[], collections?: string[]): Promise<void> {
    const secret = newTokenSecret();
    const input = { name: label, scopes, hash: hashTokenSecret(secret) };
    await guarded.store.createToken(collections === undefined ? input : { ...input, collections });
    tokens[label] = secret;
  }

  beforeAll(async () => {
    guarded = await startHookServer({ routes: { github: { secret: SECRET } } }, { authToken: ROOT });
    await token('write', ['write']);
    await token('read', ['read']);
    await token('write-elsewhere', ['write'], ['agent_tasks']);
  });
  afterAll(() => guarded.close());

  it.for([
    ['no token', undefined, 401, 'unauthorized'],
    ['a read token', 'read', 403, 'forbidden'],
    ['a write token limited to another collection', 'write-elsewhere', 403, 'forbidden'],
    ['a write token', 'write', 202, undefined],
  ] as const)('an unsigned route with %s', async ([, label, status, code]) => {
    const headers: Record<string, string> = label === undefined ? {} : { authorization: `Bearer ${tokens[label]}` };
    const response = await postHook(guarded, 'bitbucket', JSON.stringify({ actor: { display_name: 'Bo' } }), headers);
    expect(response.status).toBe(status);
    if (code !== undefined) expect(response.body.code).toBe(code);
  });

  it('a signed route needs no bearer token: the signature authenticates it', async () => {
    const delivery = await githubDelivery('ping', example('ping'));
    expect((await postHook(guarded, 'github', delivery.body, delivery.headers)).status).toBe(202);
    const unsigned = await postHook(guarded, 'github', delivery.body, { authorization: `Bearer ${ROOT}` });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.code).toBe('bad_signature');
  });
});

describe('signWebhook (for `dualstore hooks test`) matches the providers own verifiers', () => {
  const body = JSON.stringify({ id: 'evt_1', type: 'invoice.paid', data: { object: { id: 'in_1' } } });

  it('github: @octokit/webhooks-methods verify accepts it, and so does the server', async () => {
    const headers = signWebhook(server.route('github'), body, { deliveryId: 'sign-1' });
    expect(Object.keys(headers).sort()).toEqual(['x-github-delivery', 'x-hub-signature-256']);
    expect(await octokit.verify(SECRET, body, headers['x-hub-signature-256'] as string)).toBe(true);
    expect((await postHook(server, 'github', body, headers)).status).toBe(202);
  });

  it('stripe: stripe.webhooks.constructEvent accepts it, and the server accepts generateTestHeaderString', async () => {
    const stripe = new Stripe('sk_test_offline');
    const headers = signWebhook(server.route('payment'), body, { now: server.clock.ms });
    const event = stripe.webhooks.constructEvent(
      body,
      headers['stripe-signature'] as string,
      WHSEC,
      300,
      undefined,
      server.clock.ms,
    );
    expect(event.id).toBe('evt_1');
    expect((await postHook(server, 'payment', body, headers)).status).toBe(202);
    const official = stripe.webhooks.generateTestHeaderString({
      payload: body,
      secret: WHSEC,
      timestamp: Math.floor(server.clock.ms / 1000),
    });
    // Same event id: a redelivery of the first.
    expect((await postHook(server, 'payment', body, { 'stripe-signature': official })).status).toBe(200);
  });

  it('standard: standardwebhooks verify accepts it (at the real time)', async () => {
    const headers = signWebhook(server.route('std'), body, { now: Date.now(), deliveryId: 'msg_sign_1' });
    expect(new StandardWebhook(STD).verify(body, headers)).toEqual(JSON.parse(body));
    const atServerTime = signWebhook(server.route('std'), body, { now: server.clock.ms, deliveryId: 'msg_sign_1' });
    expect((await postHook(server, 'std', body, atServerTime)).status).toBe(202);
  });
});
