#!/usr/bin/env node
// SPDX-License-Identifier: GPL-3.0-or-later
require('../dist/launch.cjs');
