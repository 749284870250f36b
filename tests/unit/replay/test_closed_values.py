"""Fields whose values are a closed set are ``StrEnum`` members, and that changes no byte.

Those fields were plain ``str`` when the recorded logs were written. A ``StrEnum`` member is
encoded as its value, exactly as the string was, and decodes back to the member: replay, which
compares every decision byte for byte, cannot tell the difference.
"""

from __future__ import annotations

import base64
import enum
import json
from typing import Any

import msgspec
import pytest
from legacy_log import LOG

from helios.adapters.store.codec import EventCodec
from helios.domain import alert, incident
from helios.domain.fold import FoldPolicy
from helios.domain.values import Action, NotificationReason, Priority, Severity, Signal, Status

CLOSED_FIELDS: dict[type[Any], dict[str, type[enum.StrEnum]]] = {
    alert.NotificationRequested: {"reason": NotificationReason},
    alert.NotificationSuppressed: {
        "reason": NotificationReason,
        "because": alert.SuppressedBecause,
    },
    alert.SignalIgnored: {"reason": alert.IgnoredBecause},
    incident.IncidentAlertChanged: {"change": incident.AlertChange},
    incident.IncidentNotified: {"reason": NotificationReason},
}


def _events_with(field: str, member: enum.StrEnum) -> list[Any]:
    requested = alert.NotificationRequested(
        notification_id="ntf-1",
        episode=1,
        episode_id="sig-1",
        at=1_000,
        reason=NotificationReason.TRIGGERED,
        priority=Priority.P1,
        channel="email",
        recipients="on-call",
        ruleset_version=3,
    )
    suppressed = alert.NotificationSuppressed(
        notification_id="ntf-2",
        episode=1,
        episode_id="sig-1",
        at=2_000,
        reason=NotificationReason.ESCALATION,
        because=alert.SuppressedBecause.FLAPPING,
        silence_ids=("sil-1",),
    )
    ignored = alert.SignalIgnored(
        signal=_signal(), policy=FoldPolicy(), reason=alert.IgnoredBecause.NEVER_TRIGGERED
    )
    changed = incident.IncidentAlertChanged(
        incident_id="inc-1",
        dedup_key="db-1",
        change=incident.AlertChange.RESOLVED,
        status=Status.RESOLVED,
        priority=Priority.P2,
        at=3_000,
    )
    notified = incident.IncidentNotified(
        incident_id="inc-1", dedup_key="db-1", notification_id="ntf-1", reason=member, at=4_000
    )
    candidates = [requested, suppressed, ignored, changed, notified]
    return [
        msgspec.structs.replace(event, **{field: member})
        for event in candidates
        if CLOSED_FIELDS[type(event)].get(field) is type(member)
    ]


def _signal() -> Signal:
    return Signal(
        signal_id="sig-9",
        tenant="acme",
        integration="int-1",
        source="pagerduty",
        dedup_key="db-1",
        action=Action.RESOLVE,
        severity=Severity.ERROR,
        summary="resolved before it triggered",
        occurred_at=500,
        received_at=600,
    )


MEMBERS = sorted(
    {
        (field, member)
        for fields in CLOSED_FIELDS.values()
        for field, kind in fields.items()
        for member in kind
    },
    key=str,
)


@pytest.mark.parametrize(("field", "member"), MEMBERS, ids=str)
def test_a_member_encodes_to_the_bytes_its_plain_string_did_and_decodes_to_the_member(
    field: str, member: enum.StrEnum
) -> None:
    codec = EventCodec()
    events = _events_with(field, member)
    assert events
    for event in events:
        name, encoded = codec.encode(event)
        as_plain_string = msgspec.structs.replace(event, **{field: str(member.value)})
        assert type(getattr(as_plain_string, field)) is str
        assert codec.encode(as_plain_string) == (name, encoded)
        _, decoded = codec.decode(name, encoded)
        assert getattr(decoded, field) is member
        assert decoded == event


def test_every_recorded_closed_value_decodes_to_a_member_and_encodes_to_its_recorded_bytes() -> (
    None
):
    """The legacy log was recorded while these fields were plain strings."""
    codec = EventCodec()
    seen: set[tuple[str, enum.StrEnum]] = set()
    for line in map(json.loads, LOG.read_text().splitlines()):
        recorded = base64.b64decode(line["state"])
        name, event = codec.decode(line["name"], recorded)
        for field, kind in CLOSED_FIELDS.get(type(event), {}).items():
            value = getattr(event, field)
            assert type(value) is kind, (name, field, value)
            seen.add((field, value))
        assert codec.encode(event) == (name, recorded)
    assert ("change", incident.AlertChange.OPENED) in seen
    assert ("reason", NotificationReason.ESCALATION) in seen


@pytest.mark.parametrize("severity", list(Severity), ids=str)
def test_an_opened_episode_records_its_severity_as_the_bytes_of_its_name(
    severity: Severity,
) -> None:
    codec = EventCodec()
    for kind in (alert.AlertTriggered, alert.AlertReopened):
        event = kind(
            episode=1, episode_id="sig-1", at=1_000, severity=severity, summary="s", group_key="g"
        )
        name, encoded = codec.encode(event)
        as_plain_string = msgspec.structs.replace(event, severity=severity.value)
        assert codec.encode(as_plain_string) == (name, encoded)
        assert codec.decode(name, encoded)[1].severity is severity


def test_every_recorded_opened_episode_decodes_its_severity_to_a_member() -> None:
    codec = EventCodec()
    opened = 0
    for line in map(json.loads, LOG.read_text().splitlines()):
        recorded = base64.b64decode(line["state"])
        name, event = codec.decode(line["name"], recorded)
        if isinstance(event, alert.AlertTriggered | alert.AlertReopened):
            assert type(event.severity) is Severity
            assert codec.encode(event) == (name, recorded)
            opened += 1
    assert opened
