"""Well-formed payloads are decoded into typed structs, to the same result as the field checks."""

from __future__ import annotations

import orjson
import pytest

from conftest import PAYLOADS, RECEIVED_AT
from helios.domain import versions
from helios.domain.normalize import ChangeNormalized, Normalized, dispatch
from helios.domain.normalize import common as check
from helios.domain.normalize.dispatch import normalize_checked
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope, SourceKind

WELL_FORMED = [
    (SourceKind.ALERTMANAGER, "examples/alertmanager_v4_firing.json"),
    (SourceKind.ALERTMANAGER, "examples/alertmanager_v4_resolved.json"),
    (SourceKind.ALERTMANAGER, "alertmanager-0.25-captured/webhook_v4_firing.json"),
    (SourceKind.ALERTMANAGER, "alertmanager-0.25-captured/webhook_v4_resolved.json"),
    (SourceKind.GRAFANA, "examples/grafana_webhook_firing.json"),
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_trigger.json"),
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_acknowledge.json"),
    (SourceKind.PAGERDUTY_CHANGE, "examples/pagerduty_v2_change.json"),
    (SourceKind.CLOUDWATCH, "examples/sns_cloudwatch_notification.json"),
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_resolve.json"),
    (
        SourceKind.PAGERDUTY,
        "alertmanager-0.25-captured/pagerduty_v2_trigger_from_alertmanager.json",
    ),
    (
        SourceKind.PAGERDUTY,
        "alertmanager-0.25-captured/pagerduty_v2_resolve_from_alertmanager.json",
    ),
]


GENERIC_EVENTS = [
    {
        "action": "trigger",
        "dedup_key": "db-1/disk",
        "summary": "Disk on db-1 is full",
        "severity": "critical",
        "occurred_at": "2026-03-14T09:21:30.512Z",
        "service": "storage",
        "class": "disk",
        "labels": {"instance": "db-1:9100"},
        "links": [{"href": "https://runbooks.example.internal/disk", "text": "Runbook"}],
        "details": {"free_bytes": 0, "mount": "/var/lib/postgresql", "ratio": 1e16},
    },
    {"action": "resolve", "labels": {"alertname": "DiskFull"}, "details": {"é": "ü"}},
]


def _envelope(source: SourceKind, body: bytes) -> Envelope:
    return Envelope(
        ingest_id="ing-1",
        tenant="acme",
        integration="int-1",
        source=source,
        received_at=RECEIVED_AT,
        body=body,
    )


def _typed(envelope: Envelope, version: int) -> object:
    typed = dispatch._TYPED_NORMALIZERS.get(envelope.source.value)
    assert typed is not None
    return typed(envelope, Ruleset(), version)


@pytest.mark.parametrize("version", range(versions.LEGACY, versions.CURRENT + 1))
@pytest.mark.parametrize(("source", "name"), WELL_FORMED, ids=[name for _, name in WELL_FORMED])
def test_a_well_formed_payload_is_normalized_by_typed_decoding_to_the_checked_result(
    source, name, version
):
    envelope = _envelope(source, (PAYLOADS / name).read_bytes())
    typed = _typed(envelope, version)
    assert isinstance(typed, Normalized | ChangeNormalized)
    assert typed == normalize_checked(envelope, Ruleset(), decode=orjson.loads, version=version)


@pytest.mark.parametrize("event", GENERIC_EVENTS)
def test_a_well_formed_generic_event_is_normalized_by_typed_decoding_to_the_checked_result(event):
    envelope = _envelope(SourceKind.GENERIC, orjson.dumps(event))
    typed = _typed(envelope, versions.CURRENT)
    assert isinstance(typed, Normalized)
    assert typed == normalize_checked(envelope, Ruleset(), decode=orjson.loads)


def test_a_float_in_details_is_written_as_the_json_module_writes_it():
    envelope = _envelope(SourceKind.GENERIC, orjson.dumps(GENERIC_EVENTS[0]))
    typed = _typed(envelope, versions.CURRENT)
    assert isinstance(typed, Normalized)
    assert '"ratio":1e+16' in typed.signals[0].details


@pytest.mark.parametrize(
    ("source", "body"),
    [
        (SourceKind.ALERTMANAGER, b'{"alerts":[{"status":"firing","labels":{"a":1}}]}'),
        (SourceKind.ALERTMANAGER, b'{"alerts":[{"status":"firing","surprise":true}]}'),
        (SourceKind.ALERTMANAGER, b'{"alerts":[{"status":"burning"}]}'),
        (SourceKind.ALERTMANAGER, b'{"alerts":[],"truncatedAlerts":18446744073709551616}'),
        (SourceKind.GRAFANA, b'{"alerts":[{"status":"firing","values":{"A":1e400}}]}'),
        (SourceKind.PAGERDUTY, b'{"routing_key":"r","event_action":"resolve"}'),
        (SourceKind.PAGERDUTY, b'{"routing_key":"r","event_action":"trigger","payload":{}}'),
        (SourceKind.PAGERDUTY, b'{"routing_key":"r","event_action":"ack","dedup_key":"k"}'),
        (SourceKind.PAGERDUTY, b'{"routing_key":"\\ud800","event_action":"resolve"}'),
        (SourceKind.GENERIC, b'{"action":"trigger","details":{"nested":{"a":1}}}'),
        (SourceKind.GENERIC, b'{"action":"trigger","team":"storage"}'),
        (SourceKind.GENERIC, b'{"action":"trigger","links":[{"href":""}]}'),
        (SourceKind.PAGERDUTY_CHANGE, b'{"routing_key":"r","payload":{"summary":""}}'),
        (SourceKind.CLOUDWATCH, b'{"Type":"SubscriptionConfirmation","Message":"m"}'),
        (SourceKind.CLOUDWATCH, b'{"Type":"Notification","Message":"{\\"AlarmName\\":1}"}'),
        (SourceKind.PAGERDUTY_CHANGE, b'{"routing_key":"r","payload":{"summary":"s","x":1}}'),
    ],
)
def test_a_payload_the_typed_structs_refuse_is_left_to_the_field_checks(source, body):
    assert _typed(_envelope(source, body), versions.CURRENT) is None


def test_typed_decoding_writes_notes_in_the_order_of_the_field_checks():
    summary = "x" * 2000
    body = b'{"alerts":[{"status":"firing","annotations":{"summary":"%s"}}]}' % summary.encode()
    envelope = _envelope(SourceKind.ALERTMANAGER, body)
    typed = _typed(envelope, versions.CURRENT)
    assert isinstance(typed, Normalized)
    assert typed.signals[0].notes == (
        "alerts[0].labels.severity missing: used warning",
        "summary truncated from 2000 to 1024 characters",
        "alerts[0].startsAt missing: used received_at",
    )
    assert typed == normalize_checked(envelope, Ruleset(), decode=orjson.loads)


def test_a_recurring_link_is_shared_but_a_long_one_is_not_kept():
    assert check.link("https://prometheus.example.internal/graph", "Source") is check.link(
        "https://prometheus.example.internal/graph", "Source"
    )
    long_href = "https://example.internal/" + "x" * 4096
    assert check.link(long_href, "Source") is not check.link(long_href, "Source")
    assert check.link(long_href, "Source") == check.link(long_href, "Source")
