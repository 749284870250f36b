"""GCRA rate limiting in Redis: one Lua script, one round trip, atomic across API instances."""

from __future__ import annotations

import redis.asyncio

from helios.adapters.redis.connection import UNAVAILABLE_ERRORS
from helios.ports.rate_limit import (
    Decision,
    LimiterUnavailable,
    emission_interval_us,
    validate_limits,
)

_EXPIRY_GRACE_MS = 60_000
"""Kept past its logical expiry; harmless: a stale TAT counts as "at rest"."""

# The same integer arithmetic as helios.adapters.memory.limits.gcra, in microseconds.
# The time comes from the caller (ARGV[1]), never from Redis TIME: decisions are reproducible
# in tests, and the script stays deterministic for replication.
# Integers are written with %d: Lua's default number formatting keeps only 14 digits.
_GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local tolerance = burst * interval
local new_tat = tat + cost * interval
local allow_at = new_tat - tolerance
if allow_at > now then
  local remaining = math.max(0, math.floor((now - (tat - tolerance)) / interval))
  return {0, math.ceil((allow_at - now) / 1000), remaining}
end
if cost > 0 then
  -- The key may vanish once the bucket is full again (a missing TAT means "at rest"); the
  -- grace keeps it a while longer because Redis expires by its own clock, which can run ahead
  -- of the callers' clocks (skewed instances, or tests that hold time still).
  local ttl_ms = math.ceil((new_tat - now) / 1000) + tonumber(ARGV[5])
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', string.format('%d', ttl_ms))
end
return {1, 0, math.floor((now - allow_at) / interval)}
"""


class RedisRateLimiter:
    """GCRA per key in Redis; implements ``helios.ports.rate_limit.RateLimiter``."""

    def __init__(self, client: redis.asyncio.Redis, *, prefix: str = "helios:rl:") -> None:
        self._prefix = prefix
        self._script = client.register_script(_GCRA)

    async def check(
        self, *, key: str, rate_per_s: float, burst: int, now_ms: int, cost: int = 1
    ) -> Decision:
        """Admit or refuse a request; see ``RateLimiter.check``.

        Raises:
            ValueError: the limits are invalid (see ``validate_limits``).
            LimiterUnavailable: Redis could not be reached or did not answer in time.
        """
        validate_limits(rate_per_s=rate_per_s, burst=burst, cost=cost)
        args = [now_ms * 1000, emission_interval_us(rate_per_s), burst, cost, _EXPIRY_GRACE_MS]
        try:
            allowed, retry_after_ms, remaining = await self._script(
                keys=[self._prefix + key], args=args
            )
        except UNAVAILABLE_ERRORS as error:
            raise LimiterUnavailable(f"rate limiter unreachable: {error}") from error
        return Decision(
            allowed=bool(allowed), retry_after_ms=int(retry_after_ms), remaining=int(remaining)
        )
