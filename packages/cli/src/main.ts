// SPDX-License-Identifier: GPL-3.0-or-later
// The no-build entry: `node --conditions=@dualstore/source --import tsx packages/cli/src/main.ts`
// runs the sources directly, so this module starts the CLI when it is the process entry. The bin
// runs the bundle instead (bundle-entry.ts, through launch.ts).

import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { main } from './process-main.js';

export { main };

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
