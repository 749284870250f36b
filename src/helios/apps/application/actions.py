"""Acknowledge or resolve an alert: a human action, recorded like any other input.

The action becomes an envelope of source ``user`` (the body ``normalize_user`` reads) sent on
the ingest queue, so the workers decide it with the same rules, record it, and replay it.
Nothing is decided here: the alert is looked up only to refuse another tenant's id, to name
the dedup key the envelope acts on, and to check the caller's precondition on its version.

A request with an ``Idempotency-Key`` is sent once (``keyed.once_per_key``); its envelope's id
is derived from the tenant, the person and the key, so even a retry after the key was
forgotten is recorded once by the workers (one marker per envelope id).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Literal

import anyio.to_thread
import attrs
import msgspec

from helios.apps.application.alert_history import AlertNotFound
from helios.apps.application.envelopes import envelope_message
from helios.apps.application.keyed import command_scope, fingerprint, once_per_key
from helios.apps.views import alerts
from helios.domain import intake
from helios.domain.normalize import FieldError, user
from helios.domain.values import Envelope, Millis, SourceKind
from helios.ports.event_store import EventStore
from helios.ports.idempotency import IdempotencyStore, StoredResponse
from helios.ports.queue import Queue
from helios.ports.read_models import ReadModels

ActionName = Literal["acknowledge", "resolve"]

MAX_NOTE_CHARS = user.MAX_NOTE_CHARS
"""The longest note ``normalize_user`` accepts: refused here before anything is sent."""


class InvalidAction(ValueError):
    """The action cannot be recorded as asked; ``errors`` name the fields."""

    def __init__(self, reason: str, errors: tuple[FieldError, ...]) -> None:
        super().__init__(reason)
        self.errors = errors


class AlertChanged(Exception):
    """The alert is no longer at the version the caller saw (``If-Match``): nothing was sent.
    ``version`` is the alert's current one."""

    def __init__(self, version: int) -> None:
        super().__init__(f"the alert changed: it is now at version {version}")
        self.version = version


_ACTION_NAMESPACE = uuid.UUID("8f1d7a52-3c1e-4c59-9a55-6f3c9d2e0b71")
"""Namespace of the envelope ids of keyed actions (fixed: a changed one would record twice)."""


@attrs.frozen(kw_only=True)
class ActionAccepted:
    """Sent to the workers; ``action_id`` is the envelope's ingest id."""

    action_id: str
    alert_id: str
    action: ActionName


@attrs.frozen(kw_only=True)
class AlertActions:
    """Human actions on alerts: look the alert up, write the action's envelope, queue it."""

    queue: Queue
    read_models: Callable[[], ReadModels]
    clock: Callable[[], Millis]
    idempotency: IdempotencyStore

    async def take(
        self,
        *,
        tenant: str,
        user_id: str,
        alert_id: str,
        action: ActionName,
        note: str = "",
        correlation_id: str = "",
        idempotency_key: str | None = None,
        expected_version: int | None = None,
    ) -> ActionAccepted:
        """Queue ``action`` on the tenant's alert ``alert_id`` on behalf of ``user_id``; with
        ``idempotency_key``, once per key (a retry answers what the first request did).

        Raises:
            InvalidAction: the note is too long (field ``note``).
            AlertNotFound: no such alert in the tenant.
            AlertChanged: ``expected_version`` is not the alert's version.
            IdempotencyKeyReused: the key was used for another action (422).
            RequestInFlight: the key's first request is being processed (409).
            CannotAdmitNow: the idempotency store is down (503).
            StoreUnavailable: the read models cannot be reached.
            QueueUnavailable: the queue cannot take the action now.
        """
        if len(note) > MAX_NOTE_CHARS:
            raise InvalidAction(
                "note too long",
                (FieldError(field="note", message=f"at most {MAX_NOTE_CHARS} chars"),),
            )

        async def send() -> StoredResponse:
            accepted = await self._send(
                tenant=tenant,
                user_id=user_id,
                alert_id=alert_id,
                action=action,
                note=note,
                correlation_id=correlation_id,
                idempotency_key=idempotency_key,
                expected_version=expected_version,
            )
            return StoredResponse(status=202, body=msgspec.json.encode(attrs.asdict(accepted)))

        if idempotency_key is None:
            stored = await send()
        else:
            stored = await once_per_key(
                self.idempotency,
                scope=command_scope(tenant=tenant, user_id=user_id),
                key=idempotency_key,
                request_fingerprint=fingerprint("alert", alert_id, action, note),
                now_ms=self.clock,
                work=send,
            )
        return msgspec.json.decode(stored.body, type=_Accepted).accepted()

    async def _send(
        self,
        *,
        tenant: str,
        user_id: str,
        alert_id: str,
        action: ActionName,
        note: str,
        correlation_id: str,
        idempotency_key: str | None,
        expected_version: int | None,
    ) -> ActionAccepted:
        row = await anyio.to_thread.run_sync(
            lambda: alerts.by_id(self.read_models(), tenant=tenant, alert_id=alert_id)
        )
        if row is None:
            raise AlertNotFound(alert_id)
        if expected_version is not None and expected_version != row.position:
            raise AlertChanged(row.position)
        ingest_id = (
            uuid.uuid4().hex
            if idempotency_key is None
            else uuid.uuid5(_ACTION_NAMESPACE, f"{tenant}\x1f{user_id}\x1f{idempotency_key}").hex
        )
        envelope = Envelope(
            ingest_id=ingest_id,
            tenant=tenant,
            integration="api",
            source=SourceKind.USER,
            received_at=self.clock(),
            body=user.user_action_body(action, dedup_key=row.dedup_key, user=user_id, note=note),
        )
        await self.queue.send([envelope_message(envelope, correlation_id=correlation_id)])
        return ActionAccepted(action_id=envelope.ingest_id, alert_id=row.stream_id, action=action)


class _Accepted(msgspec.Struct):
    """``ActionAccepted`` as kept with its key."""

    action_id: str
    alert_id: str
    action: ActionName

    def accepted(self) -> ActionAccepted:
        return ActionAccepted(action_id=self.action_id, alert_id=self.alert_id, action=self.action)


ActionState = Literal["pending", "recorded", "rejected"]

_ACTION_ID = re.compile(r"[0-9a-f]{32}")
"""What an action id looks like (an envelope's ingest id: a UUID's hex)."""


class ActionNotFound(LookupError):
    """The id cannot be one of an action's."""


@attrs.frozen(kw_only=True)
class ActionOutcome:
    """What became of a human action: ``pending`` until the workers recorded it (an id the
    tenant never used reads the same: the two cannot be told apart before the workers run),
    then ``recorded`` (decided as a human signal) or ``rejected`` (``reason``)."""

    action_id: str
    alert_id: str
    state: ActionState
    reason: str = ""


def action_outcome(
    store: EventStore, read_models: ReadModels, *, tenant: str, alert_id: str, action_id: str
) -> ActionOutcome:
    """The outcome of the action ``action_id`` on the tenant's alert ``alert_id``, from the
    action's envelope stream (scoped to the tenant by its id).

    Raises:
        AlertNotFound: no such alert in the tenant.
        ActionNotFound: ``action_id`` is not an action's id.
        StoreUnavailable: the store or the read models cannot be reached.
    """
    if not _ACTION_ID.fullmatch(action_id):
        raise ActionNotFound(action_id)
    row = alerts.by_id(read_models, tenant=tenant, alert_id=alert_id)
    if row is None:
        raise AlertNotFound(alert_id)
    state: ActionState = "pending"
    reason = ""
    for recorded in store.read_stream(uuid.UUID(intake.envelope_stream(tenant, action_id))):
        match recorded.event:
            case intake.EnvelopeReceived(envelope=sent) if sent.source is not SourceKind.USER:
                break  # an integration's envelope, not a person's action
            case intake.EnvelopeNormalized():
                state = "recorded"
            case intake.EnvelopeRejected(reason=why):
                state, reason = "rejected", why
    return ActionOutcome(action_id=action_id, alert_id=row.stream_id, state=state, reason=reason)
