"""Acknowledge or resolve an alert: a human action, recorded like any other input.

The action becomes an envelope of source ``user`` (the body ``normalize_user`` reads) sent on
the ingest queue, so the workers decide it with the same rules, record it, and replay it.
Nothing is decided here: the alert is looked up only to refuse another tenant's id and to name
the dedup key the envelope acts on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal

import anyio.to_thread
import attrs

from helios.apps.application.alert_history import AlertNotFound
from helios.apps.application.envelopes import envelope_message
from helios.apps.views import alerts
from helios.domain.normalize import FieldError, user
from helios.domain.values import Envelope, Millis, SourceKind
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

    async def take(
        self,
        *,
        tenant: str,
        user_id: str,
        alert_id: str,
        action: ActionName,
        note: str = "",
        correlation_id: str = "",
    ) -> ActionAccepted:
        """Queue ``action`` on the tenant's alert ``alert_id`` on behalf of ``user_id``.

        Raises:
            InvalidAction: the note is too long (field ``note``).
            AlertNotFound: no such alert in the tenant.
            StoreUnavailable: the read models cannot be reached.
            QueueUnavailable: the queue cannot take the action now.
        """
        if len(note) > MAX_NOTE_CHARS:
            raise InvalidAction(
                "note too long",
                (FieldError(field="note", message=f"at most {MAX_NOTE_CHARS} chars"),),
            )
        row = await anyio.to_thread.run_sync(
            lambda: alerts.by_id(self.read_models(), tenant=tenant, alert_id=alert_id)
        )
        if row is None:
            raise AlertNotFound(alert_id)
        envelope = Envelope(
            ingest_id=uuid.uuid4().hex,
            tenant=tenant,
            integration="api",
            source=SourceKind.USER,
            received_at=self.clock(),
            body=user.user_action_body(action, dedup_key=row.dedup_key, user=user_id, note=note),
        )
        await self.queue.send([envelope_message(envelope, correlation_id=correlation_id)])
        return ActionAccepted(action_id=envelope.ingest_id, alert_id=row.stream_id, action=action)
