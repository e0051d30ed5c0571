// SPDX-License-Identifier: GPL-3.0-or-later
// Failures that come from the store rather than the request: a busy store is 503 store_busy with
// Retry-After; a closed store is 503 store_closed; an unexpected error is a 500 internal_error
// whose body carries no stack trace and no SQL, while the log keeps the details for operators.

import { Writable } from 'node:stream';
import { DualStoreError } from '@dualstore/core';
import type { FastifyInstance } from '@dualstore/http';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A real SQLite store whose `insert` fails the way `fail()` says; log lines are collected. */
async function appWithFailingInsert(fail: () => never): Promise<{ app: FastifyInstance; logs: string[] }> {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  server = await startServer({
    listen: false,
    store: { search: false },
    logger: { level: 'info', stream },
    wrapStore: (store) =>
      new Proxy(store, {
        get(target, key, receiver) {
          if (key === 'insert') return fail;
          const value = Reflect.get(target, key, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      }),
  });
  return { app: server.app, logs };
}

function insert(app: FastifyInstance) {
  return app.inject({ method: 'POST', url: '/v1/events', payload: { text: 'x' } });
}

describe('store failures over HTTP', () => {
  it('answers a busy store with 503 store_busy and Retry-After', async () => {
    const { app } = await appWithFailingInsert(() => {
      throw new DualStoreError('store_busy', 'the database is locked by another writer; retry shortly');
    });
    const res = await insert(app);
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe('store_busy');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('answers an unexpected error with a bare 500 internal_error and logs the details', async () => {
    const sqlError = Object.assign(new Error('near "SELEC": syntax error in SELEC * FROM docs WHERE secret = 1'), {
      code: 'SQLITE_ERROR',
    });
    const { app, logs } = await appWithFailingInsert(() => {
      throw sqlError;
    });
    const res = await insert(app);
    expect(res.statusCode).toBe(500);
    const body = res.json();
    expect(body.code).toBe('internal_error');
    expect(res.body).not.toMatch(/SELEC|SQLITE|docs WHERE|\bat .*\.ts:\d+/);
    expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'status', 'title', 'type']);
    expect(logs.join('')).toContain('SQLITE_ERROR');
  });

  it('answers requests after the store closed with 503 store_closed', async () => {
    server = await startServer({ listen: false, store: { search: false } });
    await server.store.close();
    const res = await insert(server.app);
    expect(res.statusCode).toBe(503);
    expect(res.json().code).toBe('store_closed');
    expect(res.headers['retry-after']).toBeDefined();
  });
});
