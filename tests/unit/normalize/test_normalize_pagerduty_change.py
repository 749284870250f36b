"""PagerDuty change events (``/v2/change/enqueue``) as changes: never signals, never alerts."""

from __future__ import annotations

import json

import orjson
import pytest
from normalize_support import rejected_fields

from conftest import RECEIVED_AT
from helios.domain.changes import Change
from helios.domain.normalize import ChangeNormalized, NormalizeResult, Rejected, normalize
from helios.domain.normalize.pagerduty_change import CHANGE_NORMALIZER_VERSION
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Link, SourceKind

DOCUMENTED = "examples/pagerduty_v2_change.json"


def only_change(result: NormalizeResult) -> Change:
    assert isinstance(result, ChangeNormalized), result
    assert result.normalizer_version == CHANGE_NORMALIZER_VERSION
    [change] = result.changes
    return change


def test_the_documented_change_event_is_one_change(make_envelope, payload):
    """Summary, source, time, links; custom_details kept under payload in details."""
    result = normalize(make_envelope(SourceKind.PAGERDUTY_CHANGE, payload(DOCUMENTED)), Ruleset())

    change = only_change(result)
    assert change.summary == "Build Success: Increase snapshot create timeout to 30 seconds"
    assert change.origin == "acme-build-pipeline-tool-default-i-9999"
    assert change.service == "acme-build-pipeline-tool-default-i-9999"
    assert change.source == "pagerduty"
    assert change.occurred_at == parse_rfc3339("2026-03-14T09:18:58.315Z")
    assert change.received_at == RECEIVED_AT
    assert change.links == (
        Link(href="https://acme.pagerduty.dev/build/2", text="View more details in Acme!"),
    )
    assert json.loads(change.details) == {
        "payload": {
            "custom_details": {"build_state": "passed", "build_number": "2", "run_time": "1236s"}
        }
    }
    assert change.notes == ()
    assert change.change_id.startswith("chg-")


def test_component_names_the_service_before_source_as_for_triggers(make_envelope, payload_json):
    """The same service mapping as a trigger's, so a change lands next to its alerts."""
    event = payload_json(DOCUMENTED)
    event["payload"]["component"] = "checkout-api"
    change = only_change(normalize(make_envelope(SourceKind.PAGERDUTY_CHANGE, event), Ruleset()))
    assert change.service == "checkout-api"
    assert change.origin == "acme-build-pipeline-tool-default-i-9999"


def test_images_client_and_unknown_fields_are_kept_in_details(make_envelope, payload_json):
    """Nothing the sender gave is dropped."""
    event = payload_json(DOCUMENTED)
    event["images"] = [{"src": "https://ci.example/badge.png"}]
    event["payload"]["time"] = "2026-03-14T09:18:58Z"
    event["environment"] = "prod"
    change = only_change(normalize(make_envelope(SourceKind.PAGERDUTY_CHANGE, event), Ruleset()))
    details = json.loads(change.details)
    assert details["images"] == [{"src": "https://ci.example/badge.png"}]
    assert details["environment"] == "prod"
    assert details["payload"]["time"] == "2026-03-14T09:18:58Z"
    assert "routing_key" not in details


def test_the_same_change_delivered_twice_has_the_same_id(make_envelope, payload):
    """Another ingest id, integration and arrival: the same observation."""
    body = payload(DOCUMENTED)
    first = only_change(
        normalize(make_envelope(SourceKind.PAGERDUTY_CHANGE, body, ingest_id="a"), Ruleset())
    )
    second = only_change(
        normalize(
            make_envelope(
                SourceKind.PAGERDUTY_CHANGE,
                body,
                ingest_id="b",
                integration="int-2",
                received_at=RECEIVED_AT + 5_000,
            ),
            Ruleset(),
        )
    )
    assert first.change_id == second.change_id


def test_a_missing_timestamp_is_received_at_and_a_long_summary_is_truncated_with_notes(
    make_envelope,
):
    """As for triggers: never silently."""
    event = {"routing_key": "k", "payload": {"summary": "x" * 1500}}
    change = only_change(normalize(make_envelope(SourceKind.PAGERDUTY_CHANGE, event), Ruleset()))
    assert change.occurred_at == RECEIVED_AT
    assert len(change.summary) == 1024
    assert change.service == "" and change.origin == ""
    assert len(change.notes) == 2


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        ({"payload": {"summary": "s"}}, {"routing_key"}),
        ({"routing_key": "k"}, {"payload"}),
        ({"routing_key": "k", "payload": []}, {"payload"}),
        ({"routing_key": "k", "payload": {"summary": ""}}, {"payload.summary"}),
        (
            {"routing_key": "k", "payload": {"summary": 3, "source": 4, "timestamp": "yesterday"}},
            {"payload.summary", "payload.source", "payload.timestamp"},
        ),
        (
            {"routing_key": "k", "payload": {"summary": "s"}, "links": [{"text": "no href"}]},
            {"links[0].href"},
        ),
        ({"routing_key": "k", "payload": {"summary": "s"}, "links": "x"}, {"links"}),
    ],
)
def test_an_invalid_change_event_is_rejected_naming_each_field(make_envelope, event, fields):
    """Quarantined with every bad field, never half-recorded."""
    result = normalize(make_envelope(SourceKind.PAGERDUTY_CHANGE, event), Ruleset())
    assert rejected_fields(result) == fields


def test_orjson_and_json_decode_to_the_same_change(make_envelope, payload):
    """The decoder is a speed choice only."""
    envelope = make_envelope(SourceKind.PAGERDUTY_CHANGE, payload(DOCUMENTED))
    assert normalize(envelope, Ruleset(), decode=json.loads) == normalize(
        envelope, Ruleset(), decode=orjson.loads
    )


def test_a_change_body_on_the_alert_endpoint_is_not_a_change(make_envelope, payload):
    """The source decides the normalizer: a change event sent as an alert event is refused."""
    result = normalize(make_envelope(SourceKind.PAGERDUTY, payload(DOCUMENTED)), Ruleset())
    assert isinstance(result, Rejected)
    assert "event_action" in rejected_fields(result)
