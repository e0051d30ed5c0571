// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers for the client tests: a server that can be stopped and started again on the same SQLite
// file and the same port (a restart, as a client sees one), condition waits that are woken by
// events instead of sleeping, and a scripted fetch for exact stream-protocol checks.

import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type AppOptions, buildApp, type FastifyInstance } from '@dualstore/http';
import type { FetchLike, ResponseLike } from '@dualstore/sse-client';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from '@dualstore/store-sqlite';
import { newTestDir } from '../helpers.js';

export { eventually } from '../helpers.js';

// Captured at load, so a test that fakes timers cannot stop these waits from timing out.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Something to wait on: `until(predicate)` re-checks whenever `notify()` is called. */
export class Waiter {
  readonly #checks = new Set<() => void>();

  notify(): void {
    for (const check of [...this.#checks]) check();
  }

  until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        this.#checks.delete(check);
        realClearTimeout(timer);
        resolve();
      };
      const timer = realSetTimeout(() => {
        this.#checks.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#checks.add(check);
    });
  }
}

export interface RestartableServer {
  url: string;
  port: number;
  /** The running app; replaced by every `start()`. */
  app: FastifyInstance;
  store: SqliteStore;
  /** The SQLite file that survives restarts. */
  path: string;
  /** Close the app and the store (the port is free until `start()`). */
  stop(): Promise<void>;
  /** Open the same file again and listen on the same port. */
  start(): Promise<void>;
  /** Stop and remove the files. */
  close(): Promise<void>;
}

/** A server on a fixed SQLite file that `stop()` and `start()` bring down and up on one port. */
export async function startRestartableServer(
  options: Omit<AppOptions, 'store'> = {},
  storeOptions: Partial<Omit<SqliteStoreOptions, 'path'>> = { search: false },
): Promise<RestartableServer> {
  const { dir, remove } = newTestDir('dualstore-client-');
  const path = join(dir, 'db.sqlite');
  let running: { app: FastifyInstance; store: SqliteStore } | undefined;
  let port = 0;
  const server: RestartableServer = {
    url: '',
    port: 0,
    path,
    get app() {
      return running!.app;
    },
    get store() {
      return running!.store;
    },
    async start() {
      const store = await openSqliteStore({ path, ...storeOptions });
      const app = await buildApp({ ...options, store });
      await app.listen({ port, host: '127.0.0.1' });
      port = (app.server.address() as AddressInfo).port;
      server.port = port;
      server.url = `http://127.0.0.1:${port}`;
      running = { app, store };
    },
    async stop() {
      if (running === undefined) return;
      const { app, store } = running;
      running = undefined;
      await app.close();
      await store.close();
    },
    async close() {
      await server.stop();
      remove();
    },
  } as RestartableServer;
  await server.start();
  return server;
}

/** One scripted answer of {@link scriptedFetch}. */
export interface ScriptedAnswer {
  status?: number;
  headers?: Record<string, string>;
  /** The body; for a stream, the SSE text. Left open (never ends) when `open` is true. */
  body?: string;
  open?: boolean;
}

/**
 * A fetch double for protocol checks the real server never does on purpose (repeated ids, 204,
 * a custom `retry:`): it answers requests from a script and records them.
 */
export function scriptedFetch(answer: (url: string, index: number) => ScriptedAnswer): {
  fetch: FetchLike;
  calls: { url: string; headers: Record<string, string>; signal: AbortSignal | undefined }[];
  waiter: Waiter;
} {
  const calls: { url: string; headers: Record<string, string>; signal: AbortSignal | undefined }[] = [];
  const waiter = new Waiter();
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, headers: init.headers, signal: init.signal });
    waiter.notify();
    const scripted = answer(url, calls.length - 1);
    const bytes = new TextEncoder().encode(scripted.body ?? '');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (bytes.length > 0) controller.enqueue(bytes);
        if (scripted.open !== true) controller.close();
        init.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
      },
    });
    const headers = new Headers(scripted.headers ?? { 'content-type': 'text/event-stream' });
    const response: ResponseLike = {
      status: scripted.status ?? 200,
      headers,
      body,
      text: () => new Response(body).text(),
    };
    return response;
  };
  return { fetch, calls, waiter };
}
