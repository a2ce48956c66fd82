#!/usr/bin/env bash
# Makes a fresh checkout runnable: Debian's nats-server on PATH, node_modules installed, dist/ built.
# Idempotent and quick when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "parley: installing Debian's nats-server package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends nats-server >/dev/null
  else
    echo "parley: nats-server is not on PATH; install it (Debian: sudo apt-get install nats-server) or set nats.url" >&2
    exit 1
  fi
fi

# The Postgres source's integration tests (test/integration/postgres-*.test.ts) start throwaway clusters with
# Debian's PostgreSQL server binaries (initdb, postgres); Parley itself only needs a reachable database.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "parley: installing Debian's postgresql package (for the Postgres source tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "parley: PostgreSQL is not installed; the Postgres source tests need it (Debian: sudo apt-get install postgresql)" >&2
  fi
fi

# `npm ci`: exactly the locked versions, and a lock that does not match package.json is an error instead of
# being rewritten (a fresh checkout stays clean). Checked on a fresh clone with npm 11 on Linux x64. Should
# `npm ci` ever refuse the lock as out of sync for a platform's optional packages (npm 11 may leave other
# platforms' biome and msgpackr-extract binaries out of it, npm/cli#8320), `npm install --no-audit --no-fund`
# installs the locked versions too, but may rewrite package-lock.json: commit the lock it writes.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >&2
fi

if [ ! -f dist/parley.mjs ] || [ ! -f dist/inbox/inbox.js ] || [ -n "$(find src actors bench -newer dist/parley.mjs \( -name '*.ts' -o -path 'src/http/inbox/client/*' \) -not -path '*/node_modules/*' -print -quit)" ]; then
  node scripts/build.mjs
fi
