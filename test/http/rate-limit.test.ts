// SPDX-License-Identifier: GPL-3.0-or-later
// Rate limits over real sockets: off by default; with RATE_LIMIT_MAX the request after the limit
// is 429 `rate_limited` problem+json with Retry-After; counted per token when authenticated
// (another token from the same IP is unaffected) and per IP otherwise; health is never limited.

import { join } from 'node:path';
import { hashTokenSecret, newTokenSecret } from '@dualstore/core';
import { buildApp } from '@dualstore/http';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { newTestDir, request, startServer, type TestServer } from '../helpers.js';

const LIMIT = 5;

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function addToken(): Promise<string> {
  const secret = newTokenSecret();
  await server!.store.createToken({ name: 'rl', scopes: ['read'], hash: hashTokenSecret(secret) });
  return secret;
}

describe('rate limits', () => {
  it('are off by default', async () => {
    server = await startServer({ store: { search: false } });
    for (let i = 0; i < 30; i++) expect((await request(server, 'GET', '/v1/collections')).status).toBe(200);
  });

  it('answer request limit+1 with 429 rate_limited problem+json and Retry-After (per IP when open)', async () => {
    server = await startServer({ store: { search: false }, rateLimitMax: LIMIT });
    for (let i = 0; i < LIMIT; i++)
      expect((await request(server, 'GET', '/v1/collections')).status, `#${i + 1}`).toBe(200);
    const limited = await request(server, 'GET', '/v1/events/stats');
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('never limit health', async () => {
    server = await startServer({ store: { search: false }, rateLimitMax: LIMIT });
    for (let i = 0; i < LIMIT; i++) await request(server, 'GET', '/v1/collections');
    expect((await request(server, 'GET', '/v1/collections')).status).toBe(429);
    for (let i = 0; i < LIMIT * 2; i++) expect((await request(server, 'GET', '/v1/health')).status).toBe(200);
  });

  it('count per token when authenticated: another token from the same IP keeps its own budget', async () => {
    server = await startServer({ store: { search: false }, rateLimitMax: LIMIT, authToken: newTokenSecret() });
    const first = await addToken();
    const second = await addToken();
    for (let i = 0; i < LIMIT; i++) {
      expect((await request(server, 'GET', '/v1/collections', { token: first })).status).toBe(200);
    }
    const limited = await request(server, 'GET', '/v1/collections', { token: first });
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('rate_limited');
    expect((await request(server, 'GET', '/v1/collections', { token: second })).status).toBe(200);
  });

  it('refuse a negative or fractional limit at startup', async () => {
    const { dir, remove } = newTestDir();
    const store = await openSqliteStore({ path: join(dir, 'db.sqlite'), search: false });
    try {
      for (const rateLimitMax of [-1, 1.5]) {
        await expect(buildApp({ store, rateLimitMax })).rejects.toThrow(/rateLimitMax/);
      }
    } finally {
      await store.close();
      remove();
    }
  });
});
