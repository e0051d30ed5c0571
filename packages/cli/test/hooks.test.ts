// SPDX-License-Identifier: GPL-3.0-or-later
// `dualstore hooks test`: a payload signed with the route's secret is accepted and stored; a
// wrong secret is the server's 401 `bad_signature` (exit 77); an unknown route is `not_found`.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseWebhookRoutes } from '@dualstore/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/index.js';
import { runCli, type SharedServer, startSharedServer, tempDir } from './helpers.js';

let server: SharedServer;
let payload: string;
let routesFile: string;
const dir = tempDir();
beforeAll(async () => {
  server = await startSharedServer({ hooks: parseWebhookRoutes({ routes: { github: { secret: 's3cret' } } }) });
  payload = join(dir.dir, 'payload.json');
  writeFileSync(payload, JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 }));
  routesFile = join(dir.dir, 'hooks.json');
  writeFileSync(routesFile, JSON.stringify({ routes: { github: { secret: { env: 'GH_SECRET' } } } }));
});
afterAll(async () => {
  await server?.close();
  dir.remove();
});

describe('hooks test', () => {
  it('signs with --secret as the route verifies it; the delivery is stored', async () => {
    const result = await runCli([
      'hooks',
      'test',
      'github',
      '--file',
      payload,
      '--url',
      server.url,
      '--secret',
      's3cret',
      '-H',
      'X-GitHub-Event: ping',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(EXIT.ok);
    expect(result.json.status).toBeLessThan(300);
    const stored = await runCli(['query', '--topic', 'github-webhook', '--db', server.db]);
    expect(stored.json.items).toHaveLength(1);
  });

  it('reads the secret from a routes file (--hooks) and its env reference', async () => {
    const result = await runCli(['hooks', 'test', 'github', '--file', payload, '--hooks', routesFile], {
      env: { GH_SECRET: 's3cret', DUALSTORE_URL: server.url },
    });
    expect(result.code).toBe(EXIT.ok);
  });

  it('a wrong secret is the server’s bad_signature (exit 77); unknown routes and missing secrets are refused', async () => {
    const wrong = await runCli(['hooks', 'test', 'github', '--file', payload, '--url', server.url, '--secret', 'nope']);
    expect([wrong.code, wrong.error, wrong.json.status]).toEqual([EXIT.noperm, 'bad_signature', 401]);
    const unknown = await runCli(['hooks', 'test', 'nowhere', '--file', payload, '--url', server.url, '--secret', 'x']);
    expect([unknown.code, unknown.error]).toEqual([EXIT.notFound, 'not_found']);
    const unsigned = await runCli(['hooks', 'test', 'github', '--file', payload, '--url', server.url]);
    // The built-in route is unsigned until configured, so nothing signs it: the server refuses it.
    expect([unsigned.code, unsigned.error]).toEqual([EXIT.noperm, 'bad_signature']);
    const noFile = await runCli(['hooks', 'test', 'github', '--url', server.url]);
    expect([noFile.code, noFile.error]).toEqual([EXIT.usage, 'usage']);
  });
});
