#!/usr/bin/env bash
# Build the responders' web app (web/) into the Python package (src/helios/apps/http/webapp/),
# which Helios serves at /app/: npm ci from the lock file, the OpenAPI document from the app
# itself, its TypeScript types, a type check, the Vite build (it prints the JS sizes and fails
# over the first-load budget) and the unit tests.
#
#   bash scripts/build_app.sh              # everything
#   SKIP_APP_TESTS=1 bash scripts/build_app.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[[ -x $PYTHON ]] || PYTHON=python3
cd "$REPO/web"

command -v npm >/dev/null || { echo "npm is needed to build the app (Node 20 or later)" >&2; exit 2; }
# npm ci again only when the lock file changed since the last install.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    echo "== npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi
echo "== OpenAPI document from the app, and its TypeScript types"
PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" "$REPO/scripts/openapi_schema.py" > schema.json
npx openapi-typescript schema.json -o src/api.d.ts --silent
echo "== type check"
npx tsc --noEmit
echo "== build"
npx vite build --logLevel warn
node scripts/size.mjs
if [[ ${SKIP_APP_TESTS:-} != 1 ]]; then
    echo "== unit tests"
    npx vitest run --reporter=dot
fi
echo "built: $REPO/src/helios/apps/http/webapp (served at /app/)"
