"""Per-key rate limiting with the generic cell rate algorithm (GCRA).

GCRA keeps one number per key, the *theoretical arrival time* (TAT): when the key would be
idle again had every allowed request been spaced exactly ``1 / rate_per_s`` apart. A request
of cost ``n`` at ``now`` is allowed when ``max(TAT, now) + n * interval - burst * interval``
is not after ``now``; allowing it advances the TAT by ``n * interval``. A key at rest can take
``burst`` units at once and then ``rate_per_s`` units per second; unlike a fixed window there
is no boundary at which twice the rate gets through.

Time is passed in (``now_ms``, epoch milliseconds). Adapters decide from it alone, never from
their own clock (the Redis adapter does not call Redis ``TIME``): tests are deterministic and
every API instance applies the same arithmetic. The API passes its wall clock, so instances
whose clocks differ by a few milliseconds see limits shifted by as much, which is harmless.

Failure policy: when the limiter cannot be reached (adapters raise ``LimiterUnavailable``) the
API fails **open** and accepts the request. Refusing alerts because a cache is down would turn a
Redis outage into lost pages; the queue behind the API absorbs the extra load.
"""

from __future__ import annotations

import math
from typing import Protocol

import attrs


class LimiterUnavailable(Exception):
    """The rate limiter cannot be reached or answered in time; the API lets the request in."""


@attrs.frozen(kw_only=True)
class Decision:
    """The limiter's answer for one request.

    ``retry_after_ms`` is 0 when allowed, else the wait until the same request would be
    allowed. ``remaining`` is how many more unit-cost requests would be allowed right now.
    """

    allowed: bool
    retry_after_ms: int
    remaining: int


class RateLimiter(Protocol):
    """Counts requests per key against a rate and a burst, atomically across callers."""

    async def check(
        self, *, key: str, rate_per_s: float, burst: int, now_ms: int, cost: int = 1
    ) -> Decision:
        """Admit or refuse a request of ``cost`` units for ``key`` at ``now_ms``.

        A refused request consumes nothing. ``cost=0`` only reports the state.

        Raises:
            ValueError: ``rate_per_s`` is not positive and finite, ``burst`` < 1, ``cost`` < 0, or
                ``cost`` > ``burst`` (such a request could never be allowed).
            LimiterUnavailable: the limiter could not be reached.
        """
        ...


def validate_limits(*, rate_per_s: float, burst: int, cost: int) -> None:
    """Reject parameters no adapter can honour; shared so every adapter refuses the same.

    Raises:
        ValueError: ``rate_per_s`` is not positive and finite, ``burst`` < 1, ``cost`` < 0,
            or ``cost`` > ``burst``.
    """
    if not (rate_per_s > 0 and math.isfinite(rate_per_s)):  # also refuses NaN
        raise ValueError(f"rate_per_s must be positive and finite, got {rate_per_s!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    if cost < 0:
        raise ValueError(f"cost must not be negative, got {cost!r}")
    if cost > burst:
        raise ValueError(f"cost {cost} exceeds burst {burst}: it could never be allowed")


def emission_interval_us(rate_per_s: float) -> int:
    """The spacing between unit requests, rounded to whole microseconds.

    Adapters compute in integer microseconds so that every one of them (Python ints, Redis's
    Lua doubles, exact below 2**53) reaches the same decision for the same inputs.
    """
    return max(1, round(1_000_000 / rate_per_s))
