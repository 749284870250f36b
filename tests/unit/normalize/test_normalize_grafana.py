"""Grafana alerting webhooks map like Alertmanager's, with Grafana's extras kept."""

from __future__ import annotations

import json

from normalize_support import only_signal, rejected_fields

from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Action, Severity, SourceKind

GRAFANA = SourceKind.GRAFANA
FIRING = "examples/grafana_webhook_firing.json"


def test_a_grafana_alert_becomes_a_trigger_with_its_links(run, payload):
    """Rule, dashboard, panel and silence URLs become links; values stay in details."""
    signal = only_signal(run(GRAFANA, payload(FIRING)))

    assert signal.source == "grafana"
    assert signal.action is Action.TRIGGER
    assert signal.dedup_key == "9b2e61c04fd87a13"
    assert signal.severity is Severity.WARNING
    assert signal.summary == "Disk /var/lib/postgresql on db-03 is 91.4% full"
    # startsAt carries a +01:00 offset: occurred_at is UTC.
    assert signal.occurred_at == parse_rfc3339("2026-03-14T07:55:00Z")
    assert signal.label("instance") == "db-03.prod-eu-1:9100"
    assert [link.text for link in signal.links] == [
        "Alert rule",
        "Dashboard",
        "Panel",
        "Silence",
        "Grafana",
    ]
    assert signal.links[2].href.endswith("viewPanel=12")
    details = json.loads(signal.details)
    assert details["values"] == {"A": 91.4, "B": 1}
    assert details["valueString"].startswith("[ var='A'")
    assert details["group"]["orgId"] == 1
    assert details["group"]["state"] == "alerting"
    assert details["group"]["title"].startswith("[FIRING:1] DiskAlmostFull")
    assert "silenceURL" not in details


def test_a_resolved_grafana_alert_resolves(run, payload_json):
    """status resolved resolves at endsAt."""
    webhook = payload_json(FIRING)
    webhook["alerts"][0]["status"] = "resolved"
    webhook["alerts"][0]["endsAt"] = "2026-03-14T09:10:00+01:00"

    signal = only_signal(run(GRAFANA, webhook))

    assert signal.action is Action.RESOLVE
    assert signal.occurred_at == parse_rfc3339("2026-03-14T08:10:00Z")


def test_a_malformed_grafana_link_is_rejected_naming_the_field(run, payload_json):
    """Grafana's extra link fields are checked like any other."""
    webhook = payload_json(FIRING)
    webhook["alerts"][0]["panelURL"] = ["not", "a", "url"]

    assert rejected_fields(run(GRAFANA, webhook)) == {"alerts[0].panelURL"}


def test_a_grafana_alert_with_a_bad_timestamp_is_rejected(run, payload_json):
    """startsAt must be RFC 3339."""
    webhook = payload_json(FIRING)
    webhook["alerts"][0]["startsAt"] = "2026-03-14 nine o'clock"

    assert rejected_fields(run(GRAFANA, webhook)) == {"alerts[0].startsAt"}
