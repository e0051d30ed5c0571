// SPDX-License-Identifier: GPL-3.0-or-later
// Running the CLI bundle with a V8 code cache, so an agent's hundredth `push` does not parse and
// compile the same bundle again: compiling it was the largest single cost of a push (profiled,
// see docs/decisions.md). Node ≥ 22.1 does this itself (`module.enableCompileCache`), and is
// handed the same directory. On Node 20 the bundle is compiled through `vm.Script` with the cache
// the previous run left, and the cache is written at exit when there was none or V8 refused it
// (another Node version or V8 flags, a rebuilt bundle). It is written after the command ran, so
// it also holds the functions compiled lazily along the way, not only the top level — a cache
// taken at compile time (as the v8-compile-cache package does) saved a quarter as much here.

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';
import { constants, Script } from 'node:vm';

type Env = Record<string, string | undefined>;

/**
 * Where code caches live: `$XDG_CACHE_HOME/dualstore/compile-cache`, else
 * `~/.cache/dualstore/compile-cache` (a directory only this user can write: a cache is code).
 * `NODE_DISABLE_COMPILE_CACHE` (Node's own switch) turns caching off.
 */
export function compileCacheDir(env: Env = process.env): string | undefined {
  if (env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  const base = env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(base, 'dualstore', 'compile-cache');
}

const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/**
 * The cache file for this bundle build under this Node: `<bundle path>-<build and Node>.bin`, each
 * part hashed. A rebuilt bundle or another Node gets a new file, and writing it removes the
 * same bundle's older ones (writeCache), so upgrades do not pile caches up.
 */
export function cacheFileFor(bundle: string, dir: string): string {
  const { size, mtimeMs } = statSync(bundle);
  const build = [size, mtimeMs, process.version, process.arch].join('\0');
  return path.join(dir, `${shortHash(bundle)}-${shortHash(build)}.bin`);
}

type EnableCompileCache = (dir: string) => unknown;

/** A bundle compiled with the cache in `cacheFile`, when V8 accepted it. */
export interface CompiledBundle {
  script: Script;
  /** No cache was there or V8 refused it: one should be written once the bundle has run. */
  stale: boolean;
}

export function compileBundle(bundle: string, cacheFile: string): CompiledBundle {
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    // No cache yet (or unreadable): compile, and write one later.
  }
  const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), {
    filename: bundle,
    cachedData,
    // Lets the bundle's `import()` (of @dualstore/http, for `serve`) resolve as a file's would.
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  return { script, stale: cachedData === undefined || script.cachedDataRejected === true };
}

/** Run a compiled CommonJS bundle as the module `bundle`. */
export function runCompiled(script: Script, bundle: string): void {
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  const module = { exports: {}, filename: bundle, id: bundle };
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
}

/** Load and run a CommonJS bundle, with a code cache when one can be kept. */
export function runBundle(bundle: string, env: Env = process.env): void {
  const dir = compileCacheDir(env);
  if (dir === undefined) {
    createRequire(bundle)(bundle);
    return;
  }
  const enableCompileCache = (Module as unknown as { enableCompileCache?: EnableCompileCache }).enableCompileCache;
  if (enableCompileCache) {
    enableCompileCache(dir);
    createRequire(bundle)(bundle);
    return;
  }
  const cacheFile = cacheFileFor(bundle, dir);
  const { script, stale } = compileBundle(bundle, cacheFile);
  // At exit, so the cache also holds what the command compiled lazily.
  if (stale) process.once('exit', () => writeCache(cacheFile, script.createCachedData()));
  runCompiled(script, bundle);
}

/** Write atomically (another process may be reading it); a cache that cannot be written is only a slower next start. */
export function writeCache(file: string, data: Buffer): void {
  const temporary = `${file}.${process.pid}.tmp`;
  const dir = path.dirname(file);
  const name = path.basename(file);
  // `<bundle path hash>-`: the caches of this install's other builds.
  const sameBundle = name.slice(0, name.indexOf('-') + 1);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temporary, data, { mode: 0o600 });
    renameSync(temporary, file);
    for (const other of readdirSync(dir)) {
      if (other !== name && other.startsWith(sameBundle) && other.endsWith('.bin')) {
        rmSync(path.join(dir, other), { force: true });
      }
    }
  } catch {
    // Read-only home, full disk: run without a cache.
  }
}
