"""Idempotency keys and content deduplication for the ingestion API.

Two mechanisms, one port:

* **Explicit keys.** A source that sends an ``Idempotency-Key`` gets exactly one processing per
  key within the retention period. The API calls ``begin`` before doing anything; the result
  tells it what to do:

  ============  ======================================================================
  ``Started``   this request owns the key: process it, then ``complete`` (or, when it
                failed before anything was accepted, ``abandon`` so a retry may proceed)
  ``Replay``    the same key and the same body were already processed: answer with the
                stored response, process nothing
  ``Mismatch``  the same key came with a different body: answer 422, process nothing
  ``InFlight``  the same key and body are being processed right now: answer 409
  ============  ======================================================================

  ``Mismatch`` wins over ``InFlight``: a different body under a used key is a client error
  whether or not the first request has finished. An in-flight claim is a lease: if its owner
  dies without ``complete`` or ``abandon``, the key becomes free again after the lease.

* **Content deduplication** for sources that send no key, and the replay check of signatures:
  ``recently_seen`` asks whether a fingerprint (a body's hash, a signature) is remembered, and
  ``remember_seen`` remembers it for a window. The two are separate on purpose: **nothing is
  remembered as seen unless it was durably accepted.** The API asks first, enqueues, and only
  once the queue has durably taken the event does it remember the fingerprint. So a request
  whose enqueue fails (503) leaves nothing behind and its retry is processed afresh; and an
  identical request arriving while the first is still being enqueued is not told "duplicate" on
  the strength of an enqueue that may yet fail: it is enqueued too (both may be accepted, and
  the worker folds the repeated signals into the same alert). A crash between the enqueue and
  ``remember_seen`` errs the same, safe way: a duplicate envelope, never a lost one. A queue
  that can remember fingerprints in the commit that enqueues (``ports.queue.SendsOnce``, the
  embedded queue) does the content deduplication instead, with no such gap.

Time is always passed in (``now_ms``, epoch milliseconds) so that behaviour is deterministic
and testable; adapters make every decision from it, never from their own clock.

Failure policy when the store is unreachable (adapters raise ``IdempotencyUnavailable``):

* explicit key: the API fails **closed** and answers 503 with ``Retry-After``. Processing the
  request while ignoring its key could accept the same alert twice, which is what the client
  sent the key to prevent.
* content deduplication: the API fails **open** and accepts the event. Downstream processing is
  idempotent per envelope, so at worst a duplicate signal is folded into the same alert.
"""

from __future__ import annotations

from typing import Protocol, TypeAlias

import attrs

DAY_MS = 24 * 60 * 60 * 1000
DEFAULT_RETENTION_MS = DAY_MS
"""How long a completed key is remembered (and replayed) after its completion."""
DEFAULT_LEASE_MS = 60_000
"""How long an in-flight claim lasts if its owner neither completes nor abandons it."""


class IdempotencyUnavailable(Exception):
    """The idempotency store cannot be reached or answered in time.

    The API answers 503 with ``Retry-After: retry_after_s`` for requests with an explicit key,
    and skips content deduplication (fails open) for requests without one.
    """

    def __init__(self, reason: str, *, retry_after_s: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


@attrs.frozen(kw_only=True)
class StoredResponse:
    """The response first given for a key, replayed verbatim to every retry."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Started:
    """The caller owns the key: process the request, then complete or abandon."""


@attrs.frozen
class Replay:
    """The request was already processed: answer with ``response``."""

    response: StoredResponse


@attrs.frozen
class Mismatch:
    """The key was used with a different body: the API answers 422."""


@attrs.frozen
class InFlight:
    """The same request is being processed now: the API answers 409."""


Begin: TypeAlias = Started | Replay | Mismatch | InFlight
"""What ``IdempotencyStore.begin`` answers; match on it exhaustively."""


class IdempotencyStore(Protocol):
    """Remembers idempotency keys and recent body fingerprints, per scope (e.g. a tenant).

    Keys and fingerprints are opaque strings; scopes never see each other's entries.
    """

    async def begin(self, *, scope: str, key: str, fingerprint: str, now_ms: int) -> Begin:
        """Claim ``key`` for a request whose body hashes to ``fingerprint``, or report its fate.

        Raises:
            IdempotencyUnavailable: the store could not be reached.
        """
        ...

    async def complete(
        self, *, scope: str, key: str, fingerprint: str, response: StoredResponse, now_ms: int
    ) -> None:
        """Record the response for ``key``; retries replay it for the retention period.

        ``fingerprint`` is the one given to ``begin``: the completed record stands on its own,
        even if the in-flight claim was lost meanwhile (lease expired, store restarted).

        Raises:
            IdempotencyUnavailable: the store could not be reached.
        """
        ...

    async def abandon(self, *, scope: str, key: str) -> None:
        """Release an in-flight claim so a retry may proceed; a completed key is kept.

        Raises:
            IdempotencyUnavailable: the store could not be reached.
        """
        ...

    async def recently_seen(self, *, scope: str, fingerprint: str, now_ms: int) -> bool:
        """Tell whether ``fingerprint`` is remembered and its window has not ended at ``now_ms``.

        Only asks: a fingerprint becomes seen through ``remember_seen`` alone.

        Raises:
            IdempotencyUnavailable: the store could not be reached.
        """
        ...

    async def remember_seen(
        self, *, scope: str, fingerprint: str, window_ms: int, now_ms: int
    ) -> None:
        """Remember ``fingerprint`` as seen from ``now_ms`` for ``window_ms``.

        Call it only once what the fingerprint stands for was durably accepted (on the queue).
        A fingerprint already remembered keeps the window of its first sighting: repeats do not
        extend it, so a source that resends every few seconds is still let through once per
        window.

        Raises:
            ValueError: ``window_ms`` is not positive.
            IdempotencyUnavailable: the store could not be reached.
        """
        ...
