# syntax=docker/dockerfile:1
# The one Helios image: every process (API, workers, followers, scheduler, admin, analytics)
# runs it with another command, e.g. `docker run IMAGE api` or `IMAGE worker ingest`.
#
#   docker build -t helios:0.1.0 .
#
# Stages: `web` builds the responder app when web/package.json exists (its output lands in the
# Python package's source tree), `build` makes the wheel and installs it into a virtualenv,
# `runtime` copies only that virtualenv onto a slim Python: no compiler, no Node, no pip cache.
# Base images are pinned by exact tag; pin them by digest too where your registry policy wants.

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- web: the responder app, built only when the repository has one ---------------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /src
# The whole (filtered, see .dockerignore) context: web/ may or may not exist, and its build
# writes into src/ (the Python package data the API serves).
COPY . .
RUN if [ -f web/package.json ]; then \
        npm ci --prefix web --no-audit --no-fund && npm run build --prefix web; \
    else \
        echo "no web/package.json: image without the responder app"; \
    fi

# --- build: the wheel, installed into a self-contained virtualenv -----------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY --from=web /src/src ./src
# Every dependency has a binary wheel for linux (psycopg[binary], google-re2, orjson, ...):
# nothing is compiled, and the runtime stage needs no build tools.
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/helios \
    && /opt/helios/bin/pip install --only-binary=:all: /wheels/helios-*.whl \
    && /opt/helios/bin/pip uninstall --yes pip setuptools \
    && /opt/helios/bin/helios --version

# --- runtime ----------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="helios" \
      org.opencontainers.image.description="Event-sourced alert deduplication, scoring and replay" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/helios/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HELIOS_DATA_DIR=/tmp/helios \
    HELIOS_LOG_FORMAT=json \
    HELIOS_HTTP_HOST=0.0.0.0 \
    HELIOS_HTTP_PORT=8080
RUN groupadd --system --gid 10001 helios \
    && useradd --system --uid 10001 --gid helios --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin helios
COPY --from=build /opt/helios /opt/helios
COPY docker/healthcheck.py /opt/helios/healthcheck.py
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
# The API answers GET /healthz; other processes are healthy while they run (the check looks at
# what PID 1 is, so one image serves every process kind).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "/opt/helios/healthcheck.py"]
ENTRYPOINT ["helios"]
CMD ["api"]
