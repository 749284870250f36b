"""Commands sent once per ``Idempotency-Key``: a person's retried action is one action.

A client that cannot tell whether its request arrived (a dropped connection, an app that was
offline) sends it again with the same key. The first request does the work and its answer is
kept; a retry with the same key and the same body gets that answer and does nothing; the same
key with another body is refused (422); a retry while the first is still being processed gets
409. The keys of people's commands live in their own scope per tenant and user, apart from the
integrations' keys, so that two people (or a person and a source) never share one.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable

import structlog

from helios.apps.application.admission import (
    CannotAdmitNow,
    IdempotencyKeyReused,
    RequestInFlight,
)
from helios.ports.idempotency import (
    IdempotencyStore,
    IdempotencyUnavailable,
    InFlight,
    Mismatch,
    Replay,
    Started,
    StoredResponse,
)

_log = structlog.get_logger("helios.actions")


def command_scope(*, tenant: str, user_id: str) -> str:
    """The idempotency scope of one person's commands (never an integration's)."""
    return f"{tenant}/user/{user_id}"


def fingerprint(*parts: str) -> str:
    """What makes two requests under one key the same request."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def once_per_key(
    store: IdempotencyStore,
    *,
    scope: str,
    key: str,
    request_fingerprint: str,
    now_ms: Callable[[], int],
    work: Callable[[], Awaitable[StoredResponse]],
) -> StoredResponse:
    """``work``'s answer, computed once for ``key`` in ``scope``; a retry replays it.

    Raises:
        IdempotencyKeyReused: the key came with another request (422).
        RequestInFlight: the key's first request is still being processed (409).
        CannotAdmitNow: the idempotency store is down (503): the command is not sent, since
            sending it unkeyed could record it twice.
    """
    try:
        begun = await store.begin(
            scope=scope, key=key, fingerprint=request_fingerprint, now_ms=now_ms()
        )
    except IdempotencyUnavailable as error:
        raise CannotAdmitNow(
            "cannot check the Idempotency-Key now", retry_after_s=error.retry_after_s
        ) from None
    match begun:
        case Replay(response=stored):
            return stored
        case Mismatch():
            raise IdempotencyKeyReused("this Idempotency-Key was used for another request")
        case InFlight():
            raise RequestInFlight("retry once the first request has been answered")
        case Started():
            pass
    try:
        response = await work()
    except BaseException:
        # A store that cannot be reached keeps the claim only for its lease.
        with contextlib.suppress(IdempotencyUnavailable):
            await store.abandon(scope=scope, key=key)
        raise
    try:
        await store.complete(
            scope=scope,
            key=key,
            fingerprint=request_fingerprint,
            response=response,
            now_ms=now_ms(),
        )
    except IdempotencyUnavailable as error:
        # The work is done: answer it. A later retry may redo it; the action's envelope id
        # is derived from the key, so the workers still record it once.
        _log.warning("could not record the Idempotency-Key response", error=str(error))
    return response
