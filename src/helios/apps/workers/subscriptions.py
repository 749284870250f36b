"""Confirming SNS subscriptions: CloudWatch alarms reach Helios only once SNS was told yes.

SNS sends a new HTTPS subscription a ``SubscriptionConfirmation``; until its ``SubscribeURL``
is visited the subscription stays "pending confirmation" and no alarm is delivered.

1. The API verifies the message's signature and that its topic is allowed for the
   integration, and enqueues it like any event; the ingest worker records it
   (``helios.intake.control_received.v1``).
2. ``ConfirmationRequests``, a follower of the log, turns each recorded request into an
   ``sns.confirm.v1`` command on the ingest queue (at least once, deduplicated per request).
3. The ingest worker hands the command to ``SubscriptionConfirmer``: it checks that the topic
   is still allowed and that the URL is SNS's own (https, ``sns.<region>.amazonaws.com`` of
   the topic's region, ``Action=ConfirmSubscription``), visits it through the ``HttpFetcher``
   port, and records the outcome on the integration (``helios.tenant.sns_*`` events, shown by
   ``helios integrations list``) and in the log.
4. An attempt that failed for a reason that may pass (no answer, HTTP 5xx or 429) is retried
   through the queue's redelivery after a growing delay (30 s, then 2 min by default); the
   last attempt is recorded as failed and the queue dead-letters the command, which an
   operator can redrive once the cause is fixed. A refusal (another 4xx, e.g. an expired
   token) or a failed check is final at once and not retried.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs, urlsplit

import anyio.from_thread
import anyio.to_thread
import attrs
import structlog

from helios.apps.application.tenancy import TenancyService, wall_clock_ms
from helios.apps.views.positions import move_position
from helios.apps.workers.messages import ConfirmSubscription, confirm_message
from helios.domain.errors import CommandRejected
from helios.domain.intake import ControlReceived, EnvelopeReceived
from helios.domain.tenancy import SubscriptionStatus
from helios.domain.values import Envelope, Millis, SourceKind
from helios.ports.event_store import EventStore, LogEntry
from helios.ports.http import FetchUnavailable, HttpFetcher
from helios.ports.queue import DEFAULT_MAX_RECEIVES, Queue
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

FOLLOWER = "sns-confirmations"
SUBSCRIPTION_CONFIRMATION = "sns.subscription_confirmation"
"""The ``Control.kind`` the CloudWatch normalizer gives a ``SubscriptionConfirmation``."""
TOKEN_LIFETIME_MS = 3 * 24 * 3600 * 1000
"""SNS confirmation tokens expire after three days: older requests are not worth a visit."""
MAX_ANSWER_BYTES = 64 * 1024

# The same hosts the API accepts for signing certificates: SNS's regional endpoints.
_SNS_HOST = re.compile(r"sns\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")
_SUBSCRIPTION_ARN = re.compile(rb"<SubscriptionArn>\s*([^<\s]{1,1024})\s*</SubscriptionArn>")
_ERROR_CODE = re.compile(rb"<Code>\s*([A-Za-z0-9_.]{1,100})\s*</Code>")


def subscribe_url_problem(url: str, topic_arn: str) -> str | None:
    """Why ``url`` is not the SNS confirmation URL of ``topic_arn``, or None if it is."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "SubscribeURL is not a URL"
    if parts.scheme != "https":
        return "SubscribeURL is not https"
    host = _SNS_HOST.fullmatch(parts.hostname or "")
    if host is None or port is not None or parts.username is not None or "@" in parts.netloc:
        return "SubscribeURL is not on an SNS host (sns.<region>.amazonaws.com)"
    arn = topic_arn.split(":")
    if len(arn) < 6 or arn[3] != host.group(1):
        return "SubscribeURL's region is not the topic's"
    query = parse_qs(parts.query)
    if query.get("Action") != ["ConfirmSubscription"]:
        return "SubscribeURL does not confirm a subscription (Action=ConfirmSubscription)"
    if query.get("TopicArn", [topic_arn]) != [topic_arn]:
        return "SubscribeURL names another topic"
    if not query.get("Token"):
        return "SubscribeURL has no Token"
    return None


_CONTROL: str = ControlReceived.NAME  # type: ignore[attr-defined]


class ConfirmationRequests:
    """Follower that puts an ``sns.confirm.v1`` command on the queue for each recorded
    ``SubscriptionConfirmation``, then commits its position (at least once: a crash in between
    sends the page's commands again, with the same deduplication ids)."""

    name = FOLLOWER

    def __init__(
        self,
        store: EventStore,
        db: ReadModels,
        queue: Queue,
        *,
        clock: Callable[[], Millis] = wall_clock_ms,
    ) -> None:
        self._store = store
        self._db = db
        self._queue = queue
        self._clock = clock

    @staticmethod
    def left_encoded(name: str) -> bool:
        """Only control messages are decoded; a confirmation's envelope is read from its
        stream (rare), not decoded from every page."""
        return name != _CONTROL

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        """Send the page's confirmation commands, then commit the new position (call from a
        worker thread started by anyio).

        Raises:
            StoreUnavailable: a store cannot be reached.
            QueueUnavailable: the queue cannot take the commands.
            ConcurrencyConflict: another instance moved the position.
        """
        messages = []
        for entry in page:
            event = entry.event
            if not isinstance(event, ControlReceived):
                continue
            control = event.control
            if control.kind != SUBSCRIPTION_CONFIRMATION:
                continue
            envelope = self._envelope(entry.stream_id)
            if envelope is None:
                _log.error("sns.confirmation_without_envelope", ingest_id=event.ingest_id)
                continue
            if self._clock() - envelope.received_at > TOKEN_LIFETIME_MS:
                # A log read from the start (a new follower) must not visit stale requests.
                _log.info(
                    "sns.confirmation_expired",
                    tenant=envelope.tenant,
                    integration=envelope.integration,
                    topic=control.topic,
                )
                continue
            messages.append(
                confirm_message(
                    ConfirmSubscription(
                        tenant=envelope.tenant,
                        integration=envelope.integration,
                        ingest_id=event.ingest_id,
                        topic_arn=control.topic,
                        subscribe_url=control.confirm_url,
                        message_id=control.message_id,
                    )
                )
            )
        if messages:
            # apply runs in a worker thread (see followers.follow); the queue is async.
            anyio.from_thread.run(self._queue.send, messages)
        with self._db.transaction() as cursor:
            move_position(cursor, FOLLOWER, after=after, to=page[-1].position)

    def _envelope(self, stream: uuid.UUID) -> Envelope | None:
        for recorded in self._store.read_stream(stream):
            if isinstance(recorded.event, EnvelopeReceived):
                return recorded.event.envelope
        return None


@attrs.frozen(kw_only=True)
class Attempted:
    """What became of one attempt: ``done`` (confirmed, or given up for good), or to be
    tried again in ``retry_in_s`` (0: no attempt left, the queue dead-letters the command)."""

    done: bool
    retry_in_s: int = 0


class SubscriptionConfirmer:
    """Visits a subscription's ``SubscribeURL`` once and records how it went."""

    def __init__(
        self,
        store: EventStore,
        fetcher: HttpFetcher,
        *,
        retry_base_s: int = 30,
        max_attempts: int = DEFAULT_MAX_RECEIVES,
        timeout_s: float = 10.0,
        clock: Callable[[], Millis] = wall_clock_ms,
    ) -> None:
        self._tenancy = TenancyService(store, clock=clock)
        self._fetcher = fetcher
        self._retry_base_s = retry_base_s
        self._max_attempts = max_attempts
        self._timeout_s = timeout_s

    async def confirm(self, command: ConfirmSubscription, *, attempt: int) -> Attempted:
        """Make attempt number ``attempt`` (the command's receive count) at confirming.

        Raises:
            StoreUnavailable: the store cannot be reached (the attempt may be lost: retry).
        """
        log = _log.bind(
            tenant=command.tenant,
            integration=command.integration,
            topic=command.topic_arn,
            attempt=attempt,
        )
        tenant = await anyio.to_thread.run_sync(self._tenancy.tenant, command.tenant)
        integration = tenant.integration(command.integration)
        if integration is None or integration.kind is not SourceKind.CLOUDWATCH:
            log.error("sns.confirmation_for_unknown_integration")
            return Attempted(done=True)
        current = integration.subscription(command.topic_arn)
        if (
            current is not None
            and current.message_id == command.message_id
            and current.status is SubscriptionStatus.CONFIRMED
        ):
            return Attempted(done=True)  # a redelivery after the confirmation was recorded
        if command.topic_arn not in integration.allowed_topics:
            problem: str | None = "the topic is not allowed for the integration"
        else:
            problem = subscribe_url_problem(command.subscribe_url, command.topic_arn)
        if problem is not None:
            await self._failed(command, attempt, problem, retrying=False)
            log.error("sns.confirmation_refused", reason=problem)
            return Attempted(done=True)
        started = time.monotonic()
        try:
            answer = await self._fetcher.get(
                command.subscribe_url, timeout_s=self._timeout_s, max_bytes=MAX_ANSWER_BYTES
            )
        except FetchUnavailable as error:
            reason, final = str(error), False
        else:
            if answer.status == 200:
                found = _SUBSCRIPTION_ARN.search(answer.body)
                arn = found.group(1).decode("utf-8", "replace") if found else ""
                await anyio.to_thread.run_sync(
                    lambda: self._tenancy.record_confirmed(
                        tenant_id=command.tenant,
                        integration_id=command.integration,
                        topic_arn=command.topic_arn,
                        message_id=command.message_id,
                        subscription_arn=arn,
                    )
                )
                log.info(
                    "sns.subscription_confirmed",
                    subscription_arn=arn,
                    duration_ms=round(1000 * (time.monotonic() - started), 1),
                )
                return Attempted(done=True)
            code = _ERROR_CODE.search(answer.body)
            reason = f"SNS answered HTTP {answer.status}" + (
                f" ({code.group(1).decode()})" if code else ""
            )
            final = answer.status < 500 and answer.status != 429
        retrying = not final and attempt < self._max_attempts
        delay = self._retry_base_s * 4 ** (attempt - 1) if retrying else 0
        await self._failed(command, attempt, reason, retrying=retrying)
        if retrying:
            log.warning("sns.confirmation_failed", reason=reason, retry_in_s=delay)
            return Attempted(done=False, retry_in_s=delay)
        if final:
            log.error("sns.confirmation_refused", reason=reason)
            return Attempted(done=True)
        log.error(
            "sns.confirmation_gave_up",
            reason=reason,
            hint="the command is dead-lettered: helios dlq redrive once SNS can be reached",
        )
        return Attempted(done=False, retry_in_s=0)

    async def _failed(
        self, command: ConfirmSubscription, attempt: int, reason: str, *, retrying: bool
    ) -> None:
        try:
            await anyio.to_thread.run_sync(
                lambda: self._tenancy.record_confirmation_failed(
                    tenant_id=command.tenant,
                    integration_id=command.integration,
                    topic_arn=command.topic_arn,
                    message_id=command.message_id,
                    attempt=attempt,
                    reason=reason,
                    retrying=retrying,
                )
            )
        except CommandRejected as error:
            # Nothing to record it on (e.g. a malformed topic): the log line is all there is.
            _log.error("sns.confirmation_not_recorded", error=error.message, reason=reason)
