"""The Redis client the adapters share, and the driver errors that mean "unavailable"."""

from __future__ import annotations

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # includes BusyLoadingError (server still loading)
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica during failover
    OSError,
    TimeoutError,
)
"""Driver errors the adapters translate into their port's "unavailable" error."""


def connect(url: str, *, timeout_s: float = 0.25) -> redis.asyncio.Redis:
    """A client for the limiter and the idempotency store.

    Timeouts are short because both sit on the ingestion hot path and both have a policy for
    an unavailable store (fail open, or 503): waiting longer only delays that answer. No
    command is retried: a retry after a timeout could apply a script twice (consume a rate
    twice, or answer InFlight to the request that holds the key). Idle connections are
    pinged before reuse so a restarted server costs no failed request.
    """
    return redis.asyncio.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
