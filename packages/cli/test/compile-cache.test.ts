// SPDX-License-Identifier: GPL-3.0-or-later
// The code-cache loader in-process: where caches live, a key per bundle build, and a cache that
// V8 accepts after it was written from a run, refuses when it is garbage.

import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheFileFor, compileBundle, compileCacheDir, runCompiled, writeCache } from '../src/compile-cache.js';
import { tempDir } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function scratch(): string {
  const { dir, remove } = tempDir();
  cleanups.push(remove);
  return dir;
}

/** A CommonJS "bundle" that reports through a global, with enough functions to be worth caching. */
function writeBundle(dir: string, marker: string): string {
  const file = join(dir, 'bundle.cjs');
  const functions = Array.from({ length: 50 }, (_, i) => `function f${i}(x) { return x * ${i} + ${i}; }`).join('\n');
  writeFileSync(
    file,
    `${functions}\nglobalThis.__bundleRan = { marker: ${JSON.stringify(marker)}, file: __filename, sum: f7(1) + f49(2), required: typeof require('node:path').join };\n`,
  );
  return file;
}

describe('compileCacheDir', () => {
  it('is under XDG_CACHE_HOME, else ~/.cache, and off with NODE_DISABLE_COMPILE_CACHE', () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/dualstore/compile-cache');
    expect(compileCacheDir({})).toMatch(/\/\.cache\/dualstore\/compile-cache$/);
    expect(compileCacheDir({ XDG_CACHE_HOME: '/c', NODE_DISABLE_COMPILE_CACHE: '1' })).toBeUndefined();
  });
});

describe('cacheFileFor', () => {
  it('gives a rebuilt bundle (new size or time) another file, and the same build the same file', () => {
    const dir = scratch();
    const bundle = writeBundle(dir, 'a');
    const first = cacheFileFor(bundle, '/cache');
    expect(cacheFileFor(bundle, '/cache')).toBe(first);
    writeBundle(dir, 'a longer marker');
    expect(cacheFileFor(bundle, '/cache')).not.toBe(first);
    const sized = cacheFileFor(bundle, '/cache');
    utimesSync(bundle, new Date(2020, 0, 1), new Date(2020, 0, 1));
    expect(cacheFileFor(bundle, '/cache')).not.toBe(sized);
  });
});

describe('writeCache', () => {
  it("replaces the same bundle's caches of older builds and leaves other bundles' alone", () => {
    const dir = scratch();
    const cacheDir = join(dir, 'cache');
    const bundle = writeBundle(dir, 'one');
    const oldBuild = cacheFileFor(bundle, cacheDir);
    writeCache(oldBuild, Buffer.from('old'));
    const otherBundle = join(cacheDir, '0123456789abcdef-0123456789abcdef.bin');
    writeFileSync(otherBundle, 'another install');
    writeBundle(dir, 'one, rebuilt');
    const newBuild = cacheFileFor(bundle, cacheDir);
    expect(newBuild).not.toBe(oldBuild);
    writeCache(newBuild, Buffer.from('new'));
    expect(readdirSync(cacheDir).sort()).toEqual(
      [newBuild, otherBundle].map((file) => file.slice(cacheDir.length + 1)).sort(),
    );
  });
});

describe('compileBundle and runCompiled', () => {
  it('runs the bundle as a CommonJS module; the cache written after a run is accepted next time', () => {
    const dir = scratch();
    const bundle = writeBundle(dir, 'cached');
    const cacheFile = join(dir, 'cache', 'x.bin');
    const first = compileBundle(bundle, cacheFile);
    expect(first.stale).toBe(true);
    runCompiled(first.script, bundle);
    expect((globalThis as { __bundleRan?: unknown }).__bundleRan).toEqual({
      marker: 'cached',
      file: bundle,
      sum: 7 + 1 * 7 + (49 * 2 + 49),
      required: 'function',
    });
    writeCache(cacheFile, first.script.createCachedData());
    const second = compileBundle(bundle, cacheFile);
    expect(second.stale).toBe(false);
    expect(second.script.cachedDataRejected).toBe(false);
  });

  it('marks a garbage cache stale (V8 refuses it) and still runs the bundle', () => {
    const dir = scratch();
    const bundle = writeBundle(dir, 'garbage');
    const cacheFile = join(dir, 'x.bin');
    writeFileSync(cacheFile, Buffer.alloc(4096, 1));
    const compiled = compileBundle(bundle, cacheFile);
    expect(compiled.stale).toBe(true);
    runCompiled(compiled.script, bundle);
    expect((globalThis as { __bundleRan?: { marker: string } }).__bundleRan?.marker).toBe('garbage');
  });
});
