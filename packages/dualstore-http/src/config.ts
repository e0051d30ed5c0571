// SPDX-License-Identifier: GPL-3.0-or-later
// The server's configuration (DESIGN §9, §10 "Configuration names"): environment variables and
// `dualstore serve` flags, parsed once by one zod schema. A flag overrides its variable. Every
// bad value is reported at once, each naming the variable or flag it came from, what was
// expected and what came, as one `validation_failed` error whose `errors` list the culprits.

import { BlockList, isIP } from 'node:net';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_COLLECTIONS, DualStoreError, type FieldError, isCollectionName } from '@dualstore/core';
import { z } from 'zod';
import { DEFAULTS } from './context.js';

/** How the SQLite store syncs commits (DESIGN §3a.6): `normal` survives a process crash, `full` power loss too. */
export type DurabilityMode = 'normal' | 'full';

/** The resolved configuration `serve` runs with. */
export interface ServeConfig {
  /** `PORT` / `--port`. 0 picks a free port. Defaults to 4261. */
  port: number;
  /** `HOST` / `--host`. Defaults to 127.0.0.1 (loopback only). */
  host: string;
  /** `DUALSTORE_DB` / `--db`: the SQLite file. Defaults to `$XDG_DATA_HOME/dualstore/dualstore.sqlite` (else `~/.local/share/…`). */
  db: string;
  /** `DATABASE_URL` / `--database-url`: a `postgres://` URL selects the Postgres store. */
  databaseUrl: string | undefined;
  /** `AUTH_TOKEN` / `--token`: one all-powerful bearer token. */
  authToken: string | undefined;
  /** `CORS_ORIGIN` / `--cors-origin`: exact origins, comma-separated. Defaults to none. */
  corsOrigins: string[];
  /** `COLLECTIONS` / `--collections`: created on start when missing. Defaults to events, session_messages, agent_tasks, opencode_events. */
  collections: string[];
  /** `HEARTBEAT_MS` / `--heartbeat-ms`: SSE heartbeat interval. Defaults to 15 000. */
  heartbeatMs: number;
  /** `BODY_LIMIT` / `--body-limit`: bytes per request body (`65536`, `64kb`, `1mb`). Defaults to 64 KiB. */
  bodyLimit: number;
  /** `SSE_MAX_PER_CLIENT` / `--sse-max-per-client`: open streams per token or IP. Defaults to 10. */
  sseMaxPerClient: number;
  /** `RATE_LIMIT_MAX` / `--rate-limit-max`: requests per minute per token / IP; 0 is off. Defaults to 0. */
  rateLimitMax: number;
  /** `DUALSTORE_HOOKS` / `--hooks`: the webhook routes file (JSON or YAML). */
  hooksFile: string | undefined;
  /** `DUALSTORE_DURABILITY` / `--durability`: `normal` or `full`. Defaults to `normal`. */
  durability: DurabilityMode;
  /** `--insecure`: allow a non-loopback bind without `AUTH_TOKEN`. Defaults to false. */
  insecure: boolean;
}

/** Defaults of the settings that have one (the SQLite path depends on the user: see `defaultDbPath`). */
export const CONFIG_DEFAULTS = {
  port: 4261,
  host: '127.0.0.1',
  collections: DEFAULT_COLLECTIONS,
  heartbeatMs: DEFAULTS.heartbeatMs,
  bodyLimit: DEFAULTS.bodyLimit,
  sseMaxPerClient: DEFAULTS.sseMaxPerClient,
  rateLimitMax: DEFAULTS.rateLimitMax,
  durability: 'normal',
} as const;

/** Each setting: its environment variable and its `dualstore serve` flag. */
export const CONFIG_NAMES = {
  port: { env: 'PORT', flag: '--port' },
  host: { env: 'HOST', flag: '--host' },
  db: { env: 'DUALSTORE_DB', flag: '--db' },
  databaseUrl: { env: 'DATABASE_URL', flag: '--database-url' },
  authToken: { env: 'AUTH_TOKEN', flag: '--token' },
  corsOrigins: { env: 'CORS_ORIGIN', flag: '--cors-origin' },
  collections: { env: 'COLLECTIONS', flag: '--collections' },
  heartbeatMs: { env: 'HEARTBEAT_MS', flag: '--heartbeat-ms' },
  bodyLimit: { env: 'BODY_LIMIT', flag: '--body-limit' },
  sseMaxPerClient: { env: 'SSE_MAX_PER_CLIENT', flag: '--sse-max-per-client' },
  rateLimitMax: { env: 'RATE_LIMIT_MAX', flag: '--rate-limit-max' },
  hooksFile: { env: 'DUALSTORE_HOOKS', flag: '--hooks' },
  durability: { env: 'DUALSTORE_DURABILITY', flag: '--durability' },
  insecure: { env: undefined, flag: '--insecure' },
} as const satisfies Record<keyof ServeConfig, { env: string | undefined; flag: string }>;

/** Flag values as a command-line parser hands them over (camelCase keys of `ServeConfig`). */
export type ServeFlags = { [K in keyof ServeConfig]?: string | number | boolean | undefined };

export interface ParseConfigInput {
  /** The environment. Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Flags; a defined flag overrides its environment variable. */
  flags?: ServeFlags;
  /** The user's home directory, for the default SQLite path. Defaults to `os.homedir()`. */
  homeDir?: string;
}

/**
 * The default SQLite file: `$XDG_DATA_HOME/dualstore/dualstore.sqlite`, or
 * `~/.local/share/dualstore/dualstore.sqlite` when XDG_DATA_HOME is unset or relative (the XDG
 * spec says to ignore a relative one).
 */
export function defaultDbPath(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  const xdg = env.XDG_DATA_HOME;
  const dataHome = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homeDir, '.local', 'share');
  return join(dataHome, 'dualstore', 'dualstore.sqlite');
}

/**
 * True for addresses only this machine can reach: 127.0.0.0/8, ::1 (also IPv4-mapped) and
 * `localhost`. Any other name or address — including 0.0.0.0 and :: — counts as reachable from
 * the network, since a name may resolve anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  return family !== 0 && LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * DESIGN §8: a server reachable from the network must not start open. Throws `validation_failed`
 * (naming HOST) when the host is not loopback, no AUTH_TOKEN is set and `insecure` is false.
 */
export function assertSafeBind(config: Pick<ServeConfig, 'host' | 'authToken' | 'insecure'>): void {
  const problem = unsafeBindProblem(config);
  if (problem)
    throw new DualStoreError('validation_failed', `${problem.path}: ${problem.message}`, { errors: [problem] });
}

function unsafeBindProblem(config: Pick<ServeConfig, 'host' | 'authToken' | 'insecure'>): FieldError | undefined {
  if (isLoopbackHost(config.host) || config.authToken !== undefined || config.insecure) return undefined;
  return {
    path: 'HOST',
    message:
      `${config.host} is reachable from the network and no AUTH_TOKEN is set, so anyone could read and ` +
      'write every collection; set AUTH_TOKEN (or --token), bind to 127.0.0.1, or pass --insecure to ' +
      'run open on purpose',
  };
}

// ── value parsers: each reports what was expected and what came ─────────────────────────────

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

function integer(min: number, max: number) {
  return z.string().transform((raw, ctx) => {
    const text = raw.trim();
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got ${quote(raw)}` });
      return z.NEVER;
    }
    return value;
  });
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2 };
const MIN_BODY_LIMIT = 1024;
const MAX_BODY_LIMIT = 64 * 1024 ** 2;

/** Bytes as `65536`, `64kb` or `1mb` (binary units, the same spelling as the webhook routes file). */
const byteSize = z.string().transform((raw, ctx) => {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim());
  const factor = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  const value = match && factor !== undefined ? Number(match[1]) * factor : Number.NaN;
  if (!Number.isSafeInteger(value) || value < MIN_BODY_LIMIT || value > MAX_BODY_LIMIT) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a size from 1kb to 64mb (bytes, or a number with kb or mb), got ${quote(raw)}`,
    });
    return z.NEVER;
  }
  return value;
});

/** A comma-separated list; blanks are dropped so `a, b,` reads as `a,b`. */
function list(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

const hostSchema = z.string().transform((raw, ctx) => {
  const host = raw.trim();
  if (host.length === 0 || host.length > 253 || /[\s/?#@]/.test(host)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an IP address or host name such as 127.0.0.1, got ${quote(raw)}`,
    });
    return z.NEVER;
  }
  return host;
});

const pathSchema = z.string().transform((raw, ctx) => {
  if (raw.trim().length === 0) {
    ctx.addIssue({ code: 'custom', message: 'expected a file path, got an empty value' });
    return z.NEVER;
  }
  return resolve(raw);
});

const databaseUrlSchema = z.string().transform((raw, ctx) => {
  let protocol = '';
  try {
    protocol = new URL(raw).protocol;
  } catch {}
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    // The value may hold a password: name its scheme, never echo it.
    ctx.addIssue({
      code: 'custom',
      message: `expected a postgres:// or postgresql:// URL, got ${protocol ? `a ${protocol}// URL` : 'something that is not a URL'}`,
    });
    return z.NEVER;
  }
  return raw;
});

const tokenSchema = z.string().transform((raw, ctx) => {
  // Printable ASCII only: the token travels in an HTTP header. Never echo it.
  if (!/^[\x21-\x7e]{1,4096}$/.test(raw)) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected printable ASCII without spaces (at most 4096 characters); the value given is not',
    });
    return z.NEVER;
  }
  return raw;
});

const originsSchema = z.string().transform((raw, ctx) => {
  const origins = list(raw);
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (parsed === undefined || parsed.origin === 'null' || parsed.origin !== origin) {
      ctx.addIssue({
        code: 'custom',
        message: `expected exact origins like https://app.example.com (scheme, host, optional port; no path, no slash, no *), got ${quote(origin)}`,
      });
      return z.NEVER;
    }
  }
  return origins;
});

const collectionsSchema = z.string().transform((raw, ctx) => {
  const names = list(raw);
  const bad = names.filter((name) => !isCollectionName(name));
  if (names.length === 0 || bad.length > 0) {
    ctx.addIssue({
      code: 'custom',
      message:
        'expected comma-separated collection names of [a-z0-9_-]{1,64}, not topics, stream, collections, ' +
        `tickets or health, got ${names.length === 0 ? 'none' : bad.map(quote).join(', ')}`,
    });
    return z.NEVER;
  }
  return [...new Set(names)];
});

const durabilitySchema = z.string().transform((raw, ctx) => {
  const mode = raw.trim().toLowerCase();
  if (mode !== 'normal' && mode !== 'full') {
    ctx.addIssue({ code: 'custom', message: `expected normal or full, got ${quote(raw)}` });
    return z.NEVER;
  }
  return mode as DurabilityMode;
});

const flagSchema = z.string().transform((raw, ctx) => {
  const value = raw.trim().toLowerCase();
  if (['', 'true', '1', 'yes'].includes(value)) return true;
  if (['false', '0', 'no'].includes(value)) return false;
  ctx.addIssue({ code: 'custom', message: `expected true or false, got ${quote(raw)}` });
  return z.NEVER;
});

/** The one schema: raw strings in (flag over env), typed settings out; undefined means "use the default". */
const configSchema = z.object({
  port: integer(0, 65_535).optional(),
  host: hostSchema.optional(),
  db: pathSchema.optional(),
  databaseUrl: databaseUrlSchema.optional(),
  authToken: tokenSchema.optional(),
  corsOrigins: originsSchema.optional(),
  collections: collectionsSchema.optional(),
  heartbeatMs: integer(100, 3_600_000).optional(),
  bodyLimit: byteSize.optional(),
  sseMaxPerClient: integer(1, 10_000).optional(),
  rateLimitMax: integer(0, 1_000_000_000).optional(),
  hooksFile: pathSchema.optional(),
  durability: durabilitySchema.optional(),
  insecure: flagSchema.optional(),
});

type Setting = keyof typeof CONFIG_NAMES;

/**
 * Parse the environment and flags into a `ServeConfig`. An empty environment variable counts as
 * unset (the usual `VAR= cmd` idiom); a flag given on the command line always wins.
 *
 * @throws DualStoreError `validation_failed` whose `errors` name each bad variable (`PORT`) or
 *   flag (`--port`) with what was expected and what came.
 * @example
 * const config = parseConfig({ env: process.env, flags: { port: '8080' } });
 */
export function parseConfig(input: ParseConfigInput = {}): ServeConfig {
  const env = input.env ?? process.env;
  const flags = input.flags ?? {};
  const raw: Partial<Record<Setting, string>> = {};
  const source: Partial<Record<Setting, string>> = {};
  for (const key of Object.keys(CONFIG_NAMES) as Setting[]) {
    const names = CONFIG_NAMES[key];
    const flag = flags[key];
    if (flag !== undefined && flag !== false) {
      raw[key] = String(flag);
      source[key] = names.flag;
    } else if (names.env !== undefined && env[names.env] !== undefined && env[names.env] !== '') {
      raw[key] = env[names.env];
      source[key] = names.env;
    }
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const errors: FieldError[] = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as Setting;
      return { path: source[key] ?? CONFIG_NAMES[key].env ?? CONFIG_NAMES[key].flag, message: issue.message };
    });
    throw configError(errors);
  }
  const value = parsed.data;
  const config: ServeConfig = {
    port: value.port ?? CONFIG_DEFAULTS.port,
    host: value.host ?? CONFIG_DEFAULTS.host,
    db: value.db ?? defaultDbPath(env, input.homeDir ?? homedir()),
    databaseUrl: value.databaseUrl,
    authToken: value.authToken,
    corsOrigins: value.corsOrigins ?? [],
    collections: value.collections ?? [...CONFIG_DEFAULTS.collections],
    heartbeatMs: value.heartbeatMs ?? CONFIG_DEFAULTS.heartbeatMs,
    bodyLimit: value.bodyLimit ?? CONFIG_DEFAULTS.bodyLimit,
    sseMaxPerClient: value.sseMaxPerClient ?? CONFIG_DEFAULTS.sseMaxPerClient,
    rateLimitMax: value.rateLimitMax ?? CONFIG_DEFAULTS.rateLimitMax,
    hooksFile: value.hooksFile,
    durability: value.durability ?? CONFIG_DEFAULTS.durability,
    insecure: value.insecure ?? false,
  };
  const bind = unsafeBindProblem(config);
  if (bind) throw configError([{ ...bind, path: source.host ?? 'HOST' }]);
  return config;
}

function configError(errors: FieldError[]): DualStoreError {
  const detail = `invalid configuration: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`;
  return new DualStoreError('validation_failed', detail, { errors });
}

/**
 * The configuration as it is safe to log: the token and the database URL (which may carry a
 * password) are reduced to whether they are set.
 */
export function describeConfig(config: ServeConfig): Record<string, unknown> {
  return {
    ...config,
    authToken: config.authToken === undefined ? undefined : '(set)',
    databaseUrl: config.databaseUrl === undefined ? undefined : '(set)',
  };
}
