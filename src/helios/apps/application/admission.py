"""Admitting one ingestion request: authenticate, limit, deduplicate, enqueue — or refuse.

The use case behind every ingestion endpoint. It speaks no HTTP: a refusal is a ``Refused``
error, which the API renders (``apps.http.errors``) with the status given below.

The order matters and every step has its failure policy (see the ports' docstrings):

1. the integration from its routing key (401 unknown, 403 wrong source or tenant);
2. GCRA per integration, then per tenant (429 with Retry-After; limiter down → let in);
3. source checks made by the caller (shape, signatures) before anything is remembered;
4. ``Idempotency-Key``: replay, 422, 409, or claim it (store down → 503);
   without a key, identical bodies (or SNS messages with one ``MessageId``) within a window are
   accepted once (store down → let in; a queue that ``SendsOnce`` decides it in the commit
   of step 5 instead, so that a repeat is refused exactly when its first is enqueued);
   a signature already used is refused (store down → let in);
5. ``queue.send``: only once it returned is the answer a 2xx (queue down → 503, key released).
6. Only then are the body's fingerprint and the signature remembered as seen: a request the
   queue refused leaves nothing behind, so its retry is accepted (see ``ports.idempotency``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

import attrs
import structlog

from helios.apps.application.envelopes import envelope_message
from helios.apps.application.tenancy import Authenticated, KeyDirectory
from helios.apps.observability import Metrics
from helios.apps.unique_ids import unique_id
from helios.domain.tenancy import ACCEPTED_FORMATS
from helios.domain.values import Envelope, Millis, SourceKind
from helios.ports.event_store import StoreUnavailable
from helios.ports.idempotency import (
    IdempotencyStore,
    IdempotencyUnavailable,
    InFlight,
    Mismatch,
    Replay,
    Started,
    StoredResponse,
)
from helios.ports.queue import OutgoingMessage, Queue, QueueUnavailable, SeenAs, SendsOnce
from helios.ports.rate_limit import LimiterUnavailable, RateLimiter

_log = structlog.get_logger("helios.api")


class Refused(Exception):
    """The request is not admitted; ``detail`` tells the sender why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAuthenticated(Refused):
    """No key, an unknown or expired one, or a signature already used (401)."""


class KeyOfAnotherKind(Refused):
    """A valid key whose integration does not send this format (403); ``reason`` (a phrase
    that follows "this key") says which kind it is and where it works."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"this key {reason}")
        self.reason = reason


class OtherTenantsKey(Refused):
    """The key belongs to another tenant than the one the request names (403)."""


class RateExceeded(Refused):
    """The integration's or the tenant's rate is exhausted (429)."""

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class IdempotencyKeyReused(Refused):
    """The ``Idempotency-Key`` came with another body (422)."""


class RequestInFlight(Refused):
    """The ``Idempotency-Key``'s first request is still being processed (409)."""


class CannotAdmitNow(Refused):
    """A store the admission needs is down (503): retry after ``retry_after_s``."""

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class AdmissionPolicy(Protocol):
    """The rates and windows admission applies (``ApiConfig`` is one)."""

    @property
    def rate_per_integration(self) -> float: ...
    @property
    def burst_per_integration(self) -> int: ...
    @property
    def rate_per_tenant(self) -> float: ...
    @property
    def burst_per_tenant(self) -> int: ...
    @property
    def dedup_window_s(self) -> float: ...
    @property
    def signature_tolerance_s(self) -> int: ...


KEPT_HEADERS = frozenset(
    {
        "user-agent",
        "x-amz-sns-message-type",
        "x-amz-sns-topic-arn",
        "x-amz-sns-message-id",
        "x-grafana-alerting-signature",
        "idempotency-key",
    }
)
"""Request headers that travel with the envelope (for audit); credentials never do."""

MAX_IDEMPOTENCY_KEY_CHARS = 255
"""A longer ``Idempotency-Key`` is refused (400), never truncated: two keys sharing a prefix
would otherwise collide."""

ENDPOINTS = {
    SourceKind.PAGERDUTY: "POST /v2/enqueue",
    SourceKind.PAGERDUTY_CHANGE: "POST /v2/change/enqueue",
    SourceKind.ALERTMANAGER: "POST /v1/ingest/alertmanager",
    SourceKind.GRAFANA: "POST /v1/ingest/grafana",
    SourceKind.CLOUDWATCH: "POST /v1/ingest/cloudwatch (an SNS subscription)",
    SourceKind.GENERIC: "POST /v1/ingest/generic (signed with X-Helios-Signature)",
}
"""Where each format is sent, as error messages tell a sender whose key is of another kind."""

ResponseBuilder = Callable[[str], StoredResponse]
"""Builds the success answer from the new envelope's ``ingest_id``."""


@attrs.frozen(kw_only=True)
class Delivery:
    """One request as the API received it, once its body is read."""

    source: SourceKind
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]
    correlation_id: str
    idempotency_key: str | None = None
    content_dedup: bool = True
    """False when each request must be enqueued (a keyless PagerDuty trigger: its answer
    names a dedup key derived from its own ingest id)."""
    received_at: Millis | None = None
    """When the API received it; None: when it is enqueued. Set by a caller that checks the
    envelope before admitting it, so that the check and the worker see the same time."""
    dedup_fingerprint: str | None = None
    """What a repeat of this delivery has in common with it, for deduplication without an
    ``Idempotency-Key`` (an SNS ``MessageId``: a resend may differ in unsigned fields);
    None: the body's bytes."""
    dedup_window_ms: int | None = None
    """How long ``dedup_fingerprint`` is remembered; None: the content-dedup window."""


def now_ms() -> Millis:
    return time.time_ns() // 1_000_000


class Intake:
    """The admission pipeline shared by every ingestion endpoint."""

    def __init__(
        self,
        *,
        directory: KeyDirectory,
        limiter: RateLimiter,
        idempotency: IdempotencyStore,
        queue: Queue,
        config: AdmissionPolicy,
        metrics: Metrics,
        clock: Callable[[], Millis] = now_ms,
        queue_name: str = "ingest",
    ) -> None:
        self._directory = directory
        self._limiter = limiter
        self._idempotency = idempotency
        self._queue = queue
        # Content dedup in the enqueue's own commit, where the queue can do it.
        self._sends_once = queue if isinstance(queue, SendsOnce) else None
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._queue_name = queue_name

    def now(self) -> Millis:
        return self._clock()

    async def authenticate(
        self, key: str | None, *, source: SourceKind, tenant_hint: str | None = None
    ) -> Authenticated:
        """The integration that owns ``key``, if it may send ``source`` events.

        Raises:
            NotAuthenticated: no key, or an unknown or expired one.
            KeyOfAnotherKind: the key's integration does not send ``source``'s format.
            OtherTenantsKey: the key belongs to another tenant than ``tenant_hint``.
            CannotAdmitNow: the key store could not be read.
        """
        if not key:
            raise NotAuthenticated("an integration key is required (Authorization: Bearer <key>)")
        try:
            found = await self._directory.authenticate(key, now_ms=self._clock())
        except StoreUnavailable as error:
            raise CannotAdmitNow(f"cannot check the key now: {error}", retry_after_s=5) from None
        if found is None:
            raise NotAuthenticated("unknown or expired integration key")
        if not found.integration.accepts_format(source):
            raise KeyOfAnotherKind(_where_it_works(found.integration.kind, source))
        if tenant_hint and tenant_hint != found.tenant_id:
            raise OtherTenantsKey("this key belongs to another tenant")
        return found

    async def limit(self, who: Authenticated) -> None:
        """Apply the integration's and the tenant's rates.

        Raises:
            RateExceeded: one of them is exhausted (the limiter being down lets the request in).
        """
        config = self._config
        for key, rate, burst in (
            (f"int:{who.integration.integration_id}", config.rate_per_integration,
             config.burst_per_integration),
            (f"ten:{who.tenant_id}", config.rate_per_tenant, config.burst_per_tenant),
        ):  # fmt: skip
            try:
                decision = await self._limiter.check(
                    key=key, rate_per_s=rate, burst=burst, now_ms=self._clock()
                )
            except LimiterUnavailable as error:
                _log.warning("rate limiter unavailable: letting the request in", error=str(error))
                return
            if not decision.allowed:
                retry_s = -(-decision.retry_after_ms // 1000)
                raise RateExceeded(
                    f"{'integration' if key.startswith('int') else 'tenant'} rate exceeded",
                    retry_after_s=retry_s,
                )

    async def admit(
        self,
        who: Authenticated,
        delivery: Delivery,
        respond: ResponseBuilder,
        *,
        duplicate: ResponseBuilder | None = None,
        signature: str | None = None,
    ) -> StoredResponse:
        """Deduplicate and enqueue an authenticated, checked delivery; return the answer.

        ``signature`` is the request's verified signature (generic source): refused if it was
        already used, remembered once the request is accepted. Nothing is remembered as seen
        (body fingerprint, signature) before the queue has durably taken the envelope.

        Raises:
            IdempotencyKeyReused: the key came with another body (422).
            RequestInFlight: the key's first request is still being processed (409).
            NotAuthenticated: the signature was already used (a replayed request).
            CannotAdmitNow: the idempotency store (with a key) or the queue is down (503).
        """
        scope = f"{who.tenant_id}/{who.integration.integration_id}"
        fingerprint = hashlib.sha256(delivery.body).hexdigest()
        if delivery.idempotency_key is None:
            return await self._admit_by_content(
                who,
                delivery,
                respond,
                duplicate=duplicate,
                signature=signature,
                scope=scope,
                fingerprint=fingerprint,
            )
        key = delivery.idempotency_key
        try:
            begun = await self._idempotency.begin(
                scope=scope, key=key, fingerprint=fingerprint, now_ms=self._clock()
            )
        except IdempotencyUnavailable as error:
            raise CannotAdmitNow(
                "cannot check the Idempotency-Key now", retry_after_s=error.retry_after_s
            ) from None
        match begun:
            case Replay(response=stored):
                self._metrics.envelopes.inc(delivery.source.value, "replayed")
                return stored
            case Mismatch():
                raise IdempotencyKeyReused("this Idempotency-Key was used with another body")
            case InFlight():
                raise RequestInFlight("retry once the first request has been answered")
            case Started():
                pass
        try:
            if signature is not None:
                await self._refuse_used_signature(who, signature)
            response = await self._enqueue(who, delivery, respond)
        except BaseException:
            await self._release(scope, key)
            raise
        assert response is not None  # without ``once`` every envelope is enqueued
        try:
            await self._idempotency.complete(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                response=response,
                now_ms=self._clock(),
            )
        except IdempotencyUnavailable as error:
            # The event is on the queue: answer 2xx; a retry within the lease gets 409,
            # after it a second envelope, which the worker deduplicates by content.
            _log.warning("could not record the Idempotency-Key response", error=str(error))
        if signature is not None:
            await self._remember_signature(who, signature)
        return response

    async def _admit_by_content(
        self,
        who: Authenticated,
        delivery: Delivery,
        respond: ResponseBuilder,
        *,
        duplicate: ResponseBuilder | None,
        signature: str | None,
        scope: str,
        fingerprint: str,
    ) -> StoredResponse:
        """``admit`` without an ``Idempotency-Key``: a delivery seen within the window (same
        body, or same ``dedup_fingerprint``) is answered as a duplicate, not enqueued again.

        Raises:
            NotAuthenticated: the signature was already used (a replayed request).
            CannotAdmitNow: the queue is down (503).
        """
        if signature is not None:
            await self._refuse_used_signature(who, signature)
        seen_as = delivery.dedup_fingerprint or fingerprint
        window_ms = delivery.dedup_window_ms or self._dedup_window_ms
        answer: StoredResponse | None
        if not delivery.content_dedup:
            answer = await self._enqueue(who, delivery, respond)
        elif self._sends_once is not None:
            once = SeenAs(scope=f"body:{scope}", fingerprint=seen_as, window_ms=window_ms)
            answer = await self._enqueue(who, delivery, respond, once=(self._sends_once, once))
        elif await self._seen(scope, seen_as):
            answer = None
        else:
            answer = await self._enqueue(who, delivery, respond)
            await self._remember(f"body:{scope}", seen_as, window_ms)
        if answer is None:
            self._metrics.envelopes.inc(delivery.source.value, "duplicate")
            answer = (duplicate or respond)("")
        if signature is not None:
            # Also after a "duplicate": what the signature vouches for is on the queue.
            await self._remember_signature(who, signature)
        return answer

    @property
    def _dedup_window_ms(self) -> int:
        return int(self._config.dedup_window_s * 1000)

    async def _refuse_used_signature(self, who: Authenticated, signature: str) -> None:
        """Refuse a signature already used within the replay window.

        The store being down lets the request in: the signature was checked and is fresh, and
        a replayed event is deduplicated downstream.

        Raises:
            NotAuthenticated: the signature was already used.
        """
        try:
            seen = await self._idempotency.recently_seen(
                scope=f"sig:{who.integration.integration_id}",
                fingerprint=signature,
                now_ms=self._clock(),
            )
        except IdempotencyUnavailable as error:
            _log.warning("replay check unavailable: letting the request in", error=str(error))
            return
        if seen:
            raise NotAuthenticated("this signature was already used (replayed request)")

    async def _remember_signature(self, who: Authenticated, signature: str) -> None:
        # Remembered for twice the tolerance: a signature cannot be fresh for longer.
        await self._remember(
            f"sig:{who.integration.integration_id}",
            signature,
            2 * self._config.signature_tolerance_s * 1000,
        )

    async def _seen(self, scope: str, fingerprint: str) -> bool:
        try:
            return await self._idempotency.recently_seen(
                scope=f"body:{scope}", fingerprint=fingerprint, now_ms=self._clock()
            )
        except IdempotencyUnavailable as error:
            _log.warning("content dedup unavailable: accepting", error=str(error))
            return False

    async def _remember(self, scope: str, fingerprint: str, window_ms: int) -> None:
        # The event is already on the queue: failing to remember costs at most a duplicate.
        try:
            await self._idempotency.remember_seen(
                scope=scope, fingerprint=fingerprint, window_ms=window_ms, now_ms=self._clock()
            )
        except IdempotencyUnavailable as error:
            _log.warning("could not remember a fingerprint as seen", error=str(error))

    async def _release(self, scope: str, key: str) -> None:
        try:
            await self._idempotency.abandon(scope=scope, key=key)
        except IdempotencyUnavailable as error:
            _log.warning("could not release an Idempotency-Key", error=str(error))

    def envelope(self, who: Authenticated, delivery: Delivery, *, ingest_id: str) -> Envelope:
        """The envelope ``delivery`` is enqueued as, under ``ingest_id``."""
        received_at = delivery.received_at
        return Envelope(
            ingest_id=ingest_id,
            tenant=who.tenant_id,
            integration=who.integration.integration_id,
            source=delivery.source,
            received_at=self._clock() if received_at is None else received_at,
            body=delivery.body,
            content_type=delivery.content_type,
            headers=delivery.headers,
        )

    async def _enqueue(
        self,
        who: Authenticated,
        delivery: Delivery,
        respond: ResponseBuilder,
        *,
        once: tuple[SendsOnce, SeenAs] | None = None,
    ) -> StoredResponse | None:
        """Enqueue ``delivery``'s envelope and answer; with ``once``, unless the queue
        remembers it as seen (None: a repeat, nothing enqueued).

        Raises:
            CannotAdmitNow: the queue is down (nothing was enqueued nor remembered).
        """
        ingest_id = unique_id()
        envelope = self.envelope(who, delivery, ingest_id=ingest_id)
        # The ingest id is new: nothing for the queue to drop as a repeat of it (a repeat of
        # the request is found by its content or its Idempotency-Key instead).
        message = envelope_message(envelope, correlation_id=delivery.correlation_id, resent=False)
        if not await self._put(delivery, message, once):
            return None
        self._metrics.envelopes.inc(delivery.source.value, "accepted")
        structlog.contextvars.bind_contextvars(
            ingest_id=ingest_id, tenant=who.tenant_id, integration=envelope.integration
        )
        return respond(ingest_id)

    async def _put(
        self, delivery: Delivery, message: OutgoingMessage, once: tuple[SendsOnce, SeenAs] | None
    ) -> bool:
        """Whether ``message`` was enqueued (False: ``once`` says it is a repeat).

        Raises:
            CannotAdmitNow: the queue is down.
        """
        try:
            if once is None:
                await self._queue.send([message])
                return True
            queue, seen_as = once
            return await queue.send_once(message, seen_as=seen_as, now_ms=self._clock())
        except QueueUnavailable as error:
            self._metrics.queue_errors.inc(self._queue_name, "unavailable")
            self._metrics.envelopes.inc(delivery.source.value, "queue_unavailable")
            _log.warning("queue unavailable", error=error.reason)
            raise CannotAdmitNow(
                "the ingest queue cannot take events now", retry_after_s=error.retry_after_s
            ) from None


def _where_it_works(kind: SourceKind, source: SourceKind) -> str:
    """Which kind a key is, where it works, and which keys ``source``'s endpoint takes."""
    sends = [kind, *sorted(ACCEPTED_FORMATS[kind] - {kind}, key=lambda k: k.value)]
    takers = [k.value for k in sorted(ACCEPTED_FORMATS, key=lambda k: (k is not source, k.value))
              if source in ACCEPTED_FORMATS[k]]  # fmt: skip
    listed = takers[0] if len(takers) == 1 else f"{', '.join(takers[:-1])} or {takers[-1]}"
    return (
        f"belongs to {_a(kind.value)} integration, "
        f"which sends to {' or '.join(ENDPOINTS[k] for k in sends)}; "
        f"{ENDPOINTS[source].split(' (')[0]} takes the key of {_a(listed)} integration"
    )


def _a(words: str) -> str:
    return f"{'an' if words[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {words}"
