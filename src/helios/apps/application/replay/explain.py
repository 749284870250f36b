"""Explain one alert: its signals and every decision, with each score's factors.

Reads the alert's own stream only (``read_stream``), so explaining is cheap whatever the size
of the log; the state shown at the end is the fold of those recorded events.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from helios.apps.application.alert_history import SignalSeen as SignalSeenInStream
from helios.apps.application.alert_history import alert_history
from helios.apps.application.replay.results import plain
from helios.domain import alert
from helios.domain.scoring import Factor
from helios.domain.values import Millis
from helios.ports.event_store import EventStore


class AlertNotFound(LookupError):
    """The store holds no events for this alert."""


@attrs.frozen(kw_only=True)
class SignalSeen:
    """One signal as the alert saw it."""

    version: int
    signal_id: str
    source: str
    action: str
    severity: str
    occurred_at: Millis
    received_at: Millis
    summary: str = ""
    duplicate: bool = False
    late: bool = False


@attrs.frozen(kw_only=True)
class Decision:
    """One recorded decision; ``what`` is a one-line summary for a reader."""

    version: int
    name: str
    kind: str
    at: Millis
    what: str
    priority: str | None = None
    score: int | None = None
    factors: tuple[Factor, ...] = ()
    ruleset_version: int | None = None
    silence_ids: tuple[str, ...] = ()
    event: Any = None


@attrs.frozen(kw_only=True)
class AlertStory:
    """An alert's signals and decisions in stream order, and where it stands now."""

    tenant: str
    dedup_key: str
    stream_id: str
    status: str | None
    priority: str | None
    score: int | None
    episodes: int
    silenced_by: tuple[str, ...]
    signals: tuple[SignalSeen, ...]
    decisions: tuple[Decision, ...]


def explain(
    store: EventStore,
    *,
    tenant: str | None = None,
    dedup_key: str | None = None,
    stream_id: uuid.UUID | None = None,
) -> AlertStory:
    """The story of the alert ``(tenant, dedup_key)`` or of the alert stream ``stream_id``.

    Raises:
        ValueError: neither a (tenant, dedup key) pair nor a stream id was given.
        AlertNotFound: no events are recorded for that alert.
        StoreUnavailable: the store cannot be reached.
    """
    if stream_id is None:
        if tenant is None or dedup_key is None:
            raise ValueError("give a tenant and a dedup key, or an alert stream id")
        stream_id = alert.alert_stream_id(tenant, dedup_key)
    recorded = store.read_stream(stream_id)
    if not recorded:
        raise AlertNotFound(f"no alert recorded in stream {stream_id}")
    first = next(
        (
            r.event
            for r in recorded
            if isinstance(r.event, alert.SignalAccepted | alert.SignalIgnored)
        ),
        None,
    )
    if first is not None:
        tenant, dedup_key = first.signal.tenant, first.signal.dedup_key
    history = alert_history(stream_id, recorded, tenant=tenant or "", dedup_key=dedup_key or "")
    state = history.state
    signals = [
        _signal(entry.recorded.version, entry.signal)
        for entry in history.entries
        if entry.signal is not None
    ]
    # Copies are shown among the signals (flagged), not again among the decisions.
    decisions = [
        _decision(entry.recorded.version, entry.recorded.event)
        for entry in history.entries
        if entry.decision and not (entry.signal is not None and entry.signal.duplicate)
    ]
    return AlertStory(
        tenant=state.tenant,
        dedup_key=state.dedup_key,
        stream_id=str(stream_id),
        status=state.status.value if state.status else None,
        priority=state.priority.value if state.priority else None,
        score=state.score,
        episodes=state.fold.episodes,
        silenced_by=state.silenced_by,
        signals=tuple(signals),
        decisions=tuple(decisions),
    )


def _signal(version: int, seen: SignalSeenInStream) -> SignalSeen:
    s = seen.signal
    return SignalSeen(
        version=version,
        signal_id=seen.signal_id,
        source=seen.source,
        action=s.action.value if s else "",
        severity=s.severity.value if s else "",
        occurred_at=s.occurred_at if s else seen.received_at,
        received_at=seen.received_at,
        summary=s.summary if s else "",
        duplicate=seen.duplicate,
        late=seen.late,
    )


def _score_of(event: Any) -> dict[str, Any]:
    """A ``Decision``'s score fields, from an ``AlertScored`` or an opening scored with it."""
    return {
        "priority": event.priority.value,
        "score": event.score,
        "factors": event.factors,
        "ruleset_version": event.ruleset_version,
    }


def _decision(version: int, event: Any) -> Decision:
    name: str = type(event).NAME
    kind = name.split(".")[2]
    common: dict[str, Any] = {"version": version, "name": name, "kind": kind, "event": plain(event)}
    at = getattr(event, "at", 0)
    match event:
        case alert.AlertTriggered() | alert.AlertReopened():
            what = f"episode {event.episode} {kind} as {event.severity.value}: {event.summary}"
            what += f" (group {event.group_key})"
            if event.priority is None:
                return Decision(at=at, what=what, **common)
            # Scored as it opened (engine version 4 on).
            what += f", scored {event.priority.value} ({event.score})"
            return Decision(at=at, what=what, **_score_of(event), **common)
        case alert.AlertAcknowledged(by=by) | alert.AlertResolved(by=by):
            return Decision(at=at, what=f"episode {event.episode} {kind} by {by}", **common)
        case alert.AlertScored():
            before = (
                f"{event.previous_priority.value} ({event.previous_score}) → "
                if event.previous_priority is not None
                else ""
            )
            what = f"scored {before}{event.priority.value} ({event.score})"
            return Decision(at=at, what=what, **_score_of(event), **common)
        case alert.NotificationRequested():
            priority = event.priority.value if event.priority else None
            what = f"notify {event.recipients} by {event.channel}: {event.reason}"
            return Decision(
                at=at,
                what=what + (f" at {priority}" if priority else ""),
                priority=priority,
                ruleset_version=event.ruleset_version,
                **common,
            )
        case alert.NotificationSuppressed():
            return Decision(
                at=at,
                what=f"notification ({event.reason}) suppressed: {event.because}",
                silence_ids=event.silence_ids,
                **common,
            )
        case alert.AlertSilenced(silence_ids=ids):
            what = f"silenced by {', '.join(ids)}"
            return Decision(at=at, what=what, silence_ids=ids, **common)
        case alert.EscalationDue():
            what = f"escalation due at {event.priority.value} (not acknowledged)"
            return Decision(at=at, what=what, priority=event.priority.value, **common)
        case alert.SignalLate():
            return Decision(at=at or event.occurred_at, what="late signal", **common)
        case alert.SignalIgnored(signal=signal, reason=reason):
            what = f"{signal.action.value} ignored: {reason.replace('_', ' ')}"
            return Decision(at=signal.occurred_at, what=what, **common)
    return Decision(at=at, what=kind.replace("_", " "), **common)
