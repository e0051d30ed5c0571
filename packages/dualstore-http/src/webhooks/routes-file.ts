// SPDX-License-Identifier: GPL-3.0-or-later
// The webhook routes file (DESIGN §7, §10 "Webhook routes file"): JSON or YAML mapping a route
// name (the `:route` of `POST /hooks/:route`) to a collection, a topic, a verifier and its
// secrets. The four routes of DESIGN §7 exist without any file; a file entry with one of their
// names is merged over the default, so `github: { secret: { env: GITHUB_WEBHOOK_SECRET } }` is a
// whole, signed configuration. Secrets may name an environment variable (`{ env: NAME }`) so the
// file itself can be committed. Everything is checked at start: a bad file stops the server with
// one `validation_failed` error listing every problem, never a route that fails per request.

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { DualStoreError, type FieldError, isCollectionName, isTopicName } from '@dualstore/core';
import { Webhook } from 'standardwebhooks';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/** The verifiers a route can use. `none` checks nothing: the route then needs a bearer token. */
export const WEBHOOK_VERIFIERS = ['github', 'bitbucket', 'stripe', 'standard', 'secret-header', 'none'] as const;
export type WebhookVerifierName = (typeof WEBHOOK_VERIFIERS)[number];

/** Where a route's topic (or nothing else) is read from a delivery. */
export type ValueSource = { from: 'header'; name: string } | { from: 'body'; path: readonly string[] };

/** One resolved route: every default applied and every secret read. */
export interface WebhookRoute {
  /** The `:route` of `POST /hooks/:route`: `[a-z0-9_-]{1,64}`. */
  name: string;
  /** Where deliveries are stored. Defaults to `events`. */
  collection: string;
  /** The stored doc's topic, and the fallback when `topicFrom` finds nothing usable. */
  topic: string | undefined;
  /** Read the topic from a header or a body field instead (e.g. `header:X-GitHub-Event`). */
  topicFrom: ValueSource | undefined;
  verify: WebhookVerifierName;
  /** Accepted secrets, newest first: the first signs (`signWebhook`), any one verifies (rotation). */
  secrets: readonly string[];
  /** `secret-header` only: the header carrying the shared secret (lower-case). */
  header: string;
  /** Seconds a signed timestamp (stripe, standard) may differ from the server clock, either way. Defaults to 300. */
  toleranceS: number;
  /** Bytes a delivery body may have. Defaults to 5 MiB. */
  bodyLimit: number;
}

/** The routes a server serves, by name. */
export type WebhookRoutes = ReadonlyMap<string, WebhookRoute>;

export const WEBHOOK_DEFAULTS = {
  collection: 'events',
  toleranceS: 300,
  bodyLimit: 5 * 1024 * 1024,
  header: 'x-webhook-secret',
} as const;

/** The routes of DESIGN §7. Unsigned until a secret is configured for them. */
export const DEFAULT_WEBHOOK_ROUTES: Readonly<Record<string, { topic: string; verify: WebhookVerifierName }>> = {
  bitbucket: { topic: 'bitbucket-webhook', verify: 'bitbucket' },
  bugsnag: { topic: 'error-report', verify: 'secret-header' },
  payment: { topic: 'payment-webhook', verify: 'stripe' },
  github: { topic: 'github-webhook', verify: 'github' },
};

const ROUTE_NAME = /^[a-z0-9_-]{1,64}$/;
/**
 * Headers `topic_from` may not read: their value would become a topic and be kept in metadata,
 * and they carry credentials or signatures.
 */
const PRIVATE_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'x-hub-signature',
  'x-hub-signature-256',
  'stripe-signature',
  'webhook-signature',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** GitHub documents 25 MB as its largest delivery; 64 MiB is the server-wide ceiling of any body. */
const MAX_WEBHOOK_BODY = 64 * 1024 * 1024;
const MIN_WEBHOOK_BODY = 1024;
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2 };

/** A secret, given inline or as the name of an environment variable holding it. */
const secretInput = z.union([
  z.string().min(1, 'a secret must not be empty'),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name') }),
]);

/** `65536`, `"64kb"`, `"5mb"` — the same spelling as BODY_LIMIT. */
const sizeInput = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  let value = Number.NaN;
  if (typeof raw === 'number') value = raw;
  else {
    const match = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
    const factor = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
    if (match && factor !== undefined) value = Number(match[1]) * factor;
  }
  if (!Number.isSafeInteger(value) || value < MIN_WEBHOOK_BODY || value > MAX_WEBHOOK_BODY) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a size from 1kb to 64mb (bytes, or a number with kb or mb), got ${JSON.stringify(raw)}`,
    });
    return z.NEVER;
  }
  return value;
});

/** `header:<Name>` or `body:<dotted.path>` (a leading `$.` is allowed: `body:$.type`). */
const valueSourceInput = z.string().transform((raw, ctx): ValueSource => {
  const colon = raw.indexOf(':');
  const kind = raw.slice(0, colon);
  const rest = raw.slice(colon + 1).trim();
  if (colon > 0 && kind === 'header' && HEADER_NAME.test(rest)) return { from: 'header', name: rest.toLowerCase() };
  if (colon > 0 && kind === 'body') {
    const path = rest.replace(/^\$\./, '').split('.');
    if (path.every((segment) => /^[A-Za-z0-9_-]{1,64}$/.test(segment)) && path.length <= 8)
      return { from: 'body', path };
  }
  ctx.addIssue({
    code: 'custom',
    message: `expected "header:<Header-Name>" or "body:<field.path>" (e.g. header:X-GitHub-Event, body:type), got ${JSON.stringify(raw)}`,
  });
  return z.NEVER;
});

const routeInput = z.strictObject({
  collection: z.string().refine(isCollectionName, 'expected a collection name of [a-z0-9_-]{1,64}').optional(),
  topic: z.string().refine(isTopicName, 'expected a topic name of [A-Za-z0-9_.:-]{1,128}').optional(),
  topic_from: valueSourceInput.optional(),
  verify: z.enum(WEBHOOK_VERIFIERS).optional(),
  secret: secretInput.optional(),
  secrets: z.array(secretInput).min(1, 'list at least one secret, or leave `secrets` out').optional(),
  header: z.string().regex(HEADER_NAME, 'expected an HTTP header name').optional(),
  tolerance_s: z.number().int().min(1).max(86_400).optional(),
  body_limit: sizeInput.optional(),
  /** False removes a default route. */
  enabled: z.boolean().optional(),
});

/** The routes file as written: `{ routes: { <name>: { … } } }`. */
export const webhookRoutesFileSchema = z.strictObject({
  routes: z.record(z.string().regex(ROUTE_NAME, 'route names are [a-z0-9_-]{1,64}'), routeInput).default({}),
});

/** The routes file as a program may pass it (`AppOptions.hooks` takes the resolved form). */
export type WebhookRoutesFile = z.input<typeof webhookRoutesFileSchema>;

export interface ParseWebhookRoutesOptions {
  /** Where `{ env: NAME }` secrets are read. Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Named in error messages, e.g. the file path. Defaults to `webhook routes`. */
  source?: string;
}

function routesError(source: string, errors: FieldError[]): DualStoreError {
  const detail = `${source} is not valid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
  return new DualStoreError('validation_failed', detail, { errors });
}

/** True when a Standard Webhooks secret decodes to a key (`whsec_` + base64, as the library reads it). */
function isStandardSecret(secret: string): boolean {
  try {
    new Webhook(secret);
    return true;
  } catch {
    return false;
  }
}

/**
 * Validate a routes file's content and resolve it: defaults merged, `{ env }` secrets read.
 * Without input, the defaults of DESIGN §7, all unsigned.
 *
 * @throws DualStoreError `validation_failed` whose `errors` name each bad field
 *   (`routes.github.verify`) with what was expected and what came. A secret's value is never echoed.
 * @example
 * const routes = parseWebhookRoutes({ routes: { github: { secret: { env: 'GITHUB_WEBHOOK_SECRET' } } } });
 */
export function parseWebhookRoutes(input?: unknown, options: ParseWebhookRoutesOptions = {}): WebhookRoutes {
  const source = options.source ?? 'webhook routes';
  const env = options.env ?? process.env;
  const parsed = webhookRoutesFileSchema.safeParse(input ?? {});
  if (!parsed.success) {
    throw routesError(
      source,
      parsed.error.issues.map((issue) => ({
        path: issue.path.map(String).join('.') || '(root)',
        message: issue.message,
      })),
    );
  }
  const errors: FieldError[] = [];
  const given = parsed.data.routes;
  const routes = new Map<string, WebhookRoute>();
  const names = [...new Set([...Object.keys(DEFAULT_WEBHOOK_ROUTES), ...Object.keys(given)])];
  for (const name of names) {
    const fallback = DEFAULT_WEBHOOK_ROUTES[name];
    const entry = given[name] ?? {};
    if (entry.enabled === false) continue;
    const at = `routes.${name}`;
    const secrets: string[] = [];
    const inputs = [...(entry.secret === undefined ? [] : [entry.secret]), ...(entry.secrets ?? [])];
    inputs.forEach((secret, index) => {
      const field = entry.secret !== undefined && index === 0 ? `${at}.secret` : `${at}.secrets`;
      if (typeof secret === 'string') secrets.push(secret);
      else if (env[secret.env] !== undefined && env[secret.env] !== '') secrets.push(env[secret.env] as string);
      else errors.push({ path: field, message: `the environment variable ${secret.env} is not set (or empty)` });
    });
    const named = entry.verify ?? fallback?.verify;
    let verify: WebhookVerifierName;
    if (inputs.length === 0) {
      // A default route stays unsigned until it gets a secret (DESIGN §7); a route the file
      // declares with a verifier but no secret is a mistake worth stopping for.
      if (entry.verify !== undefined && entry.verify !== 'none') {
        errors.push({ path: `${at}.secret`, message: `verify: ${entry.verify} needs a secret (or secrets)` });
      }
      verify = 'none';
    } else if (named === undefined || named === 'none') {
      errors.push({
        path: `${at}.verify`,
        message: `a secret is configured, so name the verifier that checks it: one of ${WEBHOOK_VERIFIERS.filter((v) => v !== 'none').join(', ')}`,
      });
      continue;
    } else {
      verify = named;
    }
    if (verify === 'standard') {
      secrets.forEach((secret, index) => {
        if (!isStandardSecret(secret)) {
          errors.push({
            path: `${at}.secrets[${index}]`,
            message: 'a Standard Webhooks secret is "whsec_" followed by base64 (the value is not shown)',
          });
        }
      });
    }
    const header = (entry.header ?? WEBHOOK_DEFAULTS.header).toLowerCase();
    const topicHeader = entry.topic_from?.from === 'header' ? entry.topic_from.name : undefined;
    if (
      topicHeader !== undefined &&
      (PRIVATE_HEADERS.has(topicHeader) || (verify === 'secret-header' && topicHeader === header))
    ) {
      errors.push({
        path: `${at}.topic_from`,
        message: `${topicHeader} carries a credential or signature; it cannot become a topic`,
      });
    }
    if (entry.header !== undefined && verify !== 'secret-header') {
      errors.push({ path: `${at}.header`, message: 'header is used only with verify: secret-header' });
    }
    routes.set(name, {
      name,
      collection: entry.collection ?? WEBHOOK_DEFAULTS.collection,
      topic: entry.topic ?? fallback?.topic,
      topicFrom: entry.topic_from,
      verify,
      secrets,
      header,
      toleranceS: entry.tolerance_s ?? WEBHOOK_DEFAULTS.toleranceS,
      bodyLimit: entry.body_limit ?? WEBHOOK_DEFAULTS.bodyLimit,
    });
  }
  if (errors.length > 0) throw routesError(source, errors);
  return routes;
}

/**
 * Read and resolve a routes file: YAML for `.yaml` / `.yml`, JSON otherwise (a JSON file is
 * valid YAML too, but JSON's own parser gives better errors for it).
 *
 * @throws DualStoreError `validation_failed` when the file cannot be read, parsed or validated.
 */
export async function loadWebhookRoutesFile(
  path: string,
  options: Omit<ParseWebhookRoutesOptions, 'source'> = {},
): Promise<WebhookRoutes> {
  const source = `the webhook routes file ${path} (DUALSTORE_HOOKS / --hooks)`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw routesError(source, [{ path: '(file)', message: `cannot be read (${reason})` }]);
  }
  let content: unknown;
  try {
    content = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    const kind = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? 'YAML' : 'JSON';
    throw routesError(source, [
      { path: '(file)', message: `is not valid ${kind}: ${(error as Error).message.split('\n', 1)[0]}` },
    ]);
  }
  return parseWebhookRoutes(content ?? {}, { ...options, source });
}

/** Names of the routes that check no signature (they need a bearer token with `write`). */
export function unsignedWebhookRoutes(routes: WebhookRoutes): string[] {
  return [...routes.values()].filter((route) => route.verify === 'none').map((route) => route.name);
}
