// SPDX-License-Identifier: GPL-3.0-or-later
// The process side of the CLI: real stdio and environment in, exit code out. Shared by the
// no-build entry (main.ts) and the bundle the bin runs (bundle-entry.ts).

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
