#!/usr/bin/env bash
# Run Helios on its embedded default (one process, SQLite files under .helios/, nothing else
# to install) with demo traffic in the real source formats; builds the responders' app at
# /app/ first when it is missing (needs npm), and prints its URL with a token to sign in with.
#
#   bash scripts/demo.sh                 # demo traffic, then keeps serving until Ctrl-C
#   bash scripts/demo.sh --duration 30   # stop by itself after 30 s
#   HELIOS_HTTP_PORT=9090 bash scripts/demo.sh
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VENV="$REPO/.venv"
if [[ ! -x $VENV/bin/helios ]]; then
    echo "==== installing Helios into $VENV (first run only, about a minute) ===="
    "${PYTHON:-python3}" -m venv "$VENV"
    log="$(mktemp)"
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e . >"$log" 2>&1; then
        cat "$log"
        exit 1
    fi
    rm -f "$log"
fi
# The responders' app (web/), built into the package once; without npm the API alone is served.
if [[ ! -f src/helios/apps/http/webapp/index.html ]]; then
    if command -v npm >/dev/null; then
        echo "==== building the responders' app (first run only) ===="
        PYTHON="$VENV/bin/python" SKIP_APP_TESTS=1 bash scripts/build_app.sh
    else
        echo "npm not found: the app at /app/ is not built (the API works)" >&2
    fi
fi
exec "$VENV/bin/helios" demo "$@"
