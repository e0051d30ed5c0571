// SPDX-License-Identifier: GPL-3.0-or-later
// The browser budget of @dualstore/sse-client (DESIGN §1, issue 4): its entry bundled for a
// browser (esbuild, minified ESM) must import no Node built-in and stay within 6 KB min+gzip.
// Run by test/client/size.test.ts (so `pnpm test` checks it) and runnable alone:
// `node scripts/check-client-size.mjs`.
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The budget: 6 KiB of minified, gzipped JavaScript. */
export const CLIENT_SIZE_BUDGET = 6144;

export const CLIENT_ENTRY = fileURLToPath(new URL('../packages/dualstore-sse-client/src/index.ts', import.meta.url));

const NODE_BUILTINS = [...builtinModules, ...builtinModules.map((name) => `node:${name}`)];

/**
 * Bundle the client's entry as a browser would get it. Node built-ins are marked external rather
 * than failing the build, so the check can name every one that slipped in.
 * @returns the minified code, its gzip size, and the Node built-ins it imports.
 */
export async function bundleClient() {
  const result = await build({
    entryPoints: [CLIENT_ENTRY],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    target: 'es2022',
    write: false,
    metafile: true,
    external: NODE_BUILTINS,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  const nodeImports = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((entry) => entry.external === true)
    .map((entry) => entry.path);
  return { code, minBytes: Buffer.byteLength(code), gzipBytes: gzipSync(code, { level: 9 }).length, nodeImports };
}

/** The problems with the current bundle; empty when it is within budget. */
export async function checkClientSize() {
  const bundle = await bundleClient();
  const problems = [];
  if (bundle.nodeImports.length > 0) {
    problems.push(`the browser bundle imports Node built-ins: ${bundle.nodeImports.join(', ')}`);
  }
  if (bundle.gzipBytes > CLIENT_SIZE_BUDGET) {
    problems.push(`the browser bundle is ${bundle.gzipBytes} bytes min+gzip; the budget is ${CLIENT_SIZE_BUDGET}`);
  }
  return { ...bundle, problems };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { minBytes, gzipBytes, problems } = await checkClientSize();
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  console.log(
    `@dualstore/sse-client browser bundle: ${minBytes} bytes minified, ${gzipBytes} bytes min+gzip (budget ${CLIENT_SIZE_BUDGET})`,
  );
}
