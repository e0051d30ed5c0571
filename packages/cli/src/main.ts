// SPDX-License-Identifier: GPL-3.0-or-later
// The process entry: real stdio and environment in, exit code out. bin/dualstore.js calls `main`
// on the built file; `node --conditions=@dualstore/source --import tsx packages/cli/src/main.ts`
// runs the sources directly (no build step), so it also starts itself when it is the entry.

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { run } from './run.js';

/** How long a finished command waits for stray handles before leaving anyway. */
const EXIT_GRACE_MS = 2000;

/** Run the CLI for this process and set its exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  // `dualstore tail | head -1`: the reader left, which ends a follow normally (as for `tail -f`)
  // instead of an unhandled EPIPE stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const code = await run(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env });
  process.exitCode = code;
  // Everything is closed by now and the process normally ends at once; an unref'd timer only
  // fires if something left a handle open, so a finished command never hangs.
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

function isEntry(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntry()) await main();
