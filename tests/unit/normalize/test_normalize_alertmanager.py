"""Alertmanager webhooks become one signal per alert; a malformed alert rejects the batch."""

from __future__ import annotations

import json

import pytest
from normalize_support import only_signal, only_signals, rejected_fields

from helios.domain.identity import labels_dedup_key
from helios.domain.normalize import Normalized
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Action, Link, Severity, SourceKind

AM = SourceKind.ALERTMANAGER
FIRING = "examples/alertmanager_v4_firing.json"
RESOLVED = "examples/alertmanager_v4_resolved.json"
CAPTURED_FIRING = "alertmanager-0.25-captured/webhook_v4_firing.json"
CAPTURED_RESOLVED = "alertmanager-0.25-captured/webhook_v4_resolved.json"


def test_a_firing_batch_gives_one_trigger_per_alert(run, payload):
    """Given two firing alerts, two triggers come out, each keyed by its fingerprint."""
    first, second = only_signals(run(AM, payload(FIRING)))

    assert [first.dedup_key, second.dedup_key] == ["3f9c1a7e52b04d18", "a41e07c9d3b65f20"]
    assert first.source == "alertmanager"
    assert first.action is Action.TRIGGER
    assert first.severity is Severity.CRITICAL
    assert first.summary == "5xx rate on checkout-7d9f8c6b5-x2k4q above 2 req/s"
    assert first.occurred_at == parse_rfc3339("2026-03-14T09:21:30.512Z")
    assert first.service == "checkout"
    assert first.label("pod") == "checkout-7d9f8c6b5-x2k4q"
    assert [key for key, _ in first.labels] == sorted(key for key, _ in first.labels)
    assert first.links == (
        Link(
            href="https://prometheus.prod-eu-1.example.internal/graph?g0.expr=sum+by+%28pod%29"
            "+%28rate%28http_requests_total%7Bservice%3D%22checkout%22%2Ccode%3D~%225..%22%7D"
            "%5B5m%5D%29%29+%3E+2&g0.tab=1",
            text="Source",
        ),
        Link(href="https://alertmanager.prod-eu-1.example.internal", text="Alertmanager"),
    )
    assert first.notes == ()
    assert second.summary == "5xx rate on checkout-7d9f8c6b5-m8p2r above 2 req/s"


def test_details_keep_annotations_group_fields_and_newer_unknown_fields(run, payload):
    """Fields added by later versions (notification_reason, routeLabels) are kept."""
    first = only_signals(run(AM, payload(FIRING)))[0]

    details = json.loads(first.details)
    assert details["annotations"]["runbook_url"] == "https://runbooks.example.internal/checkout/5xx"
    assert details["group"]["notification_reason"] == "first notification"
    assert details["group"]["routeLabels"] == {}
    assert details["group"]["receiver"] == "helios-webhook"
    assert details["group"]["truncatedAlerts"] == 0
    assert "commonLabels" not in details["group"]
    assert first.details == json.dumps(
        details, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_a_resolved_batch_resolves_at_ends_at(run, payload):
    """Resolved alerts occur at their endsAt."""
    received_at = parse_rfc3339("2026-03-14T09:47:05Z")
    first, second = only_signals(run(AM, payload(RESOLVED), received_at=received_at))

    assert first.action is Action.RESOLVE
    assert first.occurred_at == parse_rfc3339("2026-03-14T09:47:00.512Z")
    assert second.occurred_at == parse_rfc3339("2026-03-14T09:46:30.512Z")
    assert first.dedup_key == "3f9c1a7e52b04d18"


def test_the_captured_webhooks_trigger_and_resolve_one_alert(run, payload):
    """Alertmanager 0.25's real firing and resolved webhooks address the same alert."""
    received_at = parse_rfc3339("2026-11-26T18:59:30Z")
    firing = only_signal(run(AM, payload(CAPTURED_FIRING), received_at=received_at))
    resolved = only_signal(run(AM, payload(CAPTURED_RESOLVED), received_at=received_at))

    assert firing.action is Action.TRIGGER
    assert firing.occurred_at == parse_rfc3339("2026-11-26T18:59:02.568Z")
    assert firing.severity is Severity.WARNING
    assert firing.summary == "Disk on db-1 will fill within 4h"
    assert firing.service == "storage"
    assert resolved.action is Action.RESOLVE
    assert resolved.occurred_at == parse_rfc3339("2026-11-26T18:59:26.568Z")
    assert resolved.dedup_key == firing.dedup_key == "20a604bad6a8cdda"


@pytest.mark.parametrize(
    "alert_fields",
    [{}, {"annotations": {}}, {"zzz": 1}, {"annotations": {"a": "é"}, "zzz": [1.5, None]}],
)
def test_details_are_canonical_json_whatever_the_alert_fields(run, payload_json, alert_fields):
    """The group's fields are spliced in at their sorted place."""
    webhook = payload_json(FIRING)
    alert = {k: v for k, v in webhook["alerts"][0].items() if k != "annotations"}
    webhook["alerts"] = [{**alert, **alert_fields}]

    signal = only_signal(run(AM, webhook))

    expected = {**alert_fields, "group": json.loads(signal.details)["group"]}
    assert signal.details == json.dumps(
        expected, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_an_empty_batch_is_normalized_to_no_signals(run, payload_json):
    """Zero alerts is not an error."""
    webhook = payload_json(FIRING)
    webhook["alerts"] = []

    assert run(AM, webhook) == Normalized(signals=())


def test_without_fingerprint_the_key_labels_make_the_dedup_key(run, payload_json):
    """Given no fingerprint, the dedup key is the hash of alertname, service, instance."""
    webhook = payload_json(CAPTURED_FIRING)
    del webhook["alerts"][0]["fingerprint"]

    signal = only_signal(run(AM, webhook, received_at=parse_rfc3339("2026-11-26T19:00:00Z")))

    assert signal.dedup_key == labels_dedup_key(signal.labels, Ruleset().key_labels)
    assert signal.dedup_key.startswith("lbl-")


def test_a_resolved_alert_with_zero_ends_at_falls_back_to_received_at(run, payload_json):
    """Go's zero time means unset: occurred_at becomes received_at, with a note."""
    webhook = payload_json(CAPTURED_RESOLVED)
    webhook["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    received_at = parse_rfc3339("2026-11-26T19:00:00Z")

    signal = only_signal(run(AM, webhook, received_at=received_at))

    assert signal.occurred_at == received_at
    assert "alerts[0].endsAt missing: used received_at" in signal.notes


@pytest.mark.parametrize(
    ("annotations", "labels_extra", "summary"),
    [
        ({"summary": "S", "description": "D"}, {}, "S"),
        ({"description": "D"}, {}, "D"),
        ({}, {}, "DiskFilling"),
    ],
)
def test_the_summary_falls_back_from_summary_to_description_to_alertname(
    run, payload_json, annotations, labels_extra, summary
):
    """annotations.summary, else annotations.description, else labels.alertname."""
    webhook = payload_json(CAPTURED_FIRING)
    webhook["alerts"][0]["annotations"] = annotations
    webhook["alerts"][0]["labels"].update(labels_extra)

    signal = only_signal(run(AM, webhook, received_at=parse_rfc3339("2026-11-26T19:00:00Z")))

    assert signal.summary == summary


def test_service_falls_back_to_the_job_label(run, payload_json):
    """Without a service label, the job label names the service."""
    webhook = payload_json(CAPTURED_FIRING)
    del webhook["alerts"][0]["labels"]["service"]
    webhook["alerts"][0]["labels"]["job"] = "node"

    signal = only_signal(run(AM, webhook, received_at=parse_rfc3339("2026-11-26T19:00:00Z")))

    assert signal.service == "node"


def test_an_alert_without_status_takes_the_groups(run, payload_json):
    """A missing alert status falls back to the group's status."""
    webhook = payload_json(CAPTURED_RESOLVED)
    del webhook["alerts"][0]["status"]

    signal = only_signal(run(AM, webhook, received_at=parse_rfc3339("2026-11-26T19:00:00Z")))

    assert signal.action is Action.RESOLVE


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda w: w.pop("alerts"), "alerts"),
        (lambda w: w.update(alerts={"0": {}}), "alerts"),
        (lambda w: w["alerts"].append("not an alert"), "alerts[2]"),
        (lambda w: w["alerts"][1].update(status="pending"), "alerts[1].status"),
        (lambda w: w["alerts"][1].update(labels=["a"]), "alerts[1].labels"),
        (lambda w: w["alerts"][1]["labels"].update(severity=3), "alerts[1].labels.severity"),
        (lambda w: w["alerts"][1]["labels"].update({"bad key": "x"}), "alerts[1].labels"),
        (lambda w: w["alerts"][1]["labels"].update(pod="p" * 1025), "alerts[1].labels.pod"),
        (
            lambda w: w["alerts"][1]["labels"].update({f"l{i}": "v" for i in range(60)}),
            "alerts[1].labels",
        ),
        (lambda w: w["alerts"][1].update(startsAt="14/03/2026"), "alerts[1].startsAt"),
        (lambda w: w["alerts"][1].update(startsAt=1773480090), "alerts[1].startsAt"),
        (lambda w: w["alerts"][1].update(fingerprint="f" * 256), "alerts[1].fingerprint"),
        (lambda w: w["alerts"][1].update(annotations="text"), "alerts[1].annotations"),
        (
            lambda w: w["alerts"][1]["annotations"].update(summary=None, description=5),
            "alerts[1].annotations.description",
        ),
        (lambda w: w["alerts"][1].update(generatorURL=5), "alerts[1].generatorURL"),
        (lambda w: w.update(externalURL=False), "externalURL"),
    ],
)
def test_a_malformed_webhook_is_rejected_naming_the_field(run, payload_json, change, field):
    """Each broken field is reported by its path, down to the label."""
    webhook = payload_json(FIRING)
    change(webhook)

    assert field in rejected_fields(run(AM, webhook))


def test_a_resolved_alert_with_a_bad_ends_at_is_rejected(run, payload_json):
    """endsAt is the time of a resolve: it must parse."""
    webhook = payload_json(RESOLVED)
    webhook["alerts"][1]["endsAt"] = "soon"

    assert rejected_fields(run(AM, webhook)) == {"alerts[1].endsAt"}


def test_a_value_longer_than_the_limit_is_never_truncated(run, payload_json):
    """Label values are rejected, not cut, and the message says how long they were."""
    webhook = payload_json(FIRING)
    webhook["alerts"][0]["labels"]["pod"] = "p" * 2000

    result = run(AM, webhook)

    assert rejected_fields(result) == {"alerts[0].labels.pod"}
    assert "2000 characters" in result.errors[0].message
