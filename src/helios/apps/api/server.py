"""How the API is served: uvicorn's settings, from ``ApiConfig``.

One place for ``helios api`` and ``helios up``, so both run with the same connection timeouts.
uvicorn bounds idle keep-alive connections itself; the time a request body may take is bounded
by the app (``middleware.BodyDeadline``), which answers 408 rather than dropping the connection.
"""

from __future__ import annotations

import math
from typing import Any

import uvicorn

from helios.apps.api.config import ApiConfig


def server_config(
    app: Any, *, host: str, port: int, api: ApiConfig, log_level: str = "info"
) -> uvicorn.Config:
    """uvicorn's configuration for serving ``app`` on ``host:port``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # the app logs one line per request itself
        lifespan="on",
        timeout_keep_alive=max(1, math.ceil(api.keep_alive_s)),
        timeout_graceful_shutdown=max(1, math.ceil(api.shutdown_grace_s)),
        # The client's address keys login lockouts: take X-Forwarded-For from the proxies only.
        proxy_headers=True,
        forwarded_allow_ips=api.trusted_proxies,
    )
