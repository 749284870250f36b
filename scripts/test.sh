#!/usr/bin/env bash
# The one test command: bash scripts/test.sh [PYTEST ARGS...]
#
# Creates .venv and installs the project with its dev extra (again only when pyproject.toml
# changed), starts the test servers (scripts/services.sh), then runs ruff, mypy, import-linter,
# the strict docs build (scripts/docs.sh), builds and checks the web app (web/,
# scripts/build_app.sh), and runs pytest with every server required (a missing one fails, never
# skips) and the Hypothesis `ci` profile.
# Servers that were already running are left running; those started here are stopped on exit.
#
#   HYPOTHESIS_PROFILE=deep bash scripts/test.sh tests/property   # a longer property run
#   SKIP_LINT=1 SKIP_DOCS=1 SKIP_APP_BUILD=1 bash scripts/test.sh -x -k idempotency  # pytest only
#   bash scripts/test.sh -n 0 tests/unit/test_x.py   # one process (a debugger, -s output)
# pytest runs in HELIOS_TEST_PROCESSES processes (default 2, pytest-xdist), a test file's tests
# in the same one; each process is a test session of its own, with its own PostgreSQL database
# and Redis index (tests/services.py), so they share the servers safely.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
VENV="$REPO/.venv"
PYTHON="${PYTHON:-python3}"
T0=$SECONDS

section() { printf '\n==== %s (%ss) ====\n' "$*" "$((SECONDS - T0))"; }

# --- environment ------------------------------------------------------------------------------
section "python environment"
if [[ ! -x $VENV/bin/python ]]; then
    echo "creating $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi
# Keyed on pyproject.toml and the interpreter: an unchanged project skips the ~50 s install.
stamp_file="$VENV/.helios-dev-install"
want_stamp="$( (cat pyproject.toml; "$VENV/bin/python" --version) | sha256sum | cut -d' ' -f1)"
if [[ $(cat "$stamp_file" 2>/dev/null) != "$want_stamp" ]]; then
    echo "installing -e '.[dev]'"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
    echo "$want_stamp" > "$stamp_file"
else
    echo "dev install up to date"
fi

# --- servers ----------------------------------------------------------------------------------
section "test servers"
mapfile -t already_running < <(bash scripts/services.sh running)
stop_started_services() {
    local to_stop=()
    for name in postgres redis sqs smtp; do
        [[ " ${already_running[*]} " == *" $name "* ]] || to_stop+=("$name")
    done
    if ((${#to_stop[@]})); then
        section "stopping test servers started here: ${to_stop[*]}"
        bash scripts/services.sh stop "${to_stop[@]}" || true
    fi
}
trap stop_started_services EXIT
bash scripts/services.sh start
bash scripts/services.sh status
# shellcheck source=/dev/null
source .services/env

# --- checks -----------------------------------------------------------------------------------
lint_status=0
if [[ ${SKIP_LINT:-} != 1 ]]; then
    section "ruff check"
    "$VENV/bin/ruff" check src tests || lint_status=1
    section "mypy (strict: all of helios)"
    "$VENV/bin/mypy" || lint_status=1
    section "import-linter (layers, entry points through the composition root)"
    PYTHONPATH="$REPO/src" "$VENV/bin/lint-imports" --no-cache || lint_status=1
fi

if [[ ${SKIP_DOCS:-} != 1 ]]; then
    section "docs site (mkdocs --strict: a broken link or a missing page fails)"
    bash scripts/docs.sh || lint_status=1
fi

if [[ ${SKIP_APP_BUILD:-} != 1 ]]; then
    # The browser tests (tests/browser/app) need it; its own type check and unit tests run here.
    section "web app (web/: npm ci, types from the OpenAPI document, tsc, vite build, vitest)"
    PYTHON="$VENV/bin/python" bash scripts/build_app.sh
fi

section "pytest"
pytest_status=0
HELIOS_REQUIRE_SERVICES=1 HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}" \
    "$VENV/bin/python" -m pytest --timeout=600 --durations=15 \
    -n "${HELIOS_TEST_PROCESSES:-2}" --dist loadfile "$@" || pytest_status=$?

section "summary"
echo "lint: $([[ $lint_status == 0 ]] && echo ok || echo FAILED)   pytest exit code: $pytest_status"
# pytest's own code wins (5 = no test ran, which must fail too); else a lint failure fails.
if ((pytest_status != 0)); then exit "$pytest_status"; fi
exit "$lint_status"
