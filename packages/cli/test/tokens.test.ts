// SPDX-License-Identifier: GPL-3.0-or-later
// `dualstore token …` on the database file, against a server running over the same file: a
// created token works at once, its scopes hold, a revoked one stops at once, and the secret is
// printed only by `create`. Its own server, because the first token closes the open API.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/index.js';
import { runCli, type SharedServer, startSharedServer } from './helpers.js';

let server: SharedServer;
beforeAll(async () => {
  server = await startSharedServer();
});
afterAll(async () => {
  await server?.close();
});

const local = (argv: string[]) => runCli([...argv, '--db', server.db]);
const remote = (argv: string[], token?: string) =>
  runCli([...argv, '--url', server.url, ...(token === undefined ? [] : ['--token', token])]);

describe('token create | list | revoke', () => {
  it('creates scoped tokens the server honours, lists them without secrets, revokes them', async () => {
    const reader = await local(['token', 'create', '--name', 'dash', '--scopes', 'read', '--collections', 'events']);
    expect(reader.code).toBe(EXIT.ok);
    expect(reader.json).toMatchObject({ name: 'dash', scopes: ['read'], collections: ['events'], revoked_at: null });
    expect(reader.json.secret).toMatch(/^dst_/);
    const writer = await local(['token', 'create', '--name', 'ci', '--scopes', 'write,read,claim']);
    expect(writer.json.scopes).toEqual(['read', 'write', 'claim']);
    expect(writer.json.collections).toBeNull();

    // Tokens exist, so the server now wants one.
    expect((await remote(['stats'])).code).toBe(EXIT.noperm);
    expect((await remote(['stats'])).error).toBe('unauthorized');
    expect((await remote(['stats'], reader.json.secret)).code).toBe(EXIT.ok);
    const denied = await remote(['push', 'x', '--body', 'y'], reader.json.secret);
    expect([denied.code, denied.error]).toEqual([EXIT.noperm, 'forbidden']);
    const pushed = await runCli(['push', 'x', '--body', 'y', '--url', server.url], {
      env: { DUALSTORE_TOKEN: writer.json.secret },
    });
    expect(pushed.code).toBe(EXIT.ok);
    // A claim command's --token is the claim token; the bearer token goes before the command.
    const claimed = await runCli([
      '--token',
      writer.json.secret,
      'pull',
      'x',
      '--claim',
      '--agent',
      'a',
      '--url',
      server.url,
    ]);
    expect(claimed.code).toBe(EXIT.ok);
    const { doc, claim } = claimed.json.items[0];
    const completed = await runCli([
      'complete',
      doc.id,
      '--token',
      claim.token,
      '--auth-token',
      writer.json.secret,
      '--url',
      server.url,
    ]);
    expect(completed.json.status).toBe('completed');

    const listed = await local(['token', 'list']);
    expect(listed.json.map((t: { name: string }) => t.name)).toEqual(['dash', 'ci']);
    expect(listed.stdout).not.toContain(reader.json.secret);
    for (const token of listed.json) expect(Object.keys(token)).not.toContain('secret');

    const revoked = await local(['token', 'revoke', reader.json.id]);
    expect(revoked.json.revoked_at).toEqual(expect.any(String));
    expect((await remote(['stats'], reader.json.secret)).error).toBe('unauthorized');
  });

  it('refuses remote mode, bad scopes and unknown ids with their codes', async () => {
    const viaServer = await remote(['token', 'list']);
    expect([viaServer.code, viaServer.error]).toEqual([EXIT.usage, 'remote_unsupported']);
    const badScope = await local(['token', 'create', '--name', 'x', '--scopes', 'root']);
    expect([badScope.code, badScope.error]).toEqual([EXIT.usage, 'validation_failed']);
    const missing = await local(['token', 'revoke', 'no-such-token']);
    expect([missing.code, missing.error]).toEqual([EXIT.notFound, 'not_found']);
    const noName = await local(['token', 'create', '--scopes', 'read']);
    expect([noName.code, noName.error]).toEqual([EXIT.usage, 'usage']);
  });
});
