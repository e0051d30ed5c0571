// SPDX-License-Identifier: GPL-3.0-or-later
// HTTP load from wrk (Debian's package), for the insert benchmark. The load generator shares
// the machine's 2 cores with the server it measures; wrk (C) spent ~9 µs of CPU per request
// where autocannon (Node) spent ~14 µs (measured at ~21k req/s, docs/decisions.md), CPU that
// the servers — bare Fastify and DualStore alike — get back.

import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface WrkResult {
  rps: number;
  p99Ms: number;
  /** Non-2xx answers plus socket errors. */
  errors: number;
}

/** Make sure wrk is on the PATH, installing it with apt-get when missing and this process may (root). */
export function ensureWrk(): void {
  if (hasWrk()) return;
  if (process.getuid?.() === 0) {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', 'wrk'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (hasWrk()) return;
  }
  throw new Error('the insert benchmark needs wrk: apt-get install wrk');
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // `wrk --version` prints its banner and exits 1; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** POST `body` as JSON to `url` over `connections` keep-alive connections for `seconds`. */
export async function wrkPost(options: {
  url: string;
  body: string;
  connections: number;
  seconds: number;
  /** Where the request script is written. */
  dir: string;
}): Promise<WrkResult> {
  const script = path.join(options.dir, 'wrk-post.lua');
  fs.writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${luaString(options.body)}\nwrk.headers["content-type"] = "application/json"\n`,
  );
  const args = ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '-s', script, options.url];
  const output = await new Promise<string>((resolve, reject) => {
    execFile('wrk', args, { timeout: (options.seconds + 30) * 1000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`wrk failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
  return parseWrk(output);
}

/** Pick the figures out of wrk's report (`--latency` adds the percentile table). */
export function parseWrk(output: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\b/m.exec(output);
  if (rps === null || p99 === null) throw new Error(`cannot read wrk's report:\n${output}`);
  const scale = { us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'];
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return { rps: Number(rps[1]), p99Ms: Number(p99[1]) * scale, errors: non2xx + socketErrors };
}

/** A Lua long string cannot end early: its closing bracket gets more `=` than the text has. */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}
