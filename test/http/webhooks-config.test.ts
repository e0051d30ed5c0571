// SPDX-License-Identifier: GPL-3.0-or-later
// The webhook routes file (DESIGN §10): YAML and JSON, `{ env: NAME }` secrets, defaults merged
// by route name, every mistake a `validation_failed` naming the field; and `serve()`: it refuses
// to start on a bad file (before opening the store) and logs at start which routes are unsigned.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '@dualstore/core';
import { loadWebhookRoutesFile, parseConfig, parseWebhookRoutes, serve, signWebhook } from '@dualstore/http';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { newTestDir, startServer } from '../helpers.js';
import { postHook } from './webhooks-helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempFile(name: string, content: string): string {
  const { dir, remove } = newTestDir('dualstore-hooks-');
  cleanups.push(remove);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const STD = `whsec_${Buffer.from('standard-webhooks-key-one-32byte').toString('base64')}`;

const YAML_FILE = `
routes:
  github:
    secret: { env: GH_HOOK_SECRET }
  payment:
    secrets:
      - { env: STRIPE_NEW }
      - whsec_old-inline-secret
    tolerance_s: 120
  deploys:
    collection: agent_tasks
    topic: deploy
    verify: standard
    secret: ${STD}
    body_limit: 256kb
  bugsnag:
    enabled: false
`;

const JSON_FILE = JSON.stringify({
  routes: {
    github: { secret: { env: 'GH_HOOK_SECRET' } },
    payment: { secrets: [{ env: 'STRIPE_NEW' }, 'whsec_old-inline-secret'], tolerance_s: 120 },
    deploys: { collection: 'agent_tasks', topic: 'deploy', verify: 'standard', secret: STD, body_limit: '256kb' },
    bugsnag: { enabled: false },
  },
});

const ENV = { GH_HOOK_SECRET: 'gh-from-env', STRIPE_NEW: 'whsec_new-from-env' };

describe('routes file', () => {
  it('without a file: the four default routes of DESIGN §7, unsigned, into events', () => {
    const routes = parseWebhookRoutes();
    expect(
      [...routes.values()].map(({ name, collection, topic, verify }) => ({ name, collection, topic, verify })),
    ).toEqual([
      { name: 'bitbucket', collection: 'events', topic: 'bitbucket-webhook', verify: 'none' },
      { name: 'bugsnag', collection: 'events', topic: 'error-report', verify: 'none' },
      { name: 'payment', collection: 'events', topic: 'payment-webhook', verify: 'none' },
      { name: 'github', collection: 'events', topic: 'github-webhook', verify: 'none' },
    ]);
    expect(routes.get('github')).toMatchObject({ toleranceS: 300, bodyLimit: 5 * 1024 * 1024 });
  });

  it.for([
    ['hooks.yaml', YAML_FILE],
    ['hooks.json', JSON_FILE],
  ] as const)('%s: env secrets are read, defaults merged by name, a default can be disabled', async ([name, text]) => {
    const routes = await loadWebhookRoutesFile(tempFile(name, text), { env: ENV });
    expect([...routes.keys()].sort()).toEqual(['bitbucket', 'deploys', 'github', 'payment']);
    expect(routes.get('github')).toMatchObject({
      verify: 'github',
      topic: 'github-webhook',
      collection: 'events',
      secrets: ['gh-from-env'],
    });
    expect(routes.get('payment')).toMatchObject({
      verify: 'stripe',
      secrets: ['whsec_new-from-env', 'whsec_old-inline-secret'],
      toleranceS: 120,
    });
    expect(routes.get('deploys')).toMatchObject({
      verify: 'standard',
      collection: 'agent_tasks',
      topic: 'deploy',
      bodyLimit: 256 * 1024,
    });
    expect(routes.get('bitbucket')?.verify).toBe('none');
  });

  it('a server started with a loaded file verifies with the env secret', async () => {
    const path = tempFile('hooks.yaml', YAML_FILE);
    const routes = await loadWebhookRoutesFile(path, { env: ENV });
    // The file's resolved routes go in as serve() passes them.
    const running = await startServer({ hooks: routes, store: { search: false } });
    cleanups.push(() => running.close());
    const body = JSON.stringify({ zen: 'from a file' });
    const headers = signWebhook(routes.get('github')!, body, { deliveryId: 'file-1' });
    expect((await postHook(running, 'github', body, headers)).status).toBe(202);
    const wrong = { ...headers, 'x-hub-signature-256': `sha256=${'ab'.repeat(32)}` };
    expect((await postHook(running, 'github', body, wrong)).status).toBe(401);
  });

  it.for([
    ['an unknown verifier', { routes: { x: { verify: 'gitlab', secret: 's' } } }, 'routes.x.verify'],
    ['a verifier without a secret', { routes: { x: { verify: 'github' } } }, 'routes.x.secret'],
    ['a secret without a verifier', { routes: { x: { secret: 's' } } }, 'routes.x.verify'],
    [
      'a missing environment variable',
      { routes: { github: { secret: { env: 'NOT_SET_ANYWHERE' } } } },
      'routes.github.secret',
    ],
    ['a route name with capitals', { routes: { GitHub: {} } }, 'routes.GitHub'],
    ['an unknown field', { routes: { github: { secrit: 's' } } }, 'routes.github'],
    ['an unknown top-level field', { hooks: {} }, '(root)'],
    ['a body limit over 64 MiB', { routes: { x: { body_limit: '100mb' } } }, 'routes.x.body_limit'],
    ['a body limit in furlongs', { routes: { x: { body_limit: '5 furlongs' } } }, 'routes.x.body_limit'],
    ['a bad topic_from', { routes: { x: { topic_from: 'query:event' } } }, 'routes.x.topic_from'],
    ['a bad collection name', { routes: { x: { collection: 'Events!' } } }, 'routes.x.collection'],
    ['a tolerance of 0', { routes: { payment: { secret: 'whsec_x', tolerance_s: 0 } } }, 'routes.payment.tolerance_s'],
    [
      'a Standard Webhooks secret that is not base64',
      { routes: { x: { verify: 'standard', secret: 'whsec_***' } } },
      'routes.x.secrets[0]',
    ],
    [
      'header on a non secret-header route',
      { routes: { github: { secret: 's', header: 'X-Token' } } },
      'routes.github.header',
    ],
  ] as const)('refuses %s with validation_failed naming the field', ([, input, path]) => {
    let error: unknown;
    try {
      parseWebhookRoutes(input, { env: {} });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({ code: 'validation_failed' });
    const paths = (error as { errors: { path: string }[] }).errors.map((e) => e.path);
    expect(paths.some((p) => p.startsWith(path))).toBe(true);
  });

  it('never echoes a secret in its errors', () => {
    try {
      parseWebhookRoutes({ routes: { x: { verify: 'standard', secret: 'whsec_super*secret' } } });
      expect.fail('must throw');
    } catch (error) {
      expect(JSON.stringify(error)).not.toContain('super*secret');
      expect((error as Error).message).not.toContain('super*secret');
    }
  });

  it.for([
    ['YAML that does not parse', 'hooks.yaml', 'routes: [unclosed'],
    ['JSON that does not parse', 'hooks.json', '{"routes": '],
  ] as const)('a file with %s is validation_failed', async ([, name, text]) => {
    await expect(loadWebhookRoutesFile(tempFile(name, text))).rejects.toMatchObject({ code: 'validation_failed' });
  });

  it('a missing file is validation_failed', async () => {
    await expect(loadWebhookRoutesFile('/nonexistent/hooks.yaml')).rejects.toMatchObject({ code: 'validation_failed' });
  });
});

describe('serve() with webhook routes', () => {
  async function openTestStore(): Promise<Store> {
    const { dir, remove } = newTestDir('dualstore-serve-hooks-');
    const store = await openSqliteStore({ path: join(dir, 'db.sqlite'), search: false });
    cleanups.push(async () => {
      await store.close();
      remove();
    });
    return store;
  }

  /** Start `serve` with a routes file, capturing its JSON log lines. */
  async function serveWith(hooksFile: string | undefined, env: Record<string, string> = {}) {
    const lines: Record<string, unknown>[] = [];
    const store = await openTestStore();
    const config = { ...parseConfig({ env: hooksFile === undefined ? {} : { DUALSTORE_HOOKS: hooksFile } }), port: 0 };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const server = await serve(config, async () => store, {
        handleSignals: false,
        logger: { level: 'info', stream: { write: (line: string) => lines.push(JSON.parse(line)) } },
      });
      cleanups.push(() => server.close());
      return { server, lines };
    } finally {
      for (const name of Object.keys(env)) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  }

  it('logs at start which routes are unsigned: all four by default', async () => {
    const { lines } = await serveWith(undefined);
    const warning = lines.find((line) => Array.isArray(line.unsigned));
    expect(warning?.level).toBe(40);
    expect(warning?.unsigned).toEqual(['/hooks/bitbucket', '/hooks/bugsnag', '/hooks/payment', '/hooks/github']);
  });

  it('a route given a secret in the file is no longer listed as unsigned, and is served signed', async () => {
    const path = tempFile('hooks.yaml', 'routes:\n  github:\n    secret: { env: SERVE_TEST_GH_SECRET }\n');
    const { server, lines } = await serveWith(path, { SERVE_TEST_GH_SECRET: 'serve-secret' });
    expect(lines.find((line) => Array.isArray(line.unsigned))?.unsigned).toEqual([
      '/hooks/bitbucket',
      '/hooks/bugsnag',
      '/hooks/payment',
    ]);
    const response = await postHook(server, 'github', '{"zen":"x"}', { 'x-hub-signature-256': 'sha256=00' });
    expect(response.body.code).toBe('bad_signature');
  });

  it('an invalid routes file stops the start with validation_failed before the store opens', async () => {
    const path = tempFile('hooks.json', JSON.stringify({ routes: { github: { verify: 'github' } } }));
    let opened = 0;
    const config = { ...parseConfig({ env: { DUALSTORE_HOOKS: path } }), port: 0 };
    await expect(
      serve(
        config,
        async () => {
          opened++;
          throw new Error('must not be reached');
        },
        { logger: false, handleSignals: false },
      ),
    ).rejects.toMatchObject({ code: 'validation_failed', errors: [{ path: 'routes.github.secret' }] });
    expect(opened).toBe(0);
  });
});
