"""Value types shared by every part of the domain.

Time is an ``int`` of UTC milliseconds since the Unix epoch everywhere in the domain: integers
compare, hash and serialise identically on every platform, which replay depends on.
"""

from __future__ import annotations

import enum

import attrs
import msgspec

Millis = int
"""UTC milliseconds since the Unix epoch."""

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

_ACTION_RANK = {"trigger": 0, "acknowledge": 1, "resolve": 2}
_SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3, "critical": 4}


class Action(enum.Enum):
    """What a signal says happened to an alert."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"

    def __init__(self, value: str) -> None:
        # Plain member attributes, not properties: they are read for every signal, and an
        # enum property (or a dict keyed by members, hashed in Python) costs far more.
        self.rank: int = _ACTION_RANK[value]
        """Tie-break rank in canonical order: trigger < acknowledge < resolve."""
        self.text: str = value
        """The wire name (``value``, read without the enum descriptor)."""


class Severity(enum.Enum):
    """Canonical severity, ordered by ``rank`` (critical is highest)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __init__(self, value: str) -> None:
        self.rank: int = _SEVERITY_RANK[value]
        """4 for critical down to 1 for info."""
        self.text: str = value
        """The wire name (``value``, read without the enum descriptor)."""


class SourceKind(enum.Enum):
    """The wire formats Helios accepts."""

    PAGERDUTY = "pagerduty"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    CLOUDWATCH = "cloudwatch"
    GENERIC = "generic"
    USER = "user"
    PAGERDUTY_CHANGE = "pagerduty_change"
    """PagerDuty change events (deploys, config changes): recorded as changes, never alerts."""


class Status(enum.Enum):
    """Status of an alert's current episode."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Priority(enum.Enum):
    """P1 is the most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"

    def __init__(self, value: str) -> None:
        self.urgency: int = 6 - int(value[1])
        """5 for P1 down to 1 for P5, so that ``max`` picks the most urgent."""


class NotificationReason(enum.StrEnum):
    """Why a notification was asked for (or would have been, when suppressed).

    A ``StrEnum``: recorded events store the value, so records made when this was a plain
    ``str`` field decode to its members and encode to the same bytes.
    """

    TRIGGERED = "triggered"
    REOPENED = "reopened"
    PRIORITY_RAISED = "priority_raised"
    RESOLVED = "resolved"
    FLAPPING_CLEARED = "flapping_cleared"
    ESCALATION = "escalation"


Labels = tuple[tuple[str, str], ...]
"""Sorted (key, value) pairs; a tuple so that signals stay hashable and immutable."""


@attrs.frozen(kw_only=True)
class Link:
    href: str
    text: str = ""


@attrs.frozen(kw_only=True)
class Envelope:
    """What the API accepted, exactly as received, plus who sent it and when."""

    ingest_id: str
    tenant: str
    integration: str
    source: SourceKind
    received_at: Millis
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


class Signal(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One canonical, validated observation about one alert.

    ``signal_id`` is a content hash of the observation (see ``helios.domain.identity``): the
    same observation delivered twice, by a retry or by both members of an HA pair, has the
    same id, whatever its ``received_at`` or the integration it came through.

    A frozen ``msgspec.Struct``, not an attrs class: one is built for every signal of every
    envelope, and a struct is built several times faster (in C) and is never tracked by the
    garbage collector (it can hold no cycle). Its fields are declared in name order because
    records store a signal as msgspec wrote the attrs class it was, keys in name order: the
    stored bytes stay those of every signal recorded before.
    """

    action: Action
    class_: str = ""
    component: str = ""
    dedup_key: str
    details: str = "{}"
    """Canonical JSON text (sorted keys): immutable and byte-stable."""
    group: str = ""
    integration: str
    labels: Labels = ()
    links: tuple[Link, ...] = ()
    notes: tuple[str, ...] = ()
    """What normalization changed and why (truncation, clamped clock skew, defaults)."""
    occurred_at: Millis
    received_at: Millis
    service: str = ""
    severity: Severity
    signal_id: str
    source: str
    summary: str
    tenant: str

    def label(self, name: str) -> str | None:
        for key, value in self.labels:
            if key == name:
                return value
        return None


def order_key(signal: Signal) -> tuple[int, int, str]:
    """The canonical order of signals: ``(occurred_at, action rank, signal_id)``.

    A plain function rather than a property: the alert sorts and bisects by it for every
    signal, and a function passed as a key is cheaper than a property looked up through a
    lambda.
    """
    return (signal.occurred_at, signal.action.rank, signal.signal_id)
