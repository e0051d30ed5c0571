// SPDX-License-Identifier: GPL-3.0-or-later
// CORS over real sockets: none by default; with an allow-list, only exact origins get
// Access-Control-Allow-Origin (look-alikes and `null` do not), every answer varies by Origin, and
// preflights are answered before auth with the headers the client library sends.

import { join } from 'node:path';
import { newTokenSecret } from '@dualstore/core';
import { buildApp } from '@dualstore/http';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { newTestDir, startServer, type TestServer } from '../helpers.js';

const ALLOWED = 'https://app.example.com';
const REFUSED = [
  'https://evil.com',
  'https://example.com.evil.com',
  'https://app.example.com.evil.com',
  'http://app.example.com',
  'https://app.example.com:8443',
  'null',
];

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function preflight(url: string, origin: string, headers = 'authorization,content-type,last-event-id,idempotency-key') {
  return fetch(`${url}/v1/events`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': headers },
  });
}

describe('CORS', () => {
  it('allows no origin by default', async () => {
    server = await startServer({ store: { search: false } });
    const res = await fetch(`${server.url}/v1/health`, { headers: { origin: ALLOWED } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await preflight(server.url, ALLOWED);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-headers')).toBeNull();
  });

  it('answers an allowed origin exactly, varies by Origin and exposes Retry-After', async () => {
    server = await startServer({ store: { search: false }, corsOrigins: [ALLOWED, 'http://localhost:5173'] });
    const res = await fetch(`${server.url}/v1/health`, { headers: { origin: ALLOWED } });
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
    expect(res.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const local = await fetch(`${server.url}/v1/health`, { headers: { origin: 'http://localhost:5173' } });
    expect(local.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });

  it('refuses look-alike origins and `null`, and still varies by Origin', async () => {
    server = await startServer({ store: { search: false }, corsOrigins: [ALLOWED] });
    for (const origin of REFUSED) {
      const res = await fetch(`${server.url}/v1/health`, { headers: { origin } });
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(res.headers.get('vary')).toMatch(/\bOrigin\b/);
      const pre = await preflight(server.url, origin);
      expect(pre.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
    const none = await fetch(`${server.url}/v1/health`);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight before auth, allowing the headers the client sends', async () => {
    server = await startServer({ store: { search: false }, corsOrigins: [ALLOWED], authToken: newTokenSecret() });
    const pre = await preflight(server.url, ALLOWED);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    const allowed = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    expect(allowed).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'last-event-id', 'idempotency-key']),
    );
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(pre.headers.get('vary')).toMatch(/\bOrigin\b/);
    // The 401 itself is readable by the allowed page, so it can tell the user to sign in.
    const denied = await fetch(`${server.url}/v1/events/stats`, { headers: { origin: ALLOWED } });
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as { code: string }).code).toBe('unauthorized');
    expect(denied.headers.get('access-control-allow-origin')).toBe(ALLOWED);
  });

  it('refuses at startup an allow-list entry that can never match exactly', async () => {
    const { dir, remove } = newTestDir();
    const store = await openSqliteStore({ path: join(dir, 'db.sqlite'), search: false });
    try {
      for (const entry of ['*', 'https://app.example.com/', 'app.example.com', 'https://*.example.com']) {
        await expect(buildApp({ store, corsOrigins: [entry] }), entry).rejects.toThrow(/CORS_ORIGIN/);
      }
    } finally {
      await store.close();
      remove();
    }
  });
});
