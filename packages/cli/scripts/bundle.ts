// SPDX-License-Identifier: GPL-3.0-or-later
// Bundles what the bin runs (`pnpm --filter @dualstore/cli build`, after tsc), built from the
// workspace sources:
//
//   dist/launch.cjs         the bin's target: runs dualstore.cjs with a code cache
//   dist/dualstore.cjs      every command in one minified CommonJS file (one read, one compile,
//                           cacheable by V8); @dualstore/http stays external, loaded by `serve`
//                           and `hooks test` only, so a push never reads Fastify
//   dist/*-worker.js        the search workers, which local `search` starts by file name
//
// `pnpm bench cli` times a push through the same build. Run directly to build into dist/:
// `node --import tsx scripts/bundle.ts [outdir]`.

import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const searchSources = path.resolve(packageDir, '../store-sqlite/src/search');

const COMMON: BuildOptions = {
  bundle: true,
  // V8 parses and compiles less; the code cache is smaller too.
  minify: true,
  platform: 'node',
  target: 'node20',
  conditions: ['@dualstore/source'],
  logLevel: 'error',
};

/**
 * better-sqlite3 finds its addon through the `bindings` package, which searches from the calling
 * file's location; inside a bundle that is the bundle, so the addon is required from the package
 * itself instead (a direct dependency of @dualstore/cli for that reason).
 */
const sqliteAddon: Plugin = {
  name: 'better-sqlite3-addon',
  setup(builder) {
    builder.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'sqlite-addon' }));
    builder.onLoad({ filter: /.*/, namespace: 'sqlite-addon' }, () => ({
      contents: "module.exports = () => require('better-sqlite3/build/Release/better_sqlite3.node');",
      loader: 'js',
    }));
    builder.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * commander requires child_process at load for executable subcommands, which DualStore does not
 * use; loading it (with net and dgram) costs a push several ms, so commander gets it on first use.
 */
const lazyChildProcess: Plugin = {
  name: 'lazy-child-process',
  setup(builder) {
    builder.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]commander[\\/]/.test(args.importer)
        ? { path: 'child_process', namespace: 'lazy-child-process' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'lazy-child-process' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};

/** Build the launcher, the CLI bundle and the search workers into `outdir`; returns the bundle. */
export async function bundleCli(outdir: string = path.join(packageDir, 'dist')): Promise<string> {
  const bundle = path.join(outdir, 'dualstore.cjs');
  await Promise.all([
    build({
      ...COMMON,
      format: 'cjs',
      entryPoints: [path.join(packageDir, 'src/launch.ts')],
      outfile: path.join(outdir, 'launch.cjs'),
    }),
    build({
      ...COMMON,
      format: 'cjs',
      entryPoints: [path.join(packageDir, 'src/bundle-entry.ts')],
      outfile: bundle,
      external: ['@dualstore/http'],
      plugins: [sqliteAddon, lazyChildProcess],
      // The store starts its search workers by URL relative to its own module: in the bundle
      // that is the bundle's directory, where the worker bundles are written.
      define: { 'import.meta.url': '__bundle_url' },
      banner: { js: 'var __bundle_url = require("node:url").pathToFileURL(__filename).href;' },
      // `import.meta.resolve` is only reached when running TypeScript sources.
      logOverride: { 'empty-import-meta': 'silent' },
    }),
    build({
      ...COMMON,
      format: 'esm',
      entryPoints: ['indexer-worker', 'searcher-worker'].map((name) => path.join(searchSources, `${name}.ts`)),
      outdir,
      external: ['better-sqlite3'],
    }),
  ]);
  return bundle;
}

/**
 * Lay the package out under `dir` as an install would (`bin/`, `dist/`, and the two dependencies
 * the bundle loads at run time in `node_modules/`): what the benchmark times and the bin test runs.
 * @returns the bin
 */
export async function installCli(dir: string): Promise<string> {
  await bundleCli(path.join(dir, 'dist'));
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  const bin = path.join(dir, 'bin', 'dualstore.cjs');
  copyFileSync(path.join(packageDir, 'bin', 'dualstore.cjs'), bin);
  const packageRequire = createRequire(path.join(packageDir, 'package.json'));
  mkdirSync(path.join(dir, 'node_modules', '@dualstore'), { recursive: true });
  const link = (name: string, target: string) => symlinkSync(target, path.join(dir, 'node_modules', name), 'dir');
  link('better-sqlite3', path.dirname(packageRequire.resolve('better-sqlite3/package.json')));
  link('@dualstore/http', path.resolve(packageDir, '../dualstore-http'));
  return bin;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdir = process.argv[2] === undefined ? undefined : path.resolve(process.argv[2]);
  const bundle = await bundleCli(outdir);
  process.stdout.write(`bundled ${path.relative(process.cwd(), bundle)}\n`);
}
