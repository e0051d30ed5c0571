// SPDX-License-Identifier: GPL-3.0-or-later
// `run(argv, io)` in-process: exit codes for help, usage mistakes, bad settings and unavailable
// services, every configuration setting offered as a flag, and a serve that stops on its signal.

import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_NAMES } from '@dualstore/http';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT, run } from '../src/index.js';
import { collector } from './helpers.js';

/** Resolves with the first JSON line that has a `url` (the listening line) once it is written. */
async function listeningUrl(sink: ReturnType<typeof collector>): Promise<string> {
  const pattern = /"url":"(http:\/\/[^"]+)"/;
  await sink.until((text) => pattern.test(text));
  return pattern.exec(sink.text)?.[1] as string;
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dualstore-cli-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'db.sqlite');
}

async function runCli(argv: string[], env: Record<string, string> = {}) {
  const stdout = collector();
  const stderr = collector();
  const code = await run(argv, { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('run', () => {
  it('prints help and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout).toContain('serve');
  });

  it('offers every configuration setting as a serve flag', async () => {
    const help = (await runCli(['serve', '--help'])).stdout;
    for (const { flag } of Object.values(CONFIG_NAMES)) expect(help).toContain(`${flag} `);
  });

  it('answers an unknown command or option with EX_USAGE (64)', async () => {
    expect((await runCli(['nonsense'])).code).toBe(EXIT.usage);
    expect((await runCli(['serve', '--no-such-flag'])).code).toBe(EXIT.usage);
    expect((await runCli(['serve', '--port'])).code).toBe(EXIT.usage);
  });

  it('answers a bad setting with EX_CONFIG (78), the code and the variable', async () => {
    const result = await runCli(['serve', '--db', tempDb()], { PORT: 'eighty' });
    expect(result.code).toBe(EXIT.config);
    expect(/error\[([a-z_]+)\]/.exec(result.stderr)?.[1]).toBe('validation_failed');
    expect(result.stderr).toMatch(/^ {2}PORT: /m);
  });

  it('answers DATABASE_URL with EX_UNAVAILABLE (69): the Postgres store is not built yet', async () => {
    const result = await runCli(['serve', '--port', '0', '--db', tempDb()], {
      DATABASE_URL: 'postgres://user:pw@localhost/dualstore',
    });
    expect(result.code).toBe(EXIT.unavailable);
    expect(/error\[([a-z_]+)\]/.exec(result.stderr)?.[1]).toBe('validation_failed');
    expect(result.stderr).toMatch(/^ {2}DATABASE_URL: /m);
    expect(result.stderr).not.toContain('pw@');
  });

  it('answers a port in use with EX_UNAVAILABLE (69)', async () => {
    const blocker: Server = createServer();
    blocker.listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    cleanups.push(() => new Promise<void>((done) => blocker.close(() => done())));
    const port = (blocker.address() as { port: number }).port;
    const result = await runCli(['serve', '--port', String(port), '--db', tempDb()]);
    expect(result.code).toBe(EXIT.unavailable);
    expect(/error\[([A-Za-z_]+)\]/.exec(result.stderr)?.[1]).toBe('EADDRINUSE');
  });

  it('serves until its signal aborts, then exits 0', async () => {
    const stdout = collector();
    const stderr = collector();
    const controller = new AbortController();
    const exited = run(['serve', '--port', '0', '--db', tempDb()], {
      stdout,
      stderr,
      env: {},
      signal: controller.signal,
    });
    const url = await listeningUrl(stdout);
    const health = await fetch(`${url}/v1/health`);
    expect(health.status).toBe(200);
    controller.abort();
    expect(await exited).toBe(EXIT.ok);
    expect(stderr.text).toBe('');
  });
});
