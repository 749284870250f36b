"""What an alert's detail is: its recorded events read in stream order, each one classified
once — the signal it shows, if any, and whether it is a decision — with the state they fold
to. ``GET /v1/alerts/{id}`` and ``helios replay explain`` both present this history (the API
shows distinct signals and every decision; explain shows every signal, duplicates flagged,
and the decisions that are not duplicates).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import attrs

from helios.apps.views import alerts
from helios.domain import alert
from helios.domain.values import Millis, Signal
from helios.ports.event_store import EventStore, RecordedEvent
from helios.ports.read_models import ReadModels


class AlertNotFound(LookupError):
    """No alert with this id in the caller's tenant."""


@attrs.frozen(kw_only=True)
class SignalSeen:
    """A signal as the alert's stream recorded it.

    ``signal`` is the signal itself, or for a copy recorded by id only (``SignalDeduplicated``)
    the original it copies (None if the alert no longer holds it).
    """

    signal_id: str
    source: str
    received_at: Millis
    signal: Signal | None
    duplicate: bool = False
    """A copy (repeat or exact duplicate): recorded, adding no occurrence."""
    ignored: bool = False
    late: bool = False
    late_beyond_horizon: bool = False


@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One recorded event of the alert and what it means for a reader."""

    recorded: RecordedEvent
    signal: SignalSeen | None
    """The signal this event records, if it records one."""
    decision: bool
    """The engine decided something (every event but an accepted signal: a copy dropped, a
    signal ignored, a trigger, a score, a notification …)."""


@attrs.frozen(kw_only=True)
class AlertHistory:
    stream_id: uuid.UUID
    entries: tuple[HistoryEntry, ...]
    state: alert.AlertState
    """The fold of every entry: where the alert stands now."""
    ruleset_version: int | None
    """The ruleset version of the latest score."""
    silence_ids: tuple[str, ...]
    """The silences holding the alert after the latest (un)silencing."""


def alert_history(
    stream_id: uuid.UUID, recorded: Sequence[RecordedEvent], *, tenant: str, dedup_key: str
) -> AlertHistory:
    """The history of the alert ``(tenant, dedup_key)`` from its stream's events."""
    state = alert.initial_state(tenant, dedup_key)
    entries: list[HistoryEntry] = []
    ruleset_version: int | None = None
    silence_ids: tuple[str, ...] = ()
    for item in recorded:
        event = item.event
        state = alert.evolve(state, event)
        if alert.scores(event):
            ruleset_version = event.ruleset_version
        match event:
            case alert.AlertSilenced(silence_ids=ids):
                silence_ids = tuple(ids)
            case alert.AlertUnsilenced():
                silence_ids = ()
        entries.append(
            HistoryEntry(
                recorded=item,
                signal=_signal_seen(event, state),
                decision=not isinstance(event, alert.SignalAccepted),
            )
        )
    return AlertHistory(
        stream_id=stream_id,
        entries=tuple(entries),
        state=state,
        ruleset_version=ruleset_version,
        silence_ids=silence_ids,
    )


def _signal_seen(event: object, state: alert.AlertState) -> SignalSeen | None:
    match event:
        case alert.SignalAccepted(signal=s, late=late, late_beyond_horizon=beyond):
            return SignalSeen(
                signal_id=s.signal_id,
                source=s.source,
                received_at=s.received_at,
                signal=s,
                late=late,
                late_beyond_horizon=beyond,
            )
        case alert.SignalIgnored(signal=s):
            return SignalSeen(
                signal_id=s.signal_id,
                source=s.source,
                received_at=s.received_at,
                signal=s,
                ignored=True,
            )
        case alert.SignalRepeated(signal=s):
            return SignalSeen(
                signal_id=s.signal_id,
                source=s.source,
                received_at=s.received_at,
                signal=s,
                duplicate=True,
            )
        case alert.SignalDeduplicated(signal_id=sid, source=source, received_at=received):
            original = next((s for s in state.signals if s.signal_id == sid), None)
            return SignalSeen(
                signal_id=sid, source=source, received_at=received, signal=original, duplicate=True
            )
    return None


@attrs.frozen(kw_only=True)
class AlertDetail:
    """One alert: its row in the read models and its history from the event log."""

    row: alerts.AlertRow
    history: AlertHistory


def alert_detail(db: ReadModels, store: EventStore, *, tenant: str, alert_id: str) -> AlertDetail:
    """The tenant's alert ``alert_id`` (its stream id) with its history (blocking).

    Raises:
        AlertNotFound: no such alert in the tenant.
        StoreUnavailable: the read models or the store cannot be reached.
    """
    row = alerts.by_id(db, tenant=tenant, alert_id=alert_id)
    if row is None:
        raise AlertNotFound(alert_id)
    stream = uuid.UUID(row.stream_id)
    history = alert_history(
        stream, store.read_stream(stream), tenant=tenant, dedup_key=row.dedup_key
    )
    return AlertDetail(row=row, history=history)
