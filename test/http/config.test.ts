// SPDX-License-Identifier: GPL-3.0-or-later
// The server configuration (DESIGN §9, §10): defaults, environment variables, flags over
// variables, and a coded error naming the culprit for every bad value.

import { join } from 'node:path';
import { DEFAULT_COLLECTIONS, type DualStoreError } from '@dualstore/core';
import {
  assertSafeBind,
  CONFIG_NAMES,
  describeConfig,
  isLoopbackHost,
  parseConfig,
  type ServeConfig,
  type ServeFlags,
} from '@dualstore/http';
import { describe, expect, it } from 'vitest';

const HOME = '/home/tester';

function parse(env: Record<string, string> = {}, flags: ServeFlags = {}): ServeConfig {
  return parseConfig({ env, flags, homeDir: HOME });
}

/** The error parseConfig throws, or a failure when it does not throw. */
function failure(env: Record<string, string>, flags: ServeFlags = {}): DualStoreError {
  try {
    parse(env, flags);
  } catch (error) {
    return error as DualStoreError;
  }
  return expect.fail('expected parseConfig to throw');
}

describe('defaults', () => {
  it('uses the documented default for every setting', () => {
    expect(parse()).toEqual({
      port: 4261,
      host: '127.0.0.1',
      db: join(HOME, '.local/share/dualstore/dualstore.sqlite'),
      databaseUrl: undefined,
      authToken: undefined,
      corsOrigins: [],
      collections: [...DEFAULT_COLLECTIONS],
      heartbeatMs: 15_000,
      bodyLimit: 64 * 1024,
      sseMaxPerClient: 10,
      rateLimitMax: 0,
      hooksFile: undefined,
      durability: 'normal',
      insecure: false,
    });
  });

  it('puts the database under an absolute XDG_DATA_HOME and ignores a relative one (XDG spec)', () => {
    expect(parse({ XDG_DATA_HOME: '/data' }).db).toBe('/data/dualstore/dualstore.sqlite');
    expect(parse({ XDG_DATA_HOME: 'relative/dir' }).db).toBe(join(HOME, '.local/share/dualstore/dualstore.sqlite'));
  });

  it('treats an empty variable as unset', () => {
    expect(parse({ PORT: '', AUTH_TOKEN: '', COLLECTIONS: '' })).toEqual(parse());
  });
});

describe('environment and flags', () => {
  const env = {
    PORT: '8080',
    HOST: '::1',
    DUALSTORE_DB: '/srv/ds.sqlite',
    DATABASE_URL: 'postgres://user:pw@db.example:5432/dualstore',
    AUTH_TOKEN: 'env-token',
    CORS_ORIGIN: 'https://app.example.com, http://localhost:5173',
    COLLECTIONS: 'events,builds,events',
    HEARTBEAT_MS: '5000',
    BODY_LIMIT: '1mb',
    SSE_MAX_PER_CLIENT: '3',
    RATE_LIMIT_MAX: '600',
    DUALSTORE_HOOKS: '/etc/dualstore/hooks.yaml',
    DUALSTORE_DURABILITY: 'full',
  };

  it('reads every variable of DESIGN §10', () => {
    expect(parse(env)).toEqual({
      port: 8080,
      host: '::1',
      db: '/srv/ds.sqlite',
      databaseUrl: 'postgres://user:pw@db.example:5432/dualstore',
      authToken: 'env-token',
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      collections: ['events', 'builds'],
      heartbeatMs: 5000,
      bodyLimit: 1024 * 1024,
      sseMaxPerClient: 3,
      rateLimitMax: 600,
      hooksFile: '/etc/dualstore/hooks.yaml',
      durability: 'full',
      insecure: false,
    });
  });

  it('lets every flag override its variable', () => {
    const flags: ServeFlags = {
      port: '9090',
      host: '127.0.0.2',
      db: '/tmp/flag.sqlite',
      databaseUrl: 'postgresql://other/db',
      authToken: 'flag-token',
      corsOrigins: 'https://flag.example',
      collections: 'flagged',
      heartbeatMs: '200',
      bodyLimit: '2048',
      sseMaxPerClient: '1',
      rateLimitMax: '0',
      hooksFile: '/tmp/hooks.json',
      durability: 'normal',
      insecure: true,
    };
    expect(parse(env, flags)).toEqual({
      port: 9090,
      host: '127.0.0.2',
      db: '/tmp/flag.sqlite',
      databaseUrl: 'postgresql://other/db',
      authToken: 'flag-token',
      corsOrigins: ['https://flag.example'],
      collections: ['flagged'],
      heartbeatMs: 200,
      bodyLimit: 2048,
      sseMaxPerClient: 1,
      rateLimitMax: 0,
      hooksFile: '/tmp/hooks.json',
      durability: 'normal',
      insecure: true,
    });
  });

  it('names a flag for every setting and a variable for every setting but --insecure', () => {
    for (const [key, names] of Object.entries(CONFIG_NAMES)) {
      expect(names.flag, key).toMatch(/^--[a-z-]+$/);
      if (key !== 'insecure') expect(names.env, key).toMatch(/^[A-Z_]+$/);
    }
  });

  it('accepts body sizes in bytes, kb and mb', () => {
    expect(parse({ BODY_LIMIT: '65536' }).bodyLimit).toBe(65_536);
    expect(parse({ BODY_LIMIT: '64kb' }).bodyLimit).toBe(65_536);
    expect(parse({ BODY_LIMIT: '4MB' }).bodyLimit).toBe(4 * 1024 * 1024);
  });

  it('accepts port 0 (any free port)', () => {
    expect(parse({ PORT: '0' }).port).toBe(0);
  });
});

describe('bad values', () => {
  // Each row: the variable, a bad value. Every one must be refused with validation_failed naming it.
  const rows: [string, string][] = [
    ['PORT', 'http'],
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['HOST', 'http://example.com'],
    ['HOST', 'a b'],
    ['DUALSTORE_DB', '   '],
    ['DATABASE_URL', 'mysql://user:pw@host/db'],
    ['DATABASE_URL', 'not a url'],
    ['AUTH_TOKEN', 'has space'],
    ['AUTH_TOKEN', 'tab\there'],
    ['CORS_ORIGIN', '*'],
    ['CORS_ORIGIN', 'https://app.example.com/'],
    ['CORS_ORIGIN', 'https://app.example.com/path'],
    ['CORS_ORIGIN', 'app.example.com'],
    ['CORS_ORIGIN', 'null'],
    ['COLLECTIONS', 'Events'],
    ['COLLECTIONS', 'events,topics'],
    ['COLLECTIONS', ' , '],
    ['HEARTBEAT_MS', '99'],
    ['HEARTBEAT_MS', '15s'],
    ['BODY_LIMIT', '1gb'],
    ['BODY_LIMIT', '10'],
    ['BODY_LIMIT', 'lots'],
    ['SSE_MAX_PER_CLIENT', '0'],
    ['RATE_LIMIT_MAX', '-5'],
    ['DUALSTORE_HOOKS', ' '],
    ['DUALSTORE_DURABILITY', 'extra'],
  ];

  it.each(rows)('refuses %s=%j with validation_failed naming the variable', (name, value) => {
    const error = failure({ [name]: value });
    expect(error.code).toBe('validation_failed');
    expect(error.errors?.map((e) => e.path)).toEqual([name]);
  });

  it('names the flag, not the variable, when the bad value came from a flag', () => {
    const error = failure({ PORT: '8080' }, { port: 'x' });
    expect(error.code).toBe('validation_failed');
    expect(error.errors?.map((e) => e.path)).toEqual(['--port']);
  });

  it('reports every bad value at once', () => {
    const error = failure({ PORT: 'x', HEARTBEAT_MS: 'y' }, { durability: 'z' });
    expect(error.code).toBe('validation_failed');
    expect(error.errors?.map((e) => e.path).sort()).toEqual(['--durability', 'HEARTBEAT_MS', 'PORT']);
  });

  it('never echoes a token or a database URL in an error', () => {
    const secret = 'sEcReT value';
    const token = failure({ AUTH_TOKEN: secret });
    const url = failure({ DATABASE_URL: `mysql://user:${encodeURIComponent(secret)}@host/db` });
    for (const error of [token, url]) {
      expect(JSON.stringify({ message: error.message, errors: error.errors })).not.toMatch(/sEcReT/);
    }
  });
});

describe('binding beyond loopback (DESIGN §8)', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST'])(
    'treats %s as loopback',
    (host) => {
      expect(isLoopbackHost(host)).toBe(true);
    },
  );

  it.each(['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', 'example.com', '128.0.0.1'])(
    'treats %s as reachable from the network',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );

  it('refuses a network address without AUTH_TOKEN, naming HOST or --host', () => {
    const fromEnv = failure({ HOST: '0.0.0.0' });
    expect(fromEnv.code).toBe('validation_failed');
    expect(fromEnv.errors?.map((e) => e.path)).toEqual(['HOST']);
    const fromFlag = failure({}, { host: '0.0.0.0' });
    expect(fromFlag.errors?.map((e) => e.path)).toEqual(['--host']);
  });

  it('allows a network address with a token, or open with --insecure', () => {
    expect(parse({ HOST: '0.0.0.0', AUTH_TOKEN: 't0ken' }).host).toBe('0.0.0.0');
    expect(parse({ HOST: '0.0.0.0' }, { insecure: true }).insecure).toBe(true);
  });

  it('assertSafeBind applies the same rule to a configuration built by hand', () => {
    expect(() => assertSafeBind({ host: '0.0.0.0', authToken: undefined, insecure: false })).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    );
    expect(() => assertSafeBind({ host: '0.0.0.0', authToken: undefined, insecure: true })).not.toThrow();
    expect(() => assertSafeBind({ host: '0.0.0.0', authToken: 'x', insecure: false })).not.toThrow();
    expect(() => assertSafeBind({ host: '127.0.0.1', authToken: undefined, insecure: false })).not.toThrow();
  });
});

describe('describeConfig', () => {
  it('reduces the token and the database URL to "set" so a log line cannot leak them', () => {
    const config = parse({ AUTH_TOKEN: 'tok-123', DATABASE_URL: 'postgres://u:pw-456@h/db' });
    const text = JSON.stringify(describeConfig(config));
    expect(text).not.toContain('tok-123');
    expect(text).not.toContain('pw-456');
  });
});
