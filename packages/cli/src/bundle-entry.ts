// SPDX-License-Identifier: GPL-3.0-or-later
// The entry of `dist/dualstore.cjs`, the single-file bundle the bin runs (scripts/bundle.ts):
// everything a command needs except @dualstore/http, which only `serve` and `hooks test` load.

import { main } from './process-main.js';

void main(process.argv.slice(2));
