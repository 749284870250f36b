"""The decision messages of the analytics queue (``decision.v1``), as the fan-out sends them
and a rebuild from the log reads them: one per decision analytics counts."""

from __future__ import annotations

import msgspec

from helios.apps.application.analytics.facts import COUNTED
from helios.ports.event_store import LogEntry

_SIGNAL_ACCEPTED = "helios.alert.signal_accepted.v1"
# What analytics counts an accepted signal by; the rest of the signal (details, links, notes)
# stays in the log, and a message stays small.
_SIGNAL_FIELDS = (
    "signal_id",
    "source",
    "service",
    "severity",
    "action",
    "summary",
    "occurred_at",
    "received_at",
    "labels",
)


def decision_body(entry: LogEntry, *, tenant: str, key: str) -> bytes:
    """The message body of one decision of the log: where it is, whose it is, what it says
    (an accepted signal reduced to ``_SIGNAL_FIELDS``)."""
    event: object = entry.event
    if entry.name == _SIGNAL_ACCEPTED:
        accepted = msgspec.to_builtins(entry.event)
        signal = accepted["signal"]
        event = {
            "signal": {name: signal.get(name) for name in _SIGNAL_FIELDS},
            "late": accepted.get("late", False),
        }
    return msgspec.json.encode(
        {
            "position": entry.position,
            "stream_id": str(entry.stream_id),
            "version": entry.version,
            "name": entry.name,
            "tenant": tenant,
            "key": key,
            "event": event,
        }
    )


def is_fanned_out(name: str) -> bool:
    """Whether the log entry named ``name`` goes to the analytics queue: the decisions a fact
    is made of (``facts.COUNTED``). Incident events and the alerts' bookkeeping make none, and
    were a third of the messages."""
    return name in COUNTED
