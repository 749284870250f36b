"""The rate-limit contract (GCRA), run against every adapter: in-process and Redis.

Redis runs against the server named by ``HELIOS_TEST_REDIS_URL`` (the shared ``redis_url``
fixture: skipped when unset, failed with ``HELIOS_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import math
import socket
import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helios.adapters.memory.limits import InMemoryRateLimiter
from helios.adapters.redis.connection import connect
from helios.adapters.redis.rate_limit import RedisRateLimiter
from helios.ports.rate_limit import Decision, LimiterUnavailable, RateLimiter

TIMEOUT_S = 2.0
"""Generous for a loaded CI machine: these tests are about agreement, not the production
fail-open timeout (0.25 s), which the closed-port tests exercise."""

T0 = 1_767_225_600_000  # a realistic epoch in ms: the arithmetic must stay exact at this size


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield InMemoryRateLimiter()
        return
    client = connect(request.getfixturevalue("redis_url"), timeout_s=TIMEOUT_S)
    try:
        yield RedisRateLimiter(client)
    finally:
        await client.aclose()


def _key() -> str:
    return f"tenant-{uuid.uuid4().hex}"


@pytest.mark.anyio
async def test_a_key_at_rest_takes_its_burst_at_once_then_refuses(limiter: RateLimiter) -> None:
    """Five requests at one instant pass with a falling `remaining`; the sixth is refused."""
    key = _key()
    decisions = [await limiter.check(key=key, rate_per_s=10, burst=5, now_ms=T0) for _ in range(6)]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    assert all(d.allowed and d.retry_after_ms == 0 for d in decisions[:5])
    assert decisions[5] == Decision(allowed=False, retry_after_ms=100, remaining=0)


@pytest.mark.anyio
async def test_a_refused_request_may_retry_exactly_after_retry_after(limiter: RateLimiter) -> None:
    """Retry-After is neither too early nor later than needed."""
    key = _key()
    await limiter.check(key=key, rate_per_s=10, burst=1, now_ms=T0)
    refused = await limiter.check(key=key, rate_per_s=10, burst=1, now_ms=T0 + 30)
    assert refused == Decision(allowed=False, retry_after_ms=70, remaining=0)
    early = await limiter.check(key=key, rate_per_s=10, burst=1, now_ms=T0 + 99)
    assert not early.allowed
    assert early.retry_after_ms == 1
    on_time = await limiter.check(key=key, rate_per_s=10, burst=1, now_ms=T0 + 100)
    assert on_time.allowed


@pytest.mark.anyio
async def test_refused_requests_consume_nothing(limiter: RateLimiter) -> None:
    """Hammering a limited key does not push its next allowance further away."""
    key = _key()
    await limiter.check(key=key, rate_per_s=10, burst=1, now_ms=T0)
    for offset in range(0, 100, 5):
        assert not (
            await limiter.check(key=key, rate_per_s=10, burst=1, now_ms=T0 + offset)
        ).allowed
    assert (await limiter.check(key=key, rate_per_s=10, burst=1, now_ms=T0 + 100)).allowed


@pytest.mark.anyio
async def test_after_the_burst_the_sustained_rate_passes_one_per_interval(
    limiter: RateLimiter,
) -> None:
    """At 4/s, one request every 250 ms passes forever; one in between is refused."""
    key = _key()
    for _ in range(3):
        await limiter.check(key=key, rate_per_s=4, burst=3, now_ms=T0)
    for step in range(1, 21):
        now = T0 + step * 250
        assert (await limiter.check(key=key, rate_per_s=4, burst=3, now_ms=now)).allowed
        assert not (await limiter.check(key=key, rate_per_s=4, burst=3, now_ms=now + 1)).allowed


@pytest.mark.anyio
async def test_a_long_idle_key_gets_its_burst_back_and_no_more(limiter: RateLimiter) -> None:
    """Idle time refills up to `burst`, never beyond it."""
    key = _key()
    for _ in range(2):
        await limiter.check(key=key, rate_per_s=1, burst=2, now_ms=T0)
    later = T0 + 3_600_000
    results = [
        (await limiter.check(key=key, rate_per_s=1, burst=2, now_ms=later)).allowed
        for _ in range(3)
    ]
    assert results == [True, True, False]


@pytest.mark.anyio
async def test_cost_counts_several_units_at_once(limiter: RateLimiter) -> None:
    """A batch of three uses three units; the next batch waits for the missing one."""
    key = _key()
    first = await limiter.check(key=key, rate_per_s=10, burst=5, now_ms=T0, cost=3)
    assert first == Decision(allowed=True, retry_after_ms=0, remaining=2)
    second = await limiter.check(key=key, rate_per_s=10, burst=5, now_ms=T0, cost=3)
    assert second == Decision(allowed=False, retry_after_ms=100, remaining=2)
    third = await limiter.check(key=key, rate_per_s=10, burst=5, now_ms=T0 + 100, cost=3)
    assert third == Decision(allowed=True, retry_after_ms=0, remaining=0)


@pytest.mark.anyio
async def test_cost_zero_reports_without_consuming(limiter: RateLimiter) -> None:
    """A zero-cost check tells the remaining allowance and leaves it as it was."""
    key = _key()
    await limiter.check(key=key, rate_per_s=10, burst=5, now_ms=T0, cost=2)
    for _ in range(3):
        peek = await limiter.check(key=key, rate_per_s=10, burst=5, now_ms=T0, cost=0)
        assert peek == Decision(allowed=True, retry_after_ms=0, remaining=3)


@pytest.mark.anyio
async def test_fractional_rates_space_requests_by_their_interval(limiter: RateLimiter) -> None:
    """At 0.5/s the interval is 2 s; at 3/s it is 333.333 ms, rounded to the microsecond."""
    slow = _key()
    await limiter.check(key=slow, rate_per_s=0.5, burst=1, now_ms=T0)
    refused = await limiter.check(key=slow, rate_per_s=0.5, burst=1, now_ms=T0)
    assert refused.retry_after_ms == 2000
    fast = _key()
    await limiter.check(key=fast, rate_per_s=3, burst=1, now_ms=T0)
    assert (await limiter.check(key=fast, rate_per_s=3, burst=1, now_ms=T0)).retry_after_ms == 334
    assert not (await limiter.check(key=fast, rate_per_s=3, burst=1, now_ms=T0 + 333)).allowed
    assert (await limiter.check(key=fast, rate_per_s=3, burst=1, now_ms=T0 + 334)).allowed


@pytest.mark.anyio
async def test_keys_are_limited_independently(limiter: RateLimiter) -> None:
    """Exhausting one tenant's limit leaves another's untouched."""
    first, second = _key(), _key()
    await limiter.check(key=first, rate_per_s=1, burst=1, now_ms=T0)
    assert not (await limiter.check(key=first, rate_per_s=1, burst=1, now_ms=T0)).allowed
    assert (await limiter.check(key=second, rate_per_s=1, burst=1, now_ms=T0)).allowed


@pytest.mark.anyio
async def test_concurrent_checks_never_admit_more_than_the_burst(limiter: RateLimiter) -> None:
    """Fifty simultaneous requests against a burst of ten: exactly ten pass."""
    key = _key()
    results: list[bool] = []

    async def one() -> None:
        decision = await limiter.check(key=key, rate_per_s=1, burst=10, now_ms=T0)
        results.append(decision.allowed)

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(one)
    assert results.count(True) == 10


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("rate_per_s", "burst", "cost"),
    [(0, 1, 1), (-1, 1, 1), (math.nan, 1, 1), (math.inf, 1, 1), (1, 0, 1), (1, 2, 3), (1, 2, -1)],
)
async def test_impossible_limits_are_refused(
    limiter: RateLimiter, rate_per_s: float, burst: int, cost: int
) -> None:
    """A rate that is not positive and finite, an empty burst or a cost above it is a bug."""
    with pytest.raises(ValueError, match=r"rate_per_s|burst|cost"):
        await limiter.check(key=_key(), rate_per_s=rate_per_s, burst=burst, now_ms=T0, cost=cost)


# --- laws, for every adapter --------------------------------------------------------------------

# Many zero gaps: time held still is where bursts are exhausted and refusals happen.
gaps_ms = st.one_of(st.just(0), st.integers(min_value=0, max_value=700))
arrivals = st.lists(
    st.tuples(gaps_ms, st.integers(min_value=0, max_value=3)),
    min_size=1,
    max_size=40,
)


@pytest.mark.anyio
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrivals=arrivals,
    rate_per_s=st.sampled_from([0.5, 1.0, 3.0, 7.5, 10.0, 120.0]),
    burst=st.integers(min_value=3, max_value=6),
)
async def test_no_window_admits_more_than_burst_plus_rate_times_its_length(
    limiter: RateLimiter, arrivals: list[tuple[int, int]], rate_per_s: float, burst: int
) -> None:
    """Between any two admitted requests, admitted units <= burst + elapsed * rate."""
    key = _key()
    interval_us = round(1_000_000 / rate_per_s)
    now = T0
    admitted: list[tuple[int, int]] = []
    for gap_ms, cost in arrivals:
        now += gap_ms
        decision = await limiter.check(key=key, rate_per_s=rate_per_s, burst=burst, now_ms=now,
                                       cost=cost)  # fmt: skip
        if decision.allowed:
            admitted.append((now, cost))
        else:
            assert decision.retry_after_ms > 0
    for i, (start, _) in enumerate(admitted):
        total = 0
        for end, cost in admitted[i:]:
            total += cost
            assert total <= burst + ((end - start) * 1000) // interval_us


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    arrivals=arrivals,
    # Rates whose interval is not whole milliseconds exercise the rounding of retry_after_ms.
    rate_per_s=st.one_of(
        st.sampled_from([0.3, 3.0, 7.0, 933.4667]),
        st.floats(min_value=0.01, max_value=5000, allow_nan=False),
    ),
    burst=st.integers(min_value=3, max_value=50),
)
@pytest.mark.anyio
async def test_redis_and_memory_limiters_agree_on_every_decision(
    redis_url: str, arrivals: list[tuple[int, int]], rate_per_s: float, burst: int
) -> None:
    """The Lua script and the Python arithmetic give identical decisions for any sequence."""
    memory = InMemoryRateLimiter()
    client = connect(redis_url, timeout_s=TIMEOUT_S)
    try:
        shared = RedisRateLimiter(client)
        key = _key()
        now = T0
        for gap_ms, cost in arrivals:
            now += gap_ms
            expected = await memory.check(key=key, rate_per_s=rate_per_s, burst=burst,
                                          now_ms=now, cost=cost)  # fmt: skip
            actual = await shared.check(key=key, rate_per_s=rate_per_s, burst=burst,
                                        now_ms=now, cost=cost)  # fmt: skip
            assert actual == expected
    finally:
        await client.aclose()


# --- an unreachable Redis ------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.anyio
async def test_an_unreachable_redis_raises_limiter_unavailable() -> None:
    """The API can fail open only if the adapter says, in port terms, that it is down."""
    client = connect(f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        with anyio.fail_after(5):
            with pytest.raises(LimiterUnavailable):
                await RedisRateLimiter(client).check(key="k", rate_per_s=1, burst=1, now_ms=T0)
    finally:
        await client.aclose()
