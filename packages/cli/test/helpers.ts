// SPDX-License-Identifier: GPL-3.0-or-later
// Shared helpers of the CLI tests: `run` in-process with collected stdio, a real server over a
// SQLite file that local mode opens too, and the no-build entry as a subprocess.

import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { AppOptions } from '@dualstore/http';
import { newTestDir, startServer, type TestServer } from '../../../test/helpers.js';
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
  return newTestDir('dualstore-cli-');
}

export interface SharedServer extends TestServer {
  /** The SQLite file the server uses; local mode opens it too. */
  db: string;
}

/** A real server (the repository's shared test server) whose SQLite file local mode opens too. */
export async function startSharedServer(appOptions: Omit<AppOptions, 'store'> = {}): Promise<SharedServer> {
  const server = await startServer(appOptions);
  return { ...server, db: join(server.dir, 'db.sqlite') };
}

/** A CLI process as an agent's shell starts it, with its output collected. */
export interface CliProcess {
  child: ChildProcess;
  done: Promise<CliResult>;
}

/** `node <args>` from the repository root (where `tsx` and the source condition resolve). */
function spawnNode(args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: 'pipe',
  });
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

/** The no-build entry as a child process (the TypeScript sources through tsx). */
export function spawnCli(argv: string[], env: Record<string, string> = {}, extraNodeArgs: string[] = []): CliProcess {
  return spawnNode(['--conditions=@dualstore/source', '--import', 'tsx', ...extraNodeArgs, MAIN, ...argv], env);
}

/** An installed bin (scripts/bundle.ts `installCli`) as a child process. */
export function spawnBin(
  bin: string,
  argv: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): CliProcess {
  return spawnNode([...nodeArgs, bin, ...argv], env);
}
