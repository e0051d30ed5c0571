// SPDX-License-Identifier: GPL-3.0-or-later
// The CLI as it ships: `bin/dualstore.cjs` → `dist/launch.cjs` → the single-file bundle, built by
// the package's own bundle script into an installed layout, run as plain `node` processes. Covers
// the main agent flow, local search (the workers start from the bundle's directory), the code
// cache (written once, then used, rewritten when refused, off on request), and `serve` loading
// @dualstore/http from outside the bundle.

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCli } from '../scripts/bundle.js';
import { EXIT } from '../src/index.js';
import { collector, spawnBin, tempDir } from './helpers.js';

let dir: string;
let bin: string;
let removeDir: () => void;

beforeAll(async () => {
  const temp = tempDir();
  dir = temp.dir;
  removeDir = temp.remove;
  bin = await installCli(join(dir, 'pkg'));
}, 60_000);

afterAll(() => removeDir());

/** One isolated data file and cache directory per test. */
function sandbox(name: string): { env: Record<string, string>; cacheDir: string } {
  const cache = join(dir, `${name}-cache`);
  return {
    env: { DUALSTORE_DB: join(dir, `${name}.sqlite`), XDG_CACHE_HOME: cache },
    cacheDir: join(cache, 'dualstore', 'compile-cache'),
  };
}

const cli = (argv: string[], env: Record<string, string>) => spawnBin(bin, argv, env).done;

describe('the installed bin', () => {
  it('runs push → pull --claim → reply, finds the doc by search and prints the thread', async () => {
    const { env } = sandbox('flow');
    const pushed = await cli(['push', 'review', '--body', 'review PR 12 @bob', '--meta', '{"pr":12}'], env);
    expect(pushed.code).toBe(EXIT.ok);
    expect(pushed.json).toMatchObject({ id: expect.any(String), seq: expect.any(Number) });
    const pulled = await cli(['pull', 'review', '--claim', '--agent', '@bob'], env);
    expect(pulled.code).toBe(EXIT.ok);
    const [item] = pulled.json.items;
    expect(item.doc).toMatchObject({ id: pushed.json.id, metadata: { pr: 12 }, mentions: ['bob'] });
    const replied = await cli(
      ['reply', item.doc.id, '--status', 'success', '--body', 'LGTM', '--token', item.claim.token],
      env,
    );
    expect(replied.code).toBe(EXIT.ok);
    const found = await cli(['search', 'review'], env);
    expect(found.code).toBe(EXIT.ok);
    expect(found.json.items.map((hit: { doc: { id: string } }) => hit.doc.id)).toEqual([pushed.json.id]);
    const thread = await cli(['thread', pushed.json.id], env);
    expect(thread.json.items.map((doc: { text: string }) => doc.text)).toEqual(['review PR 12 @bob', 'LGTM']);
    const bad = await cli(['push', 'review', '--meta', '{oops'], env);
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.error).toBe('usage');
  }, 30_000);

  it('writes the code cache on the first run, uses it after, and rewrites a cache V8 refuses', async () => {
    const { env, cacheDir } = sandbox('cache');
    expect((await cli(['push', 'c', '--body', 'one'], env)).code).toBe(EXIT.ok);
    const [file] = readdirSync(cacheDir);
    expect(file).toMatch(/^[0-9a-f]{16}-[0-9a-f]{16}\.bin$/);
    const cache = join(cacheDir, file as string);
    const written = readFileSync(cache);
    expect(written.length).toBeGreaterThan(10_000);
    const writtenAt = statSync(cache).mtimeMs;

    // Accepted: left as it is (a refused cache would be written again at exit).
    expect((await cli(['push', 'c', '--body', 'two'], env)).code).toBe(EXIT.ok);
    expect(statSync(cache).mtimeMs).toBe(writtenAt);
    expect(readdirSync(cacheDir)).toEqual([file]);

    // Garbage in the cache: V8 refuses it, the command still works, and a good cache replaces it.
    writeFileSync(cache, Buffer.alloc(written.length, 7));
    expect((await cli(['push', 'c', '--body', 'three'], env)).code).toBe(EXIT.ok);
    expect(readFileSync(cache).equals(Buffer.alloc(written.length, 7))).toBe(false);
    expect(readFileSync(cache).length).toBeGreaterThan(10_000);
  }, 30_000);

  it('keeps no cache when NODE_DISABLE_COMPILE_CACHE is set', async () => {
    const { env, cacheDir } = sandbox('nocache');
    const result = await cli(['push', 'c', '--body', 'x'], { ...env, NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(result.code).toBe(EXIT.ok);
    expect(() => readdirSync(cacheDir)).toThrow(/ENOENT/);
  }, 30_000);

  it('serves, loading @dualstore/http from outside the bundle, and sees a push from the bin', async () => {
    const { env } = sandbox('serve');
    // @dualstore/http resolves to its TypeScript sources here (no tsc build in a clone).
    const server = spawnBin(bin, ['serve', '--port', '0'], env, ['--conditions=@dualstore/source', '--import', 'tsx']);
    const stdout = collector();
    server.child.stdout?.on('data', (chunk: Buffer) => stdout.write(chunk.toString()));
    try {
      const pattern = /"url":"(http:\/\/[^"]+)"/;
      await stdout.until((text) => pattern.test(text));
      const url = pattern.exec(stdout.text)?.[1] as string;
      const pushed = await cli(['push', 'served', '--body', 'hello server'], env);
      expect(pushed.code).toBe(EXIT.ok);
      const response = await fetch(`${url}/v1/events/${pushed.json.id}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ id: pushed.json.id, text: 'hello server' });
    } finally {
      server.child.kill('SIGTERM');
    }
    expect((await server.done).code).toBe(EXIT.ok);
  }, 60_000);
});
