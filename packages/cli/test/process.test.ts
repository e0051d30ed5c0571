// SPDX-License-Identifier: GPL-3.0-or-later
// The CLI as agents run it: a process per command (the no-build entry, `node --conditions=
// @dualstore/source --import tsx packages/cli/src/main.ts`). Covers the main flow, concurrent
// claimers on one file, a local push reaching a running server's SSE stream within 250 ms
// (DESIGN §3), and which modules a `push` loads.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultDbPath as serverDefaultDbPath } from '@dualstore/http';
import { openSqliteStore } from '@dualstore/store-sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultDbPath } from '../src/db-path.js';
import { EXIT } from '../src/index.js';
import { spawnCli, startSharedServer, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function newDb(): string {
  const { dir, remove } = tempDir();
  cleanups.push(remove);
  return join(dir, 'db.sqlite');
}

describe('the CLI as a process', () => {
  it('runs push → pull --claim → reply → pull (nothing left) with stable exit codes', async () => {
    const env = { DUALSTORE_DB: newDb() };
    const topic = await spawnCli(['topics', 'create', 'review', '--prompt', 'You review code.'], env).done;
    expect(topic.code).toBe(EXIT.ok);
    const pushed = await spawnCli(['push', 'review', '--body', 'review PR 12 @bob', '--meta', '{"pr":12}'], env).done;
    expect(pushed.code).toBe(EXIT.ok);
    const pulled = await spawnCli(['pull', 'review', '--claim', '--agent', '@bob'], env).done;
    expect(pulled.code).toBe(EXIT.ok);
    const [item] = pulled.json.items;
    expect(item).toMatchObject({ prompt: 'You review code.', doc: { id: pushed.json.id, metadata: { pr: 12 } } });
    const replied = await spawnCli(
      ['reply', item.doc.id, '--status', 'success', '--body', 'LGTM', '--token', item.claim.token],
      env,
    ).done;
    expect(replied.code).toBe(EXIT.ok);
    expect(replied.json).toMatchObject({ parent_id: item.doc.id, text: 'LGTM' });
    const empty = await spawnCli(['pull', 'review', '--claim', '--agent', '@bob'], env).done;
    expect(empty.code).toBe(EXIT.nothingToPull);
    expect(empty.json).toEqual({ items: [] });
    const bad = await spawnCli(['push', 'review', '--meta', '{oops'], env).done;
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.error).toBe('usage');
  });

  it('10 concurrent `pull --claim` processes on one file never get the same doc', async () => {
    const db = newDb();
    const store = await openSqliteStore({ path: db, search: false });
    for (let i = 0; i < 10; i++) await store.insert('events', { text: `job ${i}`, topic: 'conc' });
    await store.close();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => spawnCli(['pull', 'conc', '--claim', '--agent', `@w${i}`, '--db', db]).done),
    );
    for (const result of results) expect(result.code).toBe(EXIT.ok);
    const ids = results.flatMap((result) => result.json.items.map((item: { doc: { id: string } }) => item.doc.id));
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
  });

  it('a local push while a server runs reaches its SSE stream within 250 ms of the push exiting', async () => {
    const server = await startSharedServer();
    cleanups.push(() => server.close());
    const controller = new AbortController();
    cleanups.push(() => controller.abort());
    const response = await fetch(`${server.url}/v1/events/stream`, {
      headers: { accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (needle: string): Promise<number> => {
      while (!received.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        received += decoder.decode(value, { stream: true });
      }
      return performance.now();
    };
    // The first frame (`retry:`) means the stream is live and subscribed.
    await readUntil('retry:');
    const marker = `marker-${Date.now()}`;
    const push = spawnCli(['push', 'sse', '--body', marker, '--db', server.db]);
    let exitedAt = 0;
    push.child.once('exit', () => {
      exitedAt = performance.now();
    });
    const arrivedAt = await readUntil(marker);
    const result = await push.done;
    expect(result.code).toBe(EXIT.ok);
    // The event may even arrive before the process has fully exited.
    const latencyMs = Math.max(0, arrivedAt - exitedAt);
    expect(latencyMs).toBeLessThanOrEqual(250);
    expect(received).toContain('event: insert');
  });

  /** The module URLs a CLI process resolves, recorded by a loader hook. */
  async function loadedModules(argv: string[]): Promise<{ code: number; urls: string[] }> {
    const { dir, remove } = tempDir();
    cleanups.push(remove);
    const log = join(dir, 'modules.log');
    // A resolve hook in the loader thread records every module URL the process resolves: the
    // only portable way to see ESM loads from outside (ESM has no require.cache).
    writeFileSync(
      join(dir, 'hooks.mjs'),
      `import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + '\\n');
  return result;
}
`,
    );
    writeFileSync(
      join(dir, 'register.mjs'),
      `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url, { data: { log: ${JSON.stringify(log)} } });
`,
    );
    const result = await spawnCli(
      argv.map((a) => a.replace('$DIR', dir)),
      {},
      ['--import', join(dir, 'register.mjs')],
    ).done;
    return { code: result.code, urls: readFileSync(log, 'utf8').split('\n') };
  }

  it('a local push loads neither Fastify, nor the search workers, nor the HTTP client', async () => {
    const { code, urls } = await loadedModules(['push', 'x', '--body', 'hi', '--db', '$DIR/db.sqlite']);
    expect(code).toBe(EXIT.ok);
    // The hook saw the push's own modules (so an empty log cannot pass for a clean one).
    expect(urls.some((url) => url.includes('/store-sqlite/src/sqlite-store.ts'))).toBe(true);
    expect(urls.some((url) => url.includes('/cli/src/commands.ts'))).toBe(true);
    expect(urls.filter((url) => /\/node_modules\/(\.pnpm\/)?fastify/.test(url))).toEqual([]);
    expect(urls.filter((url) => url.includes('/dualstore-http/'))).toEqual([]);
    expect(urls.filter((url) => url.includes('/store-sqlite/src/search/'))).toEqual([]);
    expect(urls.filter((url) => url.includes('/dualstore-sse-client/'))).toEqual([]);
  });

  it('a remote push loads neither the store, nor zod, nor Fastify', async () => {
    // Port 1 answers nothing: the command fails (69) after loading everything it would use.
    const { code, urls } = await loadedModules(['push', 'x', '--body', 'hi', '--url', 'http://127.0.0.1:1']);
    expect(code).toBe(EXIT.unavailable);
    expect(urls.some((url) => url.includes('/dualstore-sse-client/src/client.ts'))).toBe(true);
    expect(urls.filter((url) => url.includes('/store-sqlite/') || url.includes('better-sqlite3'))).toEqual([]);
    expect(urls.filter((url) => /\/zod\//.test(url))).toEqual([]);
    expect(urls.filter((url) => /fastify/.test(url))).toEqual([]);
  });
});

describe('default database path', () => {
  it('is the same rule as the server’s (duplicated so a push need not load @dualstore/http)', () => {
    for (const env of [{}, { XDG_DATA_HOME: '/data' }, { XDG_DATA_HOME: 'relative/dir' }, { XDG_DATA_HOME: '' }]) {
      expect(defaultDbPath(env, '/home/u')).toBe(serverDefaultDbPath(env, '/home/u'));
    }
  });
});
