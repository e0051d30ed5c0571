// SPDX-License-Identifier: GPL-3.0-or-later
// `dualstore serve`: parse the configuration, wire the concrete store (the server package sees
// only the Store interface, DESIGN §1), run until SIGINT/SIGTERM. Loaded lazily by `run`.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DualStoreError, isDualStoreError, type Store } from '@dualstore/core';
import { parseConfig, type ServeConfig, type ServeFlags, serve } from '@dualstore/http';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { EXIT } from './exit-codes.js';
import type { CliIo, TextSink } from './run.js';

/** Commander's option names → the settings they set. */
const FLAG_KEYS: Record<string, keyof ServeConfig> = {
  port: 'port',
  host: 'host',
  db: 'db',
  databaseUrl: 'databaseUrl',
  token: 'authToken',
  corsOrigin: 'corsOrigins',
  collections: 'collections',
  heartbeatMs: 'heartbeatMs',
  bodyLimit: 'bodyLimit',
  sseMaxPerClient: 'sseMaxPerClient',
  rateLimitMax: 'rateLimitMax',
  hooks: 'hooksFile',
  durability: 'durability',
  insecure: 'insecure',
};

/** Opens the store the configuration selects. Only SQLite exists so far. */
export async function openConfiguredStore(config: ServeConfig): Promise<Store> {
  if (config.databaseUrl !== undefined) {
    throw new UnavailableError(
      new DualStoreError('validation_failed', 'the Postgres store is not built yet', {
        errors: [
          {
            path: 'DATABASE_URL',
            message: 'the Postgres store is not built yet; unset DATABASE_URL to use the SQLite file (DUALSTORE_DB)',
          },
        ],
      }),
    );
  }
  // The default lives under the user's data directory, which a fresh machine may not have yet.
  mkdirSync(dirname(config.db), { recursive: true });
  return openSqliteStore({ path: config.db, durability: config.durability, collections: config.collections });
}

/** Marks an error whose cause is a service that cannot be used (exit code EX_UNAVAILABLE). */
class UnavailableError extends Error {
  constructor(readonly error: DualStoreError) {
    super(error.message);
  }
}

/**
 * Print a coded error: a headline with the code, then one line per offending setting. A
 * configuration error's message repeats every field, so its headline is kept short.
 */
export function printError(sink: TextSink, error: DualStoreError, headline = error.message): void {
  sink.write(`dualstore: error[${error.code}]: ${headline}\n`);
  for (const field of error.errors ?? []) sink.write(`  ${field.path}: ${field.message}\n`);
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'is already in use: stop the other server or choose another PORT / --port',
  EACCES: 'needs privileges this user does not have: choose a PORT above 1023',
  EADDRNOTAVAIL: 'is not an address of this machine: check HOST / --host',
};

/**
 * Run `dualstore serve` with commander's parsed options; resolves to the exit code once the
 * server has shut down (0 after a clean SIGINT/SIGTERM).
 */
export async function serveCommand(options: Record<string, string | boolean | undefined>, io: CliIo): Promise<number> {
  const flags: ServeFlags = {};
  for (const [name, value] of Object.entries(options)) {
    const key = FLAG_KEYS[name];
    if (key !== undefined && value !== undefined) flags[key] = value;
  }
  let config: ServeConfig;
  try {
    config = parseConfig({ env: io.env, flags });
  } catch (error) {
    if (!isDualStoreError(error)) throw error;
    printError(io.stderr, error, 'invalid configuration');
    return EXIT.config;
  }
  try {
    const server = await serve(config, openConfiguredStore, {
      logger: { level: 'info', stream: io.stdout },
      handleSignals: io.signal === undefined,
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
    await server.closed;
    return EXIT.ok;
  } catch (error) {
    if (error instanceof UnavailableError) {
      printError(io.stderr, error.error);
      return EXIT.unavailable;
    }
    if (isDualStoreError(error)) {
      const config = error.code === 'validation_failed';
      printError(io.stderr, error, config ? 'invalid configuration' : error.message);
      return config ? EXIT.config : EXIT.failure;
    }
    const errno = (error as NodeJS.ErrnoException).code;
    const hint = errno === undefined ? undefined : LISTEN_ERRORS[errno];
    if (hint !== undefined) {
      io.stderr.write(`dualstore: error[${errno}]: ${config.host}:${config.port} ${hint}\n`);
      return EXIT.unavailable;
    }
    io.stderr.write(`dualstore: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failure;
  }
}
