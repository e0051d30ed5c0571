// SPDX-License-Identifier: GPL-3.0-or-later
// `dualstore hooks test <route> --file payload.json`: sign a payload the way the route's provider
// would (the server's own `signWebhook`, so signer and verifier cannot drift) and POST it, to
// check a route before the provider's first real delivery. Loads @dualstore/http (Fastify with
// it): acceptable for a rare setup command, and lazily, so no other command pays for it.

import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HOOKS_PREFIX, loadWebhookRoutesFile, parseWebhookRoutes, signWebhook } from '@dualstore/http';
import { CliError } from './cli-error.js';

export interface HooksTestRequest {
  route: string;
  /** The payload file, sent byte for byte; `-` is the text read from stdin (`stdinText`). */
  file: string;
  stdinText?: string;
  /** The server, e.g. http://127.0.0.1:4261. */
  url: string;
  /** Overrides the route's secrets. */
  secret?: string;
  /** A routes file (JSON or YAML); else the defaults of DESIGN §7. */
  hooksFile?: string;
  /** Bearer token, for `verify: none` routes. */
  token?: string;
  /** Extra headers (`X-GitHub-Event: push`). */
  headers: Record<string, string>;
  env: Readonly<Record<string, string | undefined>>;
}

/** What the server answered. */
export interface HooksTestAnswer {
  status: number;
  body: unknown;
}

/**
 * Sign and send one delivery; resolves with the server's answer, whatever its status.
 * @throws CliError `usage` for an unreadable payload or a signed route without a secret,
 *   DualStoreError `not_found` for an unknown route, `validation_failed` for a bad routes file.
 */
export async function testHook(request: HooksTestRequest): Promise<HooksTestAnswer> {
  const routes = request.hooksFile
    ? await loadWebhookRoutesFile(request.hooksFile, { env: request.env })
    : parseWebhookRoutes({}, { env: request.env });
  const configured = routes.get(request.route);
  if (configured === undefined) {
    const { DualStoreError } = await import('@dualstore/core');
    throw new DualStoreError(
      'not_found',
      `no webhook route "${request.route}"; routes: ${[...routes.keys()].join(', ')}`,
    );
  }
  let route = configured;
  if (request.secret !== undefined) {
    // A built-in route is unsigned until it has a secret; configuring one (as a routes file
    // would) gives it its provider's verifier. A route from a file keeps its verifier.
    route =
      request.hooksFile === undefined
        ? (parseWebhookRoutes({ routes: { [request.route]: { secret: request.secret } } }, { env: request.env }).get(
            request.route,
          ) ?? configured)
        : { ...configured, secrets: [request.secret] };
  }
  if (route.verify !== 'none' && route.secrets.length === 0) {
    throw new CliError(
      'usage',
      `route "${route.name}" verifies ${route.verify} signatures but has no secret: pass --secret, or --hooks with the routes file that configures it`,
    );
  }
  let raw: Buffer;
  try {
    raw = request.file === '-' ? Buffer.from(request.stdinText ?? '', 'utf8') : await readFile(request.file);
  } catch (error) {
    throw new CliError(
      'usage',
      `--file ${request.file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const signed = signWebhook(route, raw, { deliveryId: randomUUID() });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...request.headers,
    ...signed,
    ...(request.token === undefined ? {} : { authorization: `Bearer ${request.token}` }),
  };
  const url = `${request.url.replace(/\/+$/, '')}${HOOKS_PREFIX}/${encodeURIComponent(route.name)}`;
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: raw });
  } catch (cause) {
    const error = new Error(`no answer from ${request.url}`, { cause }) as Error & { code: string };
    error.code = 'network_error';
    throw error;
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: shown as text.
  }
  return { status: response.status, body };
}
