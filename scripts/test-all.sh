#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine (Node 20 + npm, nothing else),
# then runs the whole suite: lint, typecheck, every test. README's test command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use, installed only when missing: strace (durability proof) and
# chromium (the real-browser client test, driven by playwright-core).
need=()
command -v strace >/dev/null 2>&1 || need+=(strace)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

# pnpm 10 through npm (11.x needs Node 22); pinned, as pnpm ignores engines when choosing.
if [ "$(pnpm --version 2>/dev/null || true)" != "10.34.9" ]; then
  npm install -g pnpm@10.34.9 >/dev/null
fi

# node-gyp must build better-sqlite3 against the installed Node headers, not download them.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
pnpm install --frozen-lockfile
pnpm test
