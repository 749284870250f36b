"""Decision messages (``decision.v1``, from the fan-out) to analytics facts."""

from __future__ import annotations

from typing import Any

import msgspec

from helios.ports.analytics import Fact

COUNTED = {
    "helios.alert.signal_accepted.v1": "signal",
    "helios.alert.signal_repeated.v1": "duplicate",
    "helios.alert.signal_deduplicated.v1": "duplicate",
    "helios.alert.signal_ignored.v1": "ignored",
    "helios.alert.triggered.v1": "triggered",
    "helios.alert.reopened.v1": "reopened",
    "helios.alert.acknowledged.v1": "acknowledged",
    "helios.alert.resolved.v1": "resolved",
    "helios.alert.scored.v1": "scored",
    "helios.alert.flapping_started.v1": "flapping_started",
    "helios.alert.flapping_cleared.v1": "flapping_cleared",
    "helios.alert.silenced.v1": "silenced",
    "helios.alert.notification_requested.v1": "notified",
    "helios.alert.notification_suppressed.v1": "suppressed",
    "helios.alert.escalation_due.v1": "escalation",
}
"""The decisions analytics counts, by wire name; any other decision gives no fact (and the
fan-out does not send it)."""


class BadDecision(ValueError):
    """A message that is not a decision the fan-out sends."""


def fact_from_message(body: bytes) -> Fact | None:
    """The fact a ``decision.v1`` message records, or None for a decision not counted.

    Raises:
        BadDecision: the body is not a decision message.
    """
    try:
        message = msgspec.json.decode(body)
        name = message["name"]
        position = int(message["position"])
        tenant = str(message["tenant"])
        key = str(message["key"])
        event = message["event"]
    except (msgspec.DecodeError, KeyError, TypeError, ValueError) as error:
        raise BadDecision(f"not a decision message: {error}") from error
    kind = COUNTED.get(name)
    if kind is None or not isinstance(event, dict):
        return None
    return _fact(kind, event, position=position, tenant=tenant, key=key)


def _fact(kind: str, event: dict[str, Any], *, position: int, tenant: str, key: str) -> Fact:
    if kind == "signal":
        signal = event.get("signal") or {}
        return Fact(
            position=position,
            tenant=tenant,
            kind=kind,
            key=key,
            at_ms=int(signal.get("received_at") or signal.get("occurred_at") or 0),
            source=str(signal.get("source") or ""),
            service=str(signal.get("service") or ""),
            detail=_alertname(signal)[:200],
        )
    if kind in ("duplicate", "ignored"):
        signal = event.get("signal") or {}
        at = event.get("received_at") or signal.get("received_at") or 0
        source = event.get("source") or signal.get("source") or ""
        return Fact(
            position=position, tenant=tenant, kind=kind, key=key, at_ms=int(at), source=str(source)
        )
    priority = event.get("priority")
    detail = event.get("by") or event.get("because") or event.get("reason") or ""
    if kind in ("triggered", "reopened"):
        detail = event.get("summary") or ""
    return Fact(
        position=position,
        tenant=tenant,
        kind=kind,
        key=key,
        at_ms=int(event.get("at") or 0),
        episode=str(event.get("episode_id") or ""),
        priority=str(priority) if isinstance(priority, str) else "",
        detail=str(detail)[:200],
    )


def _alertname(signal: dict[str, Any]) -> str:
    """What people call the alert: its ``alertname`` label, else its summary."""
    for pair in signal.get("labels") or ():
        if isinstance(pair, list | tuple) and len(pair) == 2 and pair[0] == "alertname":
            return str(pair[1])
    return str(signal.get("summary") or "")
