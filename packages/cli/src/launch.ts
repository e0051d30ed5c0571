// SPDX-License-Identifier: GPL-3.0-or-later
// The entry of `dist/launch.cjs`, which the bin requires: runs the bundle beside it with a code
// cache (compile-cache.ts). Kept apart from the bundle so the bundle itself can be cached.

import path from 'node:path';
import { runBundle } from './compile-cache.js';

runBundle(path.join(__dirname, 'dualstore.cjs'));
