// SPDX-License-Identifier: GPL-3.0-or-later
// Auth over real sockets: open mode and when it ends, AUTH_TOKEN and stored tokens (created and
// revoked through a second store on the same file, as the CLI does in local mode), fail-closed
// route declarations, tokens refused in URLs, stream tickets (single use, expiry on an injected
// clock, scopes and collections carried, void after revocation), and no secret in the log.
// Probe routes added to the app echo the caller, so tests see what auth decided.

import { join } from 'node:path';
import { Writable } from 'node:stream';
import { hashTokenSecret, newTokenSecret, type Store, type TokenScope } from '@dualstore/core';
import { type AppOptions, buildApp, type FastifyInstance } from '@dualstore/http';
import { openSqliteStore, type SqliteStore } from '@dualstore/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { newTestDir, request } from '../helpers.js';

interface ProbeServer {
  url: string;
  app: FastifyInstance;
  store: SqliteStore;
  /** A second store on the same file: what the CLI in local mode writes through. */
  cli: SqliteStore;
  close(): Promise<void>;
}

const servers: ProbeServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

function manualClock(start = Date.UTC(2026, 10, 21, 12)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

/** What the probe routes answer: the caller auth established and the query the route saw. */
function echo(request: { caller?: unknown; query: unknown }) {
  return { caller: request.caller ?? null, query: request.query };
}

async function startProbeServer(options: Omit<AppOptions, 'store'> = {}): Promise<ProbeServer> {
  const { dir, remove } = newTestDir();
  const path = join(dir, 'db.sqlite');
  const store = await openSqliteStore({ path, search: false });
  const cli = await openSqliteStore({ path, search: false });
  const app = await buildApp({ ...options, store });
  app.get('/v1/:c/auth-probe', { config: { scope: 'read', stream: true } }, async (req) => echo(req));
  app.get('/v1/auth-probe', { config: { scope: 'read', stream: true } }, async (req) => echo(req));
  app.get('/v1/:c/auth-probe-write', { config: { scope: 'write' } }, async (req) => echo(req));
  // No config at all: held to admin.
  app.get('/internal-probe', async (req) => echo(req));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  let closed: Promise<void> | undefined;
  const server: ProbeServer = {
    url: `http://127.0.0.1:${address.port}`,
    app,
    store,
    cli,
    close() {
      closed ??= (async () => {
        await app.close();
        await cli.close();
        await store.close();
        remove();
      })();
      return closed;
    },
  };
  servers.push(server);
  return server;
}

async function addToken(
  store: Store,
  scopes: TokenScope[],
  collections?: string[],
): Promise<{ id: string; secret: string }> {
  const secret = newTokenSecret();
  const input = { name: 'test', scopes, hash: hashTokenSecret(secret) };
  const token = await store.createToken(collections === undefined ? input : { ...input, collections });
  return { id: token.id, secret };
}

describe('open mode', () => {
  it('without AUTH_TOKEN or stored tokens every caller is open, keyed by IP', async () => {
    const server = await startProbeServer();
    const res = await request(server, 'GET', '/v1/events/auth-probe');
    expect(res.status).toBe(200);
    expect(res.body.caller).toEqual({
      kind: 'open',
      scopes: ['read', 'write', 'claim', 'admin'],
      clientKey: '127.0.0.1',
    });
    expect((await request(server, 'GET', '/internal-probe')).status).toBe(200);
  });

  it('ends the moment the CLI stores a token, and a revocation counts from the next request', async () => {
    const server = await startProbeServer();
    expect((await request(server, 'GET', '/v1/events/stats')).status).toBe(200);
    // Written through another connection, as `dualstore token create` in local mode would.
    const { id, secret } = await addToken(server.cli, ['read']);
    const anonymous = await request(server, 'GET', '/v1/events/stats');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('unauthorized');
    const withToken = await request(server, 'GET', '/v1/events/auth-probe', { token: secret });
    expect(withToken.status).toBe(200);
    expect(withToken.body.caller).toEqual({ kind: 'token', tokenId: id, scopes: ['read'], clientKey: id });
    await server.cli.revokeToken(id);
    const revoked = await request(server, 'GET', '/v1/events/stats', { token: secret });
    expect(revoked.status).toBe(401);
    expect(revoked.body.code).toBe('unauthorized');
  });

  it('does not come back when every token is revoked (revoking must never grant access)', async () => {
    const server = await startProbeServer();
    const { id } = await addToken(server.cli, ['admin']);
    await server.cli.revokeToken(id);
    const res = await request(server, 'GET', '/v1/events/stats');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
  });
});

describe('bearer tokens', () => {
  it('AUTH_TOKEN is root: every scope, one client key', async () => {
    const root = newTokenSecret();
    const server = await startProbeServer({ authToken: root });
    const res = await request(server, 'GET', '/internal-probe', { token: root });
    expect(res.status).toBe(200);
    expect(res.body.caller).toEqual({ kind: 'root', scopes: ['read', 'write', 'claim', 'admin'], clientKey: 'root' });
  });

  it('refuses near misses of AUTH_TOKEN and malformed Authorization headers with 401', async () => {
    const root = newTokenSecret();
    const server = await startProbeServer({ authToken: root });
    const flipped = `${root.slice(0, -1)}${root.endsWith('A') ? 'B' : 'A'}`;
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer ${flipped}` },
      { authorization: `Bearer ${root.slice(0, -1)}` },
      { authorization: `Bearer ${root}x` },
      { authorization: `Basic ${Buffer.from(`u:${root}`).toString('base64')}` },
      { authorization: root },
      { authorization: 'Bearer ' },
      { authorization: `Bearer ${'x'.repeat(5000)}` },
    ];
    for (const headers of attempts) {
      const res = await request(server, 'GET', '/v1/events/stats', { headers });
      expect(res.status, headers.authorization?.slice(0, 20)).toBe(401);
      expect(res.body.code).toBe('unauthorized');
    }
    expect(
      (await request(server, 'GET', '/v1/events/stats', { headers: { authorization: `bearer ${root}` } })).status,
    ).toBe(200);
  });

  it('a scoped token carries its scopes and collections; write does not imply read', async () => {
    const server = await startProbeServer({ authToken: newTokenSecret() });
    const writer = await addToken(server.store, ['write'], ['events']);
    const write = await request(server, 'GET', '/v1/events/auth-probe-write', { token: writer.secret });
    expect(write.status).toBe(200);
    expect(write.body.caller).toEqual({
      kind: 'token',
      tokenId: writer.id,
      scopes: ['write'],
      collections: ['events'],
      clientKey: writer.id,
    });
    const read = await request(server, 'GET', '/v1/events/auth-probe', { token: writer.secret });
    expect(read.status).toBe(403);
    expect(read.body.code).toBe('forbidden');
    const elsewhere = await request(server, 'GET', '/v1/agent_tasks/auth-probe-write', { token: writer.secret });
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.code).toBe('forbidden');
  });

  it('the multi-collection stream checks every listed collection', async () => {
    const server = await startProbeServer({ authToken: newTokenSecret() });
    const limited = await addToken(server.store, ['read'], ['events', 'agent_tasks']);
    // Without a list the stream route narrows to the token's collections itself (sse tests).
    for (const query of ['?collections=events,agent_tasks', '?collections=events', '']) {
      const ok = await request(server, 'GET', `/v1/auth-probe${query}`, { token: limited.secret });
      expect(ok.status, query).toBe(200);
    }
    for (const query of [
      '?collections=events,opencode_events',
      '?collections=opencode_events',
      '?collections=x,events',
    ]) {
      const res = await request(server, 'GET', `/v1/auth-probe${query}`, { token: limited.secret });
      expect(res.status, query).toBe(403);
      expect(res.body.code).toBe('forbidden');
    }
  });

  it('a route without config.scope is held to admin', async () => {
    const server = await startProbeServer({ authToken: newTokenSecret() });
    const reader = await addToken(server.store, ['read', 'write', 'claim']);
    const admin = await addToken(server.store, ['admin']);
    const denied = await request(server, 'GET', '/internal-probe', { token: reader.secret });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('forbidden');
    expect((await request(server, 'GET', '/internal-probe', { token: admin.secret })).status).toBe(200);
  });

  it('authenticates before it validates: a broken body without a token is 401, with one 400', async () => {
    const server = await startProbeServer({ authToken: newTokenSecret() });
    const writer = await addToken(server.store, ['write']);
    const anonymous = await request(server, 'POST', '/v1/events', { body: '{"text":' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('unauthorized');
    const authed = await request(server, 'POST', '/v1/events', { body: '{"text":', token: writer.secret });
    expect(authed.status).toBe(400);
    expect(authed.body.code).toBe('validation_failed');
  });

  it('never accepts a token in the URL, even a valid one, in any mode', async () => {
    const root = newTokenSecret();
    const server = await startProbeServer({ authToken: root });
    for (const path of [`/v1/events/stats?token=${root}`, `/v1/events/auth-probe?token=${root}`]) {
      for (const token of [undefined, root]) {
        const res = await request(server, 'GET', path, token === undefined ? {} : { token });
        expect(res.status, path).toBe(401);
        expect(res.body.code).toBe('unauthorized');
      }
    }
    const open = await startProbeServer();
    const res = await request(open, 'GET', '/v1/events/stats?token=anything');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
  });
});

describe('route declarations', () => {
  it('refuses at startup a /v1 route without config.scope, or with an unknown scope', async () => {
    const { dir, remove } = newTestDir();
    const store = await openSqliteStore({ path: join(dir, 'db.sqlite'), search: false });
    try {
      const app = await buildApp({ store });
      expect(() => app.get('/v1/unguarded', async () => 'x')).toThrow(/config\.scope/);
      expect(() => app.get('/v1/typo', { config: { scope: 'reed' as never } }, async () => 'x')).toThrow(/reed/);
      await app.close();
    } finally {
      await store.close();
      remove();
    }
  });
});

describe('stream tickets', () => {
  async function setup() {
    const clock = manualClock();
    const server = await startProbeServer({ authToken: newTokenSecret(), now: clock.now });
    const reader = await addToken(server.store, ['read'], ['events']);
    const mint = async (secret = reader.secret) => {
      const res = await request(server, 'POST', '/v1/tickets', { token: secret });
      expect(res.status).toBe(201);
      return res.body as { ticket: string; expires_at: string };
    };
    return { clock, server, reader, mint };
  }

  it('a ticket opens one stream with the minting token’s scopes and collections, then never again', async () => {
    const { clock, server, reader, mint } = await setup();
    const { ticket, expires_at } = await mint();
    expect(expires_at).toBe(new Date(clock.now() + 60_000).toISOString());
    const first = await request(server, 'GET', `/v1/events/auth-probe?ticket=${ticket}&since=0`);
    expect(first.status).toBe(200);
    expect(first.body.caller).toEqual({
      kind: 'token',
      tokenId: reader.id,
      scopes: ['read'],
      collections: ['events'],
      clientKey: reader.id,
    });
    // The route's own query (and its validation) never sees the ticket.
    expect(first.body.query).toEqual({ since: '0' });
    const again = await request(server, 'GET', `/v1/events/auth-probe?ticket=${ticket}`);
    expect(again.status).toBe(401);
    expect(again.body.code).toBe('unauthorized');
  });

  it('expires 60 s after it was minted (injected clock)', async () => {
    const { clock, server, mint } = await setup();
    const late = await mint();
    const inTime = await mint();
    clock.advance(59_999);
    expect((await request(server, 'GET', `/v1/events/auth-probe?ticket=${inTime.ticket}`)).status).toBe(200);
    clock.advance(1);
    const res = await request(server, 'GET', `/v1/events/auth-probe?ticket=${late.ticket}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
  });

  it('is refused on non-stream routes without being used up', async () => {
    const { server, mint } = await setup();
    const { ticket } = await mint();
    const refused = await request(server, 'GET', `/v1/events/stats?ticket=${ticket}`);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('unauthorized');
    expect((await request(server, 'GET', `/v1/events/auth-probe?ticket=${ticket}`)).status).toBe(200);
  });

  it('keeps the token’s collection limit and scope', async () => {
    const { server, mint } = await setup();
    const other = await request(server, 'GET', `/v1/agent_tasks/auth-probe?ticket=${(await mint()).ticket}`);
    expect(other.status).toBe(403);
    expect(other.body.code).toBe('forbidden');
    const writer = await addToken(server.store, ['write']);
    const denied = await request(server, 'POST', '/v1/tickets', { token: writer.secret });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('forbidden');
  });

  it('dies with its token: a revoked token’s unused tickets are refused', async () => {
    const { server, reader, mint } = await setup();
    const { ticket } = await mint();
    await server.cli.revokeToken(reader.id);
    const res = await request(server, 'GET', `/v1/events/auth-probe?ticket=${ticket}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('unauthorized');
  });

  it('refuses unknown tickets, and a ticket minted while open once auth is on', async () => {
    const server = await startProbeServer();
    const open = await request(server, 'POST', '/v1/tickets');
    expect(open.status).toBe(201);
    // Open mode ignores tickets on streams (and strips them before validation).
    const ignored = await request(server, 'GET', '/v1/events/auth-probe?ticket=garbage');
    expect(ignored.status).toBe(200);
    expect(ignored.body.query).toEqual({});
    await addToken(server.cli, ['read']);
    for (const ticket of [open.body.ticket as string, 'garbage']) {
      const res = await request(server, 'GET', `/v1/events/auth-probe?ticket=${ticket}`);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('unauthorized');
    }
  });

  it('caps unused tickets per client with 429 rate_limited and Retry-After', async () => {
    const { clock, server, reader, mint } = await setup();
    for (let i = 0; i < 100; i++) await mint();
    clock.advance(10_000);
    const capped = await request(server, 'POST', '/v1/tickets', { token: reader.secret });
    expect(capped.status).toBe(429);
    expect(capped.body.code).toBe('rate_limited');
    expect(capped.headers.get('retry-after')).toBe('50');
    const other = await addToken(server.store, ['read']);
    expect((await request(server, 'POST', '/v1/tickets', { token: other.secret })).status).toBe(201);
    clock.advance(50_000);
    await mint();
  });
});

describe('logs', () => {
  it('carry no token, ticket or query string', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const root = newTokenSecret();
    const server = await startProbeServer({ authToken: root, logger: { level: 'trace', stream } });
    const reader = await addToken(server.store, ['read']);
    const { ticket } = (await request(server, 'POST', '/v1/tickets', { token: reader.secret })).body;
    await request(server, 'GET', `/v1/events/auth-probe?ticket=${ticket}`);
    await request(server, 'GET', `/v1/events/auth-probe?ticket=${ticket}`);
    await request(server, 'GET', `/v1/events/stats?token=${root}`);
    await request(server, 'GET', '/v1/events/stats', { token: `${root}x` });
    await request(server, 'GET', '/v1/events/stats', { token: root });
    await server.close();
    const log = lines.join('');
    expect(log).toContain('/v1/events/auth-probe');
    for (const secret of [
      root,
      reader.secret,
      ticket as string,
      hashTokenSecret(root),
      hashTokenSecret(reader.secret),
    ]) {
      expect(log).not.toContain(secret);
    }
    expect(log).not.toContain('?ticket');
    expect(log).not.toContain('?token');
  });
});
