#!/usr/bin/env bash
# Run Helios on its embedded default (one process, SQLite files under .helios/, nothing else
# to install) with demo traffic in the real source formats.
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
exec "$VENV/bin/helios" demo "$@"
