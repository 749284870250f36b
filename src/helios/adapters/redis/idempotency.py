"""Idempotency keys and content deduplication in Redis, each operation one atomic script.

A key's record is a hash: state (``inflight`` or ``done``), fp (body fingerprint), exp (expiry,
epoch ms) and, once done, the stored response. Decisions compare ``exp`` with the caller's
``now_ms``, never with Redis's clock, so tests can move time; Redis's own key expiry only
reclaims memory, so it is set a grace period later than the logical expiry (Redis's clock may run
ahead of the callers'; a record kept too long is harmless, one dropped too early is not).
"""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio

from helios.adapters.redis.connection import UNAVAILABLE_ERRORS
from helios.ports.idempotency import (
    DEFAULT_LEASE_MS,
    DEFAULT_RETENTION_MS,
    Begin,
    IdempotencyUnavailable,
    InFlight,
    Mismatch,
    Replay,
    Started,
    StoredResponse,
)

_EXPIRY_GRACE_MS = 60_000

# Integers are written with %d: Lua's default number formatting keeps only 14 digits.
_BEGIN = """
local now = tonumber(ARGV[2])
local rec = redis.call('HMGET', KEYS[1], 'exp', 'fp', 'state', 'status', 'body', 'headers')
local exp = tonumber(rec[1])
if exp and exp > now then
  if rec[2] ~= ARGV[1] then return {'mismatch'} end
  if rec[3] == 'done' then return {'replay', rec[4], rec[5], rec[6]} end
  return {'inflight'}
end
local lease = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'inflight', 'fp', ARGV[1],
           'exp', string.format('%d', now + lease))
redis.call('PEXPIRE', KEYS[1], string.format('%d', lease + tonumber(ARGV[4])))
return {'started'}
"""

_COMPLETE = """
local expires = tonumber(ARGV[2]) + tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'done', 'fp', ARGV[1], 'exp', string.format('%d', expires),
           'status', ARGV[4], 'body', ARGV[5], 'headers', ARGV[6])
redis.call('PEXPIRE', KEYS[1], string.format('%d', tonumber(ARGV[3]) + tonumber(ARGV[7])))
return 1
"""

# A completed record is never removed: abandon after complete must not reopen the key.
_ABANDON = """
if redis.call('HGET', KEYS[1], 'state') == 'inflight' then redis.call('DEL', KEYS[1]) end
return 1
"""

_SEEN = """
local exp = tonumber(redis.call('GET', KEYS[1]))
if exp and exp > tonumber(ARGV[1]) then return 1 end
return 0
"""

# A fingerprint still within its window keeps it: repeats never extend the window.
_REMEMBER = """
local now = tonumber(ARGV[1])
local exp = tonumber(redis.call('GET', KEYS[1]))
if exp and exp > now then return 0 end
local window = tonumber(ARGV[2])
local keep_ms = string.format('%d', window + tonumber(ARGV[3]))
redis.call('SET', KEYS[1], string.format('%d', now + window), 'PX', keep_ms)
return 1
"""


class RedisIdempotencyStore:
    """Implements ``helios.ports.idempotency.IdempotencyStore`` on Redis."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        retention_ms: int = DEFAULT_RETENTION_MS,
        lease_ms: int = DEFAULT_LEASE_MS,
        prefix: str = "helios:",
    ) -> None:
        if retention_ms < 1 or lease_ms < 1:
            raise ValueError("retention_ms and lease_ms must be positive")
        self._retention_ms = retention_ms
        self._lease_ms = lease_ms
        self._prefix = prefix
        self._begin = client.register_script(_BEGIN)
        self._complete = client.register_script(_COMPLETE)
        self._abandon = client.register_script(_ABANDON)
        self._seen = client.register_script(_SEEN)
        self._remember = client.register_script(_REMEMBER)

    def _key(self, kind: str, scope: str, name: str) -> str:
        # The scope's length makes the key unambiguous when scope or name contain ':'.
        return f"{self._prefix}{kind}:{len(scope)}:{scope}:{name}"

    async def _run(self, script: Any, key: str, *args: Any) -> Any:
        try:
            return await script(keys=[key], args=list(args))
        except UNAVAILABLE_ERRORS as error:
            raise IdempotencyUnavailable(f"idempotency store unreachable: {error}") from error

    async def begin(self, *, scope: str, key: str, fingerprint: str, now_ms: int) -> Begin:
        """Claim a key or report its fate; see ``IdempotencyStore.begin``.

        Raises:
            IdempotencyUnavailable: Redis could not be reached or did not answer in time.
        """
        reply = await self._run(
            self._begin,
            self._key("idem", scope, key),
            fingerprint,
            now_ms,
            self._lease_ms,
            _EXPIRY_GRACE_MS,
        )
        match reply[0]:
            case b"started":
                return Started()
            case b"mismatch":
                return Mismatch()
            case b"inflight":
                return InFlight()
            case b"replay":
                status, body, headers = reply[1], reply[2], reply[3]
                pairs = tuple((str(n), str(v)) for n, v in json.loads(headers))
                return Replay(StoredResponse(status=int(status), body=bytes(body), headers=pairs))
            case other:
                raise AssertionError(f"unexpected reply from the begin script: {other!r}")

    async def complete(
        self, *, scope: str, key: str, fingerprint: str, response: StoredResponse, now_ms: int
    ) -> None:
        """Store the response for the retention period; see ``IdempotencyStore.complete``.

        Raises:
            IdempotencyUnavailable: Redis could not be reached or did not answer in time.
        """
        headers = json.dumps([list(pair) for pair in response.headers])
        await self._run(
            self._complete,
            self._key("idem", scope, key),
            fingerprint,
            now_ms,
            self._retention_ms,
            response.status,
            response.body,
            headers,
            _EXPIRY_GRACE_MS,
        )

    async def abandon(self, *, scope: str, key: str) -> None:
        """Release an in-flight claim; see ``IdempotencyStore.abandon``.

        Raises:
            IdempotencyUnavailable: Redis could not be reached or did not answer in time.
        """
        await self._run(self._abandon, self._key("idem", scope, key))

    async def recently_seen(self, *, scope: str, fingerprint: str, now_ms: int) -> bool:
        """Whether a fingerprint is remembered; see ``IdempotencyStore.recently_seen``.

        Raises:
            IdempotencyUnavailable: Redis could not be reached or did not answer in time.
        """
        seen = await self._run(self._seen, self._key("seen", scope, fingerprint), now_ms)
        return bool(seen)

    async def remember_seen(
        self, *, scope: str, fingerprint: str, window_ms: int, now_ms: int
    ) -> None:
        """Remember a fingerprint; see ``IdempotencyStore.remember_seen``.

        Raises:
            ValueError: ``window_ms`` is not positive.
            IdempotencyUnavailable: Redis could not be reached or did not answer in time.
        """
        if window_ms < 1:
            raise ValueError(f"window_ms must be positive, got {window_ms!r}")
        await self._run(
            self._remember,
            self._key("seen", scope, fingerprint),
            now_ms,
            window_ms,
            _EXPIRY_GRACE_MS,
        )
