#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# README's start command (`npm start`): on a fresh machine (Node ≥ 20.19 and npm, nothing else)
# installs pnpm and the dependencies, then runs `dualstore serve` from the sources — no build
# step. Arguments go to `serve`: `npm start -- --port 8080`.
set -euo pipefail
cd "$(dirname "$0")/.."

# pnpm 10 through npm (11.x needs Node 22); pinned, as pnpm ignores engines when choosing.
if [ "$(pnpm --version 2>/dev/null || true)" != "10.34.9" ]; then
  npm install -g pnpm@10.34.9 >/dev/null
fi

# node-gyp must build better-sqlite3 against the installed Node headers, not download them.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
pnpm install --frozen-lockfile

# exec: the server becomes this process, so SIGINT/SIGTERM reach it directly.
exec node --conditions=@dualstore/source --import tsx packages/cli/src/main.ts serve "$@"
