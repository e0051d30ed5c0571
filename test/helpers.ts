// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers for end-to-end tests: a real server on an ephemeral loopback port over a real
// SQLite store in a temp directory, torn down by `close()`.

import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@dualstore/core';
import { type AppOptions, buildApp, type FastifyInstance } from '@dualstore/http';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '@dualstore/store-sqlite';

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  app: FastifyInstance;
  store: SqliteStore;
  dir: string;
  /** Close the server, then the store, then remove the files. Idempotent. */
  close(): Promise<void>;
}

export interface StartServerOptions extends Omit<AppOptions, 'store'> {
  store?: Partial<Omit<SqliteStoreOptions, 'path'>>;
  /** Listen on a port (default). False: only `app.inject()`. */
  listen?: boolean;
  /** What the app sees instead of the SQLite store (a wrapper that fails or delays on purpose). */
  wrapStore?: (store: SqliteStore) => Store;
  /** Add hooks or routes before the app is ready (tests that stand in for a plugin). */
  configure?: (app: FastifyInstance) => void;
}

/** A fresh temp directory and a function that removes it. */
export function newTestDir(prefix = 'dualstore-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startServer(options: StartServerOptions = {}): Promise<TestServer> {
  const { store: storeOptions, listen = true, wrapStore, configure, ...appOptions } = options;
  const { dir, remove } = newTestDir();
  const store = await openSqliteStore({ path: join(dir, 'db.sqlite'), ...storeOptions });
  const app = await buildApp({ ...appOptions, store: wrapStore === undefined ? store : wrapStore(store) });
  configure?.(app);
  let url = '';
  if (listen) {
    await app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  } else {
    await app.ready();
  }
  let closed: Promise<void> | undefined;
  return {
    url,
    app,
    store,
    dir,
    close() {
      closed ??= (async () => {
        await app.close();
        await store.close();
        remove();
      })();
      return closed;
    },
  };
}

/** JSON request helper over real sockets. */
export async function request(
  server: { url: string },
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; token?: string } = {},
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the tests' assertions
): Promise<{ status: number; headers: Headers; body: any }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body:
      options.body === undefined
        ? undefined
        : typeof options.body === 'string'
          ? options.body
          : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  if (text.length > 0 && /json/.test(response.headers.get('content-type') ?? '')) body = JSON.parse(text);
  return { status: response.status, headers: response.headers, body };
}

// Captured at load, so a test that fakes timers cannot stop `eventually` from timing out.
const realSetTimeout = globalThis.setTimeout;

/**
 * Wait for a condition that nothing notifies about (state inside the server), re-checking every
 * `intervalMs`. Used only where no event exists to wake on.
 */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => realSetTimeout(resolve, intervalMs));
  }
}
