"""In-process rate limiter and idempotency store: one process, no server.

For the embedded single-process mode and for tests. State lives in dicts guarded by a
``threading.Lock``: no ``await`` happens while it is held, so it serialises both coroutines and
threads (an API served with worker threads) without blocking an event loop for long. Entries
past their expiry are swept every ``_SWEEP_EVERY`` calls so memory stays bounded by the keys
active within their windows.
"""

from __future__ import annotations

import threading

import attrs

from helios.ports.idempotency import (
    DEFAULT_LEASE_MS,
    DEFAULT_RETENTION_MS,
    Begin,
    InFlight,
    Mismatch,
    Replay,
    Started,
    StoredResponse,
)
from helios.ports.rate_limit import Decision, emission_interval_us, validate_limits

_SWEEP_EVERY = 4096


def gcra(
    *, tat_us: int | None, now_us: int, interval_us: int, burst: int, cost: int
) -> tuple[Decision, int | None]:
    """One GCRA step: the decision and the new TAT to store (None: store nothing).

    The Redis adapter's script performs the same integer arithmetic; the contract tests hold
    both to the same answers.
    """
    tat = now_us if tat_us is None else max(tat_us, now_us)
    tolerance = burst * interval_us
    new_tat = tat + cost * interval_us
    allow_at = new_tat - tolerance
    if allow_at > now_us:
        remaining = max(0, (now_us - (tat - tolerance)) // interval_us)
        retry_after_ms = -(-(allow_at - now_us) // 1000)  # ceiling: never retry too early
        return Decision(allowed=False, retry_after_ms=retry_after_ms, remaining=remaining), None
    remaining = (now_us - allow_at) // interval_us
    return Decision(allowed=True, retry_after_ms=0, remaining=remaining), new_tat


class InMemoryRateLimiter:
    """GCRA per key in a dict; implements ``helios.ports.rate_limit.RateLimiter``."""

    def __init__(self) -> None:
        self._tat_us: dict[str, int] = {}
        self._lock = threading.Lock()
        self._calls = 0

    async def check(
        self, *, key: str, rate_per_s: float, burst: int, now_ms: int, cost: int = 1
    ) -> Decision:
        """Admit or refuse a request; see ``RateLimiter.check``.

        Raises:
            ValueError: the limits are invalid (see ``validate_limits``).
        """
        validate_limits(rate_per_s=rate_per_s, burst=burst, cost=cost)
        now_us = now_ms * 1000
        with self._lock:
            decision, new_tat = gcra(
                tat_us=self._tat_us.get(key),
                now_us=now_us,
                interval_us=emission_interval_us(rate_per_s),
                burst=burst,
                cost=cost,
            )
            if new_tat is not None:
                self._tat_us[key] = new_tat
            self._calls += 1
            if self._calls % _SWEEP_EVERY == 0:
                # A TAT in the past is the same as no entry: the key is at full burst.
                self._tat_us = {k: t for k, t in self._tat_us.items() if t > now_us}
        return decision


@attrs.frozen(kw_only=True)
class _Record:
    fingerprint: str
    expires_at_ms: int
    response: StoredResponse | None = None
    """None while in flight."""


class InMemoryIdempotencyStore:
    """Keys and fingerprints in dicts; implements ``helios.ports.idempotency.IdempotencyStore``."""

    def __init__(
        self, *, retention_ms: int = DEFAULT_RETENTION_MS, lease_ms: int = DEFAULT_LEASE_MS
    ) -> None:
        if retention_ms < 1 or lease_ms < 1:
            raise ValueError("retention_ms and lease_ms must be positive")
        self._retention_ms = retention_ms
        self._lease_ms = lease_ms
        self._records: dict[tuple[str, str], _Record] = {}
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._calls = 0

    async def begin(self, *, scope: str, key: str, fingerprint: str, now_ms: int) -> Begin:
        """Claim a key or report its fate; see ``IdempotencyStore.begin``."""
        with self._lock:
            self._maybe_sweep(now_ms)
            record = self._live(self._records.get((scope, key)), now_ms)
            if record is None:
                self._records[scope, key] = _Record(
                    fingerprint=fingerprint, expires_at_ms=now_ms + self._lease_ms
                )
                return Started()
            if record.fingerprint != fingerprint:
                return Mismatch()
            if record.response is None:
                return InFlight()
            return Replay(record.response)

    async def complete(
        self, *, scope: str, key: str, fingerprint: str, response: StoredResponse, now_ms: int
    ) -> None:
        """Store the response for the retention period; see ``IdempotencyStore.complete``."""
        with self._lock:
            self._records[scope, key] = _Record(
                fingerprint=fingerprint,
                expires_at_ms=now_ms + self._retention_ms,
                response=response,
            )

    async def abandon(self, *, scope: str, key: str) -> None:
        """Release an in-flight claim; see ``IdempotencyStore.abandon``."""
        with self._lock:
            record = self._records.get((scope, key))
            if record is not None and record.response is None:
                del self._records[scope, key]

    async def recently_seen(self, *, scope: str, fingerprint: str, now_ms: int) -> bool:
        """Whether a fingerprint is remembered; see ``IdempotencyStore.recently_seen``."""
        with self._lock:
            self._maybe_sweep(now_ms)
            expires_at = self._seen.get((scope, fingerprint))
            return expires_at is not None and expires_at > now_ms

    async def remember_seen(
        self, *, scope: str, fingerprint: str, window_ms: int, now_ms: int
    ) -> None:
        """Remember a fingerprint; see ``IdempotencyStore.remember_seen``.

        Raises:
            ValueError: ``window_ms`` is not positive.
        """
        if window_ms < 1:
            raise ValueError(f"window_ms must be positive, got {window_ms!r}")
        with self._lock:
            expires_at = self._seen.get((scope, fingerprint))
            if expires_at is None or expires_at <= now_ms:
                self._seen[scope, fingerprint] = now_ms + window_ms

    @staticmethod
    def _live(record: _Record | None, now_ms: int) -> _Record | None:
        return record if record is not None and record.expires_at_ms > now_ms else None

    def _maybe_sweep(self, now_ms: int) -> None:
        self._calls += 1
        if self._calls % _SWEEP_EVERY:
            return
        self._records = {k: r for k, r in self._records.items() if r.expires_at_ms > now_ms}
        self._seen = {k: t for k, t in self._seen.items() if t > now_ms}
