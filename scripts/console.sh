#!/usr/bin/env bash
# The web console (console/, docs/console.md): installs its npm packages
# exactly as console/package-lock.json pins them (again only when the lock
# changed), then builds it into console/dist, or runs its unit tests.
#   scripts/console.sh build   type check and build (make console, make run)
#   scripts/console.sh test    the unit tests (Vitest; make test)
set -euo pipefail
cd "$(dirname "$0")/../console"
# Vite 7 needs Node.js 20.19 or newer.
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "console: Node.js 20.19 or newer is needed to build the console (found $(node -v))" >&2
  exit 1
fi
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
case "${1:-build}" in
  build) npm run --silent build ;;
  test) npm run --silent test ;;
  *)
    echo "usage: scripts/console.sh build|test" >&2
    exit 64
    ;;
esac
