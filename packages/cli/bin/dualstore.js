#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
import('../dist/main.js').then(({ main }) => main(process.argv.slice(2)));
