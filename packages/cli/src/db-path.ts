// SPDX-License-Identifier: GPL-3.0-or-later
// Where local mode finds the SQLite file. The rule is @dualstore/http's `defaultDbPath`, repeated
// here because importing @dualstore/http loads Fastify, which a `push` must not pay for; a test
// holds the two to the same answers.

import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * `$XDG_DATA_HOME/dualstore/dualstore.sqlite`, or `~/.local/share/dualstore/dualstore.sqlite` when
 * XDG_DATA_HOME is unset or relative (the XDG spec says to ignore a relative one).
 */
export function defaultDbPath(env: Readonly<Record<string, string | undefined>>, homeDir: string = homedir()): string {
  const xdg = env.XDG_DATA_HOME;
  const dataHome = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homeDir, '.local', 'share');
  return join(dataHome, 'dualstore', 'dualstore.sqlite');
}
