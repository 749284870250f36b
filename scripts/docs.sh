#!/usr/bin/env bash
# Build the documentation site into site/, strictly: a broken link, a missing page or any other
# MkDocs warning fails the build. Works offline once its tools are cached; serves no CDN asset.
#
#   bash scripts/docs.sh            # build site/ (open site/index.html in a browser)
#   bash scripts/docs.sh serve      # live preview on http://127.0.0.1:8000
#
# Uses its own virtualenv (.venv-docs: MkDocs Material, pinned) so the docs toolchain never
# touches the project's; the generated reference pages need the project itself (.venv).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PYTHON="${PYTHON:-python3}"
DOCS_VENV="$REPO/.venv-docs"
MKDOCS_MATERIAL="mkdocs-material==9.8.2"
MERMAID_VERSION="11.17.2"
MERMAID_SHA256="581ed7d74bd9048d0e3a91363927d72ef22942d7722546b27f7cc29e35390eb8"

say() { printf '[docs] %s\n' "$*"; }

# --- tools ------------------------------------------------------------------------------------
if [[ ! -x $DOCS_VENV/bin/mkdocs || $(cat "$DOCS_VENV/.stamp" 2>/dev/null) != "$MKDOCS_MATERIAL" ]]; then
    say "installing $MKDOCS_MATERIAL into .venv-docs"
    "$PYTHON" -m venv "$DOCS_VENV"
    "$DOCS_VENV/bin/pip" install --quiet --disable-pip-version-check "$MKDOCS_MATERIAL"
    echo "$MKDOCS_MATERIAL" > "$DOCS_VENV/.stamp"
fi
if [[ ! -x $REPO/.venv/bin/python ]]; then
    say "creating .venv with the project (for the generated references)"
    "$PYTHON" -m venv "$REPO/.venv"
    "$REPO/.venv/bin/pip" install --quiet --disable-pip-version-check -e .
fi

# Mermaid, from its npm package (never a CDN), checked against a known digest.
mermaid_cache="$REPO/.cache/mermaid-$MERMAID_VERSION/mermaid.min.js"
if [[ ! -f $mermaid_cache ]]; then
    say "fetching mermaid@$MERMAID_VERSION from the npm registry"
    scratch="$(mktemp -d)"
    (cd "$scratch" && npm pack --silent "mermaid@$MERMAID_VERSION" >/dev/null \
        && tar xzf "mermaid-$MERMAID_VERSION.tgz" package/dist/mermaid.min.js)
    mkdir -p "$(dirname "$mermaid_cache")"
    mv "$scratch/package/dist/mermaid.min.js" "$mermaid_cache"
    rm -rf "$scratch"
fi
echo "$MERMAID_SHA256  $mermaid_cache" | sha256sum --check --quiet \
    || { say "mermaid.min.js does not match its digest: delete $mermaid_cache and retry"; exit 1; }
mkdir -p docs/javascripts
cp "$mermaid_cache" docs/javascripts/mermaid.min.js

# --- pages ------------------------------------------------------------------------------------
say "generating the reference pages from the code"
PYTHONPATH="$REPO/src" HELIOS_LOG_LEVEL=warning "$REPO/.venv/bin/python" scripts/docs_reference.py

export NO_MKDOCS_2_WARNING=1
if [[ ${1:-} == serve ]]; then
    exec "$DOCS_VENV/bin/mkdocs" serve --strict
fi
say "building site/ (strict)"
# Never with -q: with --strict it would exit 0 on warnings.
"$DOCS_VENV/bin/mkdocs" build --strict --clean
say "built: open $REPO/site/index.html"
