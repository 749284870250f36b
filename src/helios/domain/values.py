"""Value types shared by every part of the domain.

Time is an ``int`` of UTC milliseconds since the Unix epoch everywhere in the domain: integers
compare, hash and serialise identically on every platform, which replay depends on.
"""

from __future__ import annotations

import enum

import attrs

Millis = int
"""UTC milliseconds since the Unix epoch."""

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS


class Action(enum.Enum):
    """What a signal says happened to an alert."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"

    @property
    def rank(self) -> int:
        """Tie-break rank in canonical order: trigger < acknowledge < resolve."""
        return _ACTION_RANK[self]


_ACTION_RANK = {Action.TRIGGER: 0, Action.ACKNOWLEDGE: 1, Action.RESOLVE: 2}


class Severity(enum.Enum):
    """Canonical severity, ordered by ``rank`` (critical is highest)."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3, Severity.CRITICAL: 4}


class SourceKind(enum.Enum):
    """The wire formats Helios accepts."""

    PAGERDUTY = "pagerduty"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    CLOUDWATCH = "cloudwatch"
    GENERIC = "generic"
    USER = "user"


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

    @property
    def urgency(self) -> int:
        """5 for P1 down to 1 for P5, so that ``max`` picks the most urgent."""
        return 6 - int(self.value[1])


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


@attrs.frozen(kw_only=True)
class Signal:
    """One canonical, validated observation about one alert.

    ``signal_id`` is a content hash of the observation (see ``helios.domain.identity``): the
    same observation delivered twice, by a retry or by both members of an HA pair, has the
    same id, whatever its ``received_at`` or the integration it came through.
    """

    signal_id: str
    tenant: str
    integration: str
    source: str
    dedup_key: str
    action: Action
    severity: Severity
    summary: str
    occurred_at: Millis
    received_at: Millis
    service: str = ""
    component: str = ""
    group: str = ""
    class_: str = ""
    labels: Labels = ()
    links: tuple[Link, ...] = ()
    details: str = "{}"
    """Canonical JSON text (sorted keys): immutable and byte-stable."""
    notes: tuple[str, ...] = ()
    """What normalization changed and why (truncation, clamped clock skew, defaults)."""

    @property
    def order_key(self) -> tuple[int, int, str]:
        """Canonical order: ``(occurred_at, action rank, signal_id)``."""
        return (self.occurred_at, self.action.rank, self.signal_id)

    def label(self, name: str) -> str | None:
        for key, value in self.labels:
            if key == name:
                return value
        return None
