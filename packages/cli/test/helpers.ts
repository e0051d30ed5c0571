// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers of the CLI tests: `run` in-process with collected stdio, a real server over a
// SQLite file that local mode opens too, and the no-build entry as a subprocess.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type AppOptions, buildApp, type FastifyInstance } from '@dualstore/http';
import { openSqliteStore, type SqliteStore } from '@dualstore/store-sqlite';
import { run } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: subprocesses run from there so `tsx` and the source condition resolve. */
export const ROOT = resolve(here, '../../..');
export const MAIN = join(ROOT, 'packages/cli/src/main.ts');

/** A text sink that remembers what was written. */
export function collector() {
  let text = '';
  const waiters = new Set<() => void>();
  return {
    get text() {
      return text;
    },
    write(chunk: string) {
      text += chunk;
      for (const waiter of [...waiters]) waiter();
      return true;
    },
    /** Resolves once `predicate(text)` holds; checked on every write. */
    until(predicate: (text: string) => boolean): Promise<void> {
      return new Promise((done) => {
        const check = () => {
          if (predicate(text)) {
            waiters.delete(check);
            done();
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (undefined when empty). */
  // biome-ignore lint/suspicious/noExplicitAny: assertions check the shape
  json: any;
  /** The `code` of the JSON error document on stderr. */
  error: string | undefined;
}

function parseResult(code: number, stdout: string, stderr: string): CliResult {
  const trimmed = stdout.trim();
  let json: unknown;
  if (trimmed.length > 0) {
    try {
      json = JSON.parse(trimmed);
    } catch {
      json = undefined;
    }
  }
  let error: string | undefined;
  if (stderr.trim().length > 0) {
    try {
      error = JSON.parse(stderr.trim().split('\n')[0] as string).error?.code;
    } catch {
      error = undefined;
    }
  }
  return { code, stdout, stderr, json, error };
}

/** Run the CLI in-process. */
export async function runCli(
  argv: string[],
  options: { env?: Record<string, string>; stdin?: string; signal?: AbortSignal } = {},
): Promise<CliResult> {
  const stdout = collector();
  const stderr = collector();
  const code = await run(argv, {
    stdout,
    stderr,
    env: options.env ?? {},
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  return parseResult(code, stdout.text, stderr.text);
}

/** A fresh temp directory; `remove` deletes it. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dualstore-cli-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SharedServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The SQLite file the server uses; local mode opens it too. */
  db: string;
  app: FastifyInstance;
  store: SqliteStore;
  close(): Promise<void>;
}

/** A real server on an ephemeral loopback port over a SQLite file in a temp directory. */
export async function startSharedServer(appOptions: Omit<AppOptions, 'store'> = {}): Promise<SharedServer> {
  const { dir, remove } = tempDir();
  const db = join(dir, 'db.sqlite');
  const store = await openSqliteStore({ path: db });
  const app = await buildApp({ ...appOptions, store });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    db,
    app,
    store,
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

/** The no-build entry as a child process: what an agent's shell runs. */
export function spawnCli(
  argv: string[],
  env: Record<string, string> = {},
  extraNodeArgs: string[] = [],
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(
    process.execPath,
    ['--conditions=@dualstore/source', '--import', 'tsx', ...extraNodeArgs, MAIN, ...argv],
    { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: 'pipe' },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<CliResult>((resolveDone, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolveDone(parseResult(code ?? -1, stdout, stderr)));
  });
  return { child, done };
}
