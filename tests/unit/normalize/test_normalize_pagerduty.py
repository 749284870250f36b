"""PagerDuty Events API v2 events become signals; malformed ones are rejected by field."""

from __future__ import annotations

import json

import pytest
from normalize_support import only_signal, rejected_fields

from helios.domain import identity, versions
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Action, Link, Severity, SourceKind

PD = SourceKind.PAGERDUTY
TRIGGER = "examples/pagerduty_v2_trigger.json"


def test_a_trigger_maps_every_documented_field(run, payload):
    """Given the documented trigger example, every field lands where the module says."""
    signal = only_signal(run(PD, payload(TRIGGER)))

    assert signal.source == "pagerduty"
    assert signal.tenant == "acme"
    assert signal.integration == "int-1"
    assert signal.action is Action.TRIGGER
    assert signal.dedup_key == "prod-eu-1/checkout/CheckoutHighErrorRate"
    assert signal.severity is Severity.CRITICAL
    assert signal.summary == "Checkout 5xx rate 4.7 req/s on prod-eu-1 (threshold 2 req/s)"
    assert signal.occurred_at == parse_rfc3339("2026-03-14T09:21:30.512Z")
    assert signal.service == "checkout-api"
    assert signal.component == "checkout-api"
    assert signal.group == "prod-eu-1"
    assert signal.class_ == "http_5xx_rate"
    assert signal.labels == (
        ("class", "http_5xx_rate"),
        ("component", "checkout-api"),
        ("group", "prod-eu-1"),
        ("source", "checkout.shop.prod-eu-1.example.internal"),
    )
    assert signal.links == (
        Link(href="https://grafana.example.internal/d/checkout", text="Checkout dashboard"),
        Link(href="https://helios.example.internal/signals/sig_01HQ7Z", text="Helios"),
    )
    details = json.loads(signal.details)
    assert details["payload"]["custom_details"]["error_rate_rps"] == 4.7
    assert details["images"][0]["alt"] == "5xx rate last 1h"
    assert signal.notes == ()


def test_the_routing_key_never_reaches_the_signal(run, payload):
    """The routing key is the integration's secret: it is not copied into details."""
    signal = only_signal(run(PD, payload(TRIGGER)))

    assert "4f1c0d2b9a8e47c6b35d2e1f0a9c8b7d" not in repr(signal)


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("examples/pagerduty_v2_acknowledge.json", Action.ACKNOWLEDGE),
        ("examples/pagerduty_v2_resolve.json", Action.RESOLVE),
    ],
)
def test_acknowledge_and_resolve_need_only_a_dedup_key(run, payload, name, action):
    """Given an acknowledge or resolve without payload, it applies to the dedup key."""
    signal = only_signal(run(PD, payload(name)))

    assert signal.action is action
    assert signal.dedup_key == "prod-eu-1/checkout/CheckoutHighErrorRate"
    assert signal.occurred_at == signal.received_at
    assert "payload.timestamp missing: used received_at" in signal.notes


def test_alertmanagers_pagerduty_notifier_is_understood(run, payload):
    """The real Alertmanager client sends no timestamp and severity "error"."""
    received_at = parse_rfc3339("2026-11-26T18:59:05Z")
    signal = only_signal(
        run(
            PD,
            payload("alertmanager-0.25-captured/pagerduty_v2_trigger_from_alertmanager.json"),
            received_at=received_at,
        )
    )

    assert signal.action is Action.TRIGGER
    assert signal.dedup_key == "51ff10923c5bd6753d836442ddd771519e24c8d92a1996bd9dc2da25dab17f44"
    assert signal.severity is Severity.ERROR
    assert signal.summary == "[FIRING:1] DiskFilling storage (db-1:9100 warning)"
    assert signal.service == "storage"
    assert signal.occurred_at == received_at
    assert signal.links == (
        Link(href="http://vm:19093/#/alerts?receiver=both", text="Alertmanager"),
    )
    assert json.loads(signal.details)["payload"]["custom_details"]["num_firing"] == "1"


def test_the_captured_resolve_resolves_the_same_dedup_key(run, payload):
    """The captured resolve carries the trigger's key, so it closes the same alert."""
    trigger = only_signal(
        run(PD, payload("alertmanager-0.25-captured/pagerduty_v2_trigger_from_alertmanager.json"))
    )
    resolve = only_signal(
        run(PD, payload("alertmanager-0.25-captured/pagerduty_v2_resolve_from_alertmanager.json"))
    )

    assert resolve.action is Action.RESOLVE
    assert resolve.dedup_key == trigger.dedup_key


def test_a_trigger_without_dedup_key_gets_one_derived_from_the_ingest_id(run, payload_json):
    """Given no dedup_key, the key is ``pd-`` + a hash of the ingest id, stable on re-runs."""
    event = payload_json(TRIGGER)
    del event["dedup_key"]

    first = only_signal(run(PD, event, ingest_id="ing-42"))
    again = only_signal(run(PD, event, ingest_id="ing-42"))

    assert first.dedup_key == "pd-" + identity.stable_hash("ing-42")
    assert again == first


def test_a_pagerduty_severity_outside_the_table_falls_back_with_a_note(run, payload_json):
    """An unknown severity becomes the ruleset default, and the signal says so."""
    event = payload_json(TRIGGER)
    event["payload"]["severity"] = "sev-9"

    signal = only_signal(run(PD, event))

    assert signal.severity is Severity.WARNING
    assert any("'sev-9' is not in the severity map" in note for note in signal.notes)


@pytest.mark.parametrize(
    ("broken", "field"), [({"summary": 42}, "payload.summary"), (["a list"], "payload")]
)
def test_a_broken_payload_does_not_block_a_resolve(run, payload_json, broken, field):
    """PagerDuty ignores a resolve's payload; Helios resolves and keeps it in details."""
    event = payload_json("examples/pagerduty_v2_resolve.json")
    event["payload"] = broken

    signal = only_signal(run(PD, event))

    assert signal.action is Action.RESOLVE
    assert signal.summary == ""
    assert json.loads(signal.details)["payload"] == broken
    assert any(note.startswith(f"payload ignored: {field} ") for note in signal.notes)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda e: e.pop("routing_key"), "routing_key"),
        (lambda e: e.update(routing_key=""), "routing_key"),
        (lambda e: e.update(routing_key=7), "routing_key"),
        (lambda e: e.pop("event_action"), "event_action"),
        (lambda e: e.update(event_action="snooze"), "event_action"),
        (lambda e: e.pop("payload"), "payload"),
        (lambda e: e.update(payload=[]), "payload"),
        (lambda e: e["payload"].pop("summary"), "payload.summary"),
        (lambda e: e["payload"].pop("source"), "payload.source"),
        (lambda e: e["payload"].pop("severity"), "payload.severity"),
        (lambda e: e["payload"].update(severity=["critical"]), "payload.severity"),
        (lambda e: e["payload"].update(timestamp="yesterday"), "payload.timestamp"),
        (lambda e: e["payload"].update(timestamp="2026-02-30T10:00:00Z"), "payload.timestamp"),
        (lambda e: e["payload"].update(component={"a": 1}), "payload.component"),
        (lambda e: e.update(dedup_key="k" * 256), "dedup_key"),
        (lambda e: e.update(dedup_key=12), "dedup_key"),
        (lambda e: e.update(links={"href": "x"}), "links"),
        (lambda e: e.update(links=[{"text": "no href"}]), "links[0].href"),
        (lambda e: e["payload"].update(source="s" * 1025), "payload.source"),
    ],
)
def test_a_malformed_trigger_is_rejected_naming_the_field(run, payload_json, change, field):
    """Each broken field of a trigger is reported by its path."""
    event = payload_json(TRIGGER)
    change(event)

    assert field in rejected_fields(run(PD, event))


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_without_dedup_key_are_rejected(run, action):
    """There is nothing to acknowledge or resolve without a key."""
    event = {"routing_key": "r" * 32, "event_action": action}

    assert rejected_fields(run(PD, event)) == {"dedup_key"}


def test_every_bad_field_is_reported_at_once(run):
    """A client gets all its mistakes in one rejection, as in PagerDuty's 400."""
    event = {"event_action": "trigger", "payload": {"summary": 1}}

    assert rejected_fields(run(PD, event)) >= {
        "routing_key",
        "payload.summary",
        "payload.source",
        "payload.severity",
    }


def test_a_long_summary_is_truncated_with_a_note(run, payload_json):
    """Like PagerDuty, a summary beyond 1024 characters is cut, and the cut is noted."""
    event = payload_json(TRIGGER)
    event["payload"]["summary"] = "x" * 1500

    result = run(PD, event)

    assert isinstance(result, Normalized)
    assert result.signals[0].summary == "x" * 1024
    assert "summary truncated from 1500 to 1024 characters" in result.signals[0].notes


CAPTURED_TRIGGER = "alertmanager-0.25-captured/pagerduty_v2_trigger_from_alertmanager.json"


def _ha_copy(payload_json, member: int) -> dict:
    """The captured notification as one member of an HA pair sends it (its own client_url)."""
    event = payload_json(CAPTURED_TRIGGER)
    event["client_url"] = f"http://am-{member}:9093/#/alerts?receiver=pagerduty"
    return event


def test_the_copies_of_a_timestamp_less_event_are_one_signal(run, payload_json):
    """Both members of an HA pair, 200 ms apart, and a resend hours later: one signal id (a
    hash of the content), each with the time it was received."""
    first = only_signal(run(PD, _ha_copy(payload_json, 1), received_at=1_000_000))
    second = only_signal(
        run(PD, _ha_copy(payload_json, 2), received_at=1_000_200, ingest_id="ing-2")
    )
    resend = only_signal(
        run(PD, _ha_copy(payload_json, 1), received_at=15_400_000, ingest_id="ing-3")
    )

    assert identity.is_content_id(first.signal_id)
    assert second.signal_id == first.signal_id == resend.signal_id
    assert (first.occurred_at, second.occurred_at) == (1_000_000, 1_000_200)
    assert "payload.timestamp missing: used received_at" in first.notes


def test_other_content_without_a_timestamp_is_another_signal(run, payload_json):
    """A changed summary (another alert joined the group) is another signal."""
    event = _ha_copy(payload_json, 1)
    first = only_signal(run(PD, event))
    event["payload"]["summary"] = "[FIRING:2] DiskFilling storage"

    assert only_signal(run(PD, event)).signal_id != first.signal_id


def test_a_timestamped_event_keeps_an_id_bound_to_its_time(run, payload_json):
    """With payload.timestamp the id hashes it, as always: another time is another signal."""
    event = payload_json(TRIGGER)
    received = parse_rfc3339("2026-03-14T09:25:00Z")
    first = only_signal(run(PD, event, received_at=received))
    again = only_signal(run(PD, event, received_at=received + 60_000))
    event["payload"]["timestamp"] = "2026-03-14T09:22:30.512Z"

    assert not identity.is_content_id(first.signal_id)
    assert again.signal_id == first.signal_id
    assert only_signal(run(PD, event)).signal_id != first.signal_id


def test_engine_version_1_still_hashes_the_receive_time(make_envelope, payload_json):
    """History normalized before content identity replays with the ids it recorded."""
    ruleset = Ruleset()
    first, second = (
        only_signal(
            normalize(
                make_envelope(PD, _ha_copy(payload_json, member), received_at=at),
                ruleset,
                version=versions.LEGACY,
            )
        )
        for member, at in ((1, 1_000_000), (2, 1_000_200))
    )

    assert not identity.is_content_id(first.signal_id)
    assert first.signal_id != second.signal_id


# The firing text of Alertmanager's default pagerduty template for a group of two alerts.
TWO_SERVICES = (
    "Labels:\n - alertname = InstanceDown\n - instance = db-1:9100\n - job = node\n"
    " - service = storage\nAnnotations:\n - summary = db-1 down\nSource: http://vm/1\n"
    "Labels:\n - alertname = InstanceDown\n - instance = checkout-1:9100\n - job = node\n"
    " - service = checkout\nAnnotations:\n - summary = checkout-1 down\nSource: http://vm/2\n"
)


def test_the_service_is_the_one_alertmanager_lists_in_its_firing_text(run, payload_json):
    """source is "Alertmanager" for every alert: the service label of the alerts it lists
    decides, so checkout and storage no longer share one service."""
    storage = payload_json(CAPTURED_TRIGGER)
    checkout = payload_json(CAPTURED_TRIGGER)
    checkout["dedup_key"] = "checkout-group"
    checkout["payload"]["custom_details"]["firing"] = (
        "Labels:\n - alertname = CheckoutLatency\n - job = checkout-api\n"
        " - service = checkout\nAnnotations:\n - summary = p99 above 2 s\nSource: http://vm/3\n"
    )

    assert only_signal(run(PD, storage)).service == "storage"
    assert only_signal(run(PD, checkout)).service == "checkout"


def test_a_resolve_takes_the_service_from_the_resolved_text(run, payload):
    """When nothing fires any more, the alerts are listed under resolved."""
    resolve = only_signal(
        run(PD, payload("alertmanager-0.25-captured/pagerduty_v2_resolve_from_alertmanager.json"))
    )

    assert resolve.service == "storage"


def test_the_job_label_serves_when_the_alerts_have_no_common_service(run, payload_json):
    """Two alerts of one group with different services: their common job names the service."""
    event = payload_json(CAPTURED_TRIGGER)
    event["payload"]["custom_details"]["firing"] = TWO_SERVICES

    assert only_signal(run(PD, event)).service == "node"


def test_without_common_labels_the_group_and_then_the_source_serve(run, payload_json):
    """No label all the listed alerts share: payload.group, else payload.source."""
    event = payload_json(CAPTURED_TRIGGER)
    event["payload"]["custom_details"]["firing"] = TWO_SERVICES.replace("job = node", "job = x", 1)
    assert only_signal(run(PD, event)).service == "Alertmanager"

    event["payload"]["group"] = "prod-eu-1"
    assert only_signal(run(PD, event)).service == "prod-eu-1"


def test_an_explicit_component_still_names_the_service(run, payload_json):
    """An operator who sets pagerduty_configs.component chose the service."""
    event = payload_json(CAPTURED_TRIGGER)
    event["payload"]["component"] = "postgres"

    assert only_signal(run(PD, event)).service == "postgres"


def test_a_plain_pagerduty_event_is_served_by_its_group_before_its_source(run, payload_json):
    """PagerDuty's group is a logical grouping of a service's components; source is mostly a
    host, the last resort."""
    event = payload_json(TRIGGER)
    del event["payload"]["component"]

    assert only_signal(run(PD, event)).service == "prod-eu-1"


@pytest.mark.parametrize(
    "firing",
    [
        "",
        "no labels here",
        "Labels:\n - alertname = X\nAnnotations:\n - service = storage\n",
        "Labels:\n - service = storage\n - bad line\n - service = other\n",
        "Labels:\n\nLabels:\n - service = storage\n",
    ],
    ids=["empty", "free text", "annotation only", "broken line", "alert without labels"],
)
def test_text_that_does_not_name_one_service_for_every_alert_is_not_trusted(
    run, payload_json, firing
):
    """Custom templates and odd values: only labels every listed alert carries count."""
    event = payload_json(CAPTURED_TRIGGER)
    event["payload"]["custom_details"]["firing"] = firing
    service = only_signal(run(PD, event)).service

    assert service == ("storage" if firing.startswith("Labels:\n - service") else "Alertmanager")


def test_engine_version_1_keeps_component_or_source(make_envelope, payload_json):
    """History normalized before the change replays with the service it recorded."""
    event = payload_json(CAPTURED_TRIGGER)
    signal = only_signal(normalize(make_envelope(PD, event), Ruleset(), version=versions.LEGACY))

    assert signal.service == "Alertmanager"
