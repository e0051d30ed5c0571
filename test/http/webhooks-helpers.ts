// SPDX-License-Identifier: GPL-3.0-or-later
// Shared pieces of the webhook tests: a server with routes from a routes-file object and a
// settable clock, a raw POST that sends the body byte for byte, and the stored docs.

import type { Doc } from '@dualstore/core';
import { parseWebhookRoutes, type WebhookRoute } from '@dualstore/http';
import { sign, verify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { type StartServerOptions, startServer, type TestServer } from '../helpers.js';

/** `standardwebhooks`' Webhook class, the reference implementation. */
export const StandardWebhook = Webhook;

/** `@octokit/webhooks-methods`: GitHub's own sign / verify. */
export const octokit = { sign, verify };

/** A clock the server reads for signed timestamps; tests move it instead of waiting. */
export interface TestClock {
  ms: number;
}

export interface HookServer extends TestServer {
  clock: TestClock;
  route(name: string): WebhookRoute;
}

/** 2026-11-21T12:00:00Z: a fixed "now" far from the real one, so no test depends on the wall clock. */
export const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

export async function startHookServer(
  routes: unknown,
  options: Omit<StartServerOptions, 'hooks' | 'now'> & { env?: Record<string, string> } = {},
): Promise<HookServer> {
  const { env, ...rest } = options;
  const clock: TestClock = { ms: T0 };
  const hooks = parseWebhookRoutes(routes, env === undefined ? {} : { env });
  const server = await startServer({ store: { search: false }, ...rest, hooks, now: () => clock.ms });
  return {
    ...server,
    clock,
    route(name) {
      const route = hooks.get(name);
      if (route === undefined) throw new Error(`no route ${name}`);
      return route;
    },
  };
}

export interface HookResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked by the tests' assertions
  body: any;
}

/** POST the exact bytes of `body` to `/hooks/<route>`. */
export async function postHook(
  server: { url: string },
  route: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<HookResponse> {
  const response = await fetch(`${server.url}/hooks/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text.length > 0 && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text,
  };
}

/** Every doc stored in `collection`, oldest first. */
export async function storedDocs(server: TestServer, collection = 'events'): Promise<Doc[]> {
  const page = await server.store.recent(collection, { limit: 200 });
  return page.items.reverse();
}
