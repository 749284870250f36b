"""An alert delivered again (the other member of an HA pair, the next group interval, another
batch) maps exactly as the field checks map that delivery: its own envelope's facts, its own
position in the batch, the ruleset in force."""

from __future__ import annotations

import copy
from typing import Any

import attrs
import orjson
import pytest

from conftest import RECEIVED_AT, MakeEnvelope
from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain import versions
from helios.domain.normalize import Normalized, normalize
from helios.domain.normalize.alertmanager import typed_alertmanager
from helios.domain.normalize.dispatch import normalize_checked
from helios.domain.normalize.grafana import typed_grafana
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, Severity, SourceKind

STARTED = RECEIVED_AT - 60_000
TYPED = {SourceKind.ALERTMANAGER: typed_alertmanager, SourceKind.GRAFANA: typed_grafana}


def _alert(instance: str, **changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "status": "firing",
        "labels": {
            "alertname": "HighErrorRate",
            "service": "checkout",
            "instance": instance,
            "severity": "critical",
        },
        "annotations": {"summary": f"5xx rate on {instance} above 2 req/s"},
        "startsAt": format_rfc3339(STARTED),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "https://prometheus.example.com/graph",
        "fingerprint": f"fp-{instance}",
    }
    alert.update(changes)
    return alert


def _webhook(*alerts: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "version": "4",
            "groupKey": '{}:{service="checkout"}',
            "status": "firing",
            "receiver": "helios",
            "groupLabels": {"service": "checkout"},
            "externalURL": "https://alertmanager.example.com",
            "alerts": list(alerts),
        }
    )


def _same_as_checked(envelope: Envelope, ruleset: Ruleset) -> Normalized:
    """The envelope normalized by the typed decoding (not by falling back to the checks), and
    the same as the field checks make it."""
    typed = TYPED[envelope.source](envelope, ruleset, versions.CURRENT)
    assert isinstance(typed, Normalized), typed
    assert typed == normalize(envelope, ruleset, decode=orjson.loads)
    assert typed == normalize_checked(envelope, ruleset, decode=orjson.loads)
    return typed


def test_each_delivery_of_an_alert_keeps_its_own_received_at_and_integration(
    make_envelope: MakeEnvelope,
) -> None:
    """Both members of an HA pair deliver the batch: each signal is its own delivery's."""
    body = _webhook(_alert("checkout-1"), _alert("checkout-2"))
    ruleset = Ruleset()
    first = _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), ruleset)
    second = _same_as_checked(
        make_envelope(
            SourceKind.ALERTMANAGER, body, received_at=RECEIVED_AT + 37, integration="int-2"
        ),
        ruleset,
    )
    assert [s.signal_id for s in first.signals] == [s.signal_id for s in second.signals]
    assert {(s.received_at, s.integration) for s in second.signals} == {(RECEIVED_AT + 37, "int-2")}


def test_a_repeated_alert_notes_its_position_in_the_batch_it_came_in(
    make_envelope: MakeEnvelope,
) -> None:
    """The note of a missing severity names ``alerts[1]`` when the alert comes second."""
    unrated = _alert("checkout-3")
    del unrated["labels"]["severity"]
    ruleset = Ruleset()
    _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, _webhook(unrated)), ruleset)
    later = _same_as_checked(
        make_envelope(SourceKind.ALERTMANAGER, _webhook(_alert("checkout-4"), unrated)), ruleset
    )
    assert later.signals[1].notes == ("alerts[1].labels.severity missing: used warning",)


def test_a_repeated_alert_too_far_ahead_of_its_delivery_is_clamped_to_it(
    make_envelope: MakeEnvelope,
) -> None:
    """A delivery received long before the alert's time (a skewed clock) clamps it, even
    after a delivery that kept the time."""
    body = _webhook(_alert("checkout-5"))
    ruleset = Ruleset()
    _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), ruleset)
    early = RECEIVED_AT - ruleset.skew_tolerance_ms - 120_000
    clamped = _same_as_checked(
        make_envelope(SourceKind.ALERTMANAGER, body, received_at=early), ruleset
    )
    (signal,) = clamped.signals
    assert signal.occurred_at == early
    assert "clamped to received_at" in signal.notes[0]


def test_a_repeated_alert_maps_by_the_ruleset_in_force_for_its_delivery(
    make_envelope: MakeEnvelope,
) -> None:
    """A new ruleset (here another severity table) applies to the next delivery at once."""
    body = _webhook(_alert("checkout-6"))
    _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), Ruleset())
    demoted = Ruleset(version=2, severity_map=(("critical", Severity.INFO),))
    (signal,) = _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), demoted).signals
    assert signal.severity is Severity.INFO


def test_a_repeated_alert_maps_the_same_for_another_tenant_and_source(
    make_envelope: MakeEnvelope,
) -> None:
    """The same bytes from another tenant, or from Grafana, are that tenant's and source's."""
    alert = _alert("checkout-7")
    ruleset = Ruleset()
    body = _webhook(alert)
    _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), ruleset)
    other = _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body, tenant="globex"), ruleset)
    assert other.signals[0].tenant == "globex"
    grafana = _same_as_checked(make_envelope(SourceKind.GRAFANA, body), ruleset)
    assert grafana.signals[0].source == "grafana"


def test_a_repeated_alert_in_a_group_with_other_fields_carries_that_group(
    make_envelope: MakeEnvelope,
) -> None:
    """The group's fields are part of each alert's details: a new groupKey shows."""
    body = _webhook(_alert("checkout-8"))
    ruleset = Ruleset()
    _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), ruleset)
    document = orjson.loads(body)
    regrouped = copy.deepcopy(document) | {"groupKey": "{}:{}", "externalURL": ""}
    (signal,) = _same_as_checked(
        make_envelope(SourceKind.ALERTMANAGER, orjson.dumps(regrouped)), ruleset
    ).signals
    assert '"groupKey":"{}:{}"' in signal.details
    assert [link.text for link in signal.links] == ["Source"]


def test_an_equal_ruleset_maps_a_repeated_alert_as_the_one_it_equals(
    make_envelope: MakeEnvelope,
) -> None:
    """A ruleset loaded again (equal, another object) gives the same signals."""
    body = _webhook(_alert("checkout-9"))
    first = _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), Ruleset())
    again = _same_as_checked(
        make_envelope(SourceKind.ALERTMANAGER, body), attrs.evolve(Ruleset(), version=0)
    )
    assert again == first


def test_an_alert_too_large_to_remember_maps_the_same_every_time(
    make_envelope: MakeEnvelope,
) -> None:
    """An alert of many kilobytes is mapped afresh on each delivery, to the same signal."""
    large = _alert("checkout-10", annotations={"summary": "disk full", "log": "x" * 20_000})
    body = _webhook(large, _alert("checkout-11"))
    ruleset = Ruleset()
    envelope = make_envelope(SourceKind.ALERTMANAGER, body)
    first = _same_as_checked(envelope, ruleset)
    again = _same_as_checked(envelope, ruleset)
    assert again == first
    assert '"log":"xxx' in first.signals[0].details


def test_the_demo_traffic_normalizes_as_the_field_checks_normalize_it() -> None:
    """Realistic repeats (HA pairs, every group interval, other groups, resolves) through the
    memo give exactly the field checks' results, envelope by envelope."""
    generator = TrafficGenerator(tenant="acme", start=RECEIVED_AT, problems=30)
    ruleset = Ruleset()
    for envelope in generator.envelopes(600):
        typed = normalize(envelope, ruleset, decode=orjson.loads)
        assert typed == normalize_checked(envelope, ruleset, decode=orjson.loads), envelope


def test_a_body_too_large_to_remember_maps_the_same_on_every_delivery(
    make_envelope: MakeEnvelope,
) -> None:
    """A batch of many alerts (a body beyond what the memo keeps whole) is mapped afresh on
    each delivery of it, to that delivery's signals."""
    body = _webhook(*(_alert(f"checkout-{index:03d}") for index in range(120)))
    assert len(body) > 32 * 1024
    ruleset = Ruleset()
    first = _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, body), ruleset)
    again = _same_as_checked(
        make_envelope(SourceKind.ALERTMANAGER, body, received_at=RECEIVED_AT + 5), ruleset
    )
    assert len(again.signals) == 120
    assert [s.signal_id for s in again.signals] == [s.signal_id for s in first.signals]
    assert {s.received_at for s in again.signals} == {RECEIVED_AT + 5}


def test_an_alert_back_with_another_status_or_time_maps_as_the_field_checks_map_it(
    make_envelope: MakeEnvelope,
) -> None:
    """Its resolve, its next firing, the same alert with its labels in another order, with
    empty annotations, then with none: each is its own delivery's signal, though all but its
    status and times were seen before."""
    ruleset = Ruleset()
    ended = format_rfc3339(STARTED + 30_000)
    reordered = dict(reversed(_alert("checkout-1")["labels"].items()))
    deliveries = [
        _alert("checkout-1"),
        _alert("checkout-1", status="resolved", endsAt=ended),
        _alert("checkout-1", startsAt=format_rfc3339(STARTED + 40_000)),
        _alert("checkout-1", labels=reordered, startsAt=format_rfc3339(STARTED + 50_000)),
        _alert("checkout-1", annotations={}, startsAt=format_rfc3339(STARTED + 60_000)),
        _alert("checkout-1", startsAt=format_rfc3339(STARTED + 70_000)),
    ]
    del deliveries[-1]["annotations"]
    signals = [
        _same_as_checked(make_envelope(SourceKind.ALERTMANAGER, _webhook(alert)), ruleset).signals[
            0
        ]
        for alert in deliveries
    ]
    assert [signal.action.value for signal in signals] == ["trigger", "resolve", *["trigger"] * 4]
    assert len({signal.signal_id for signal in signals}) == len(deliveries)
    assert '"annotations":{}' in signals[4].details
    assert '"annotations"' not in signals[5].details
    assert signals[5].summary == "HighErrorRate"


def test_a_grafana_alert_back_with_values_written_otherwise_keeps_each_ones_text(
    make_envelope: MakeEnvelope,
) -> None:
    """Grafana's values are numbers: ``1`` and ``1.0``, ``0.0`` and ``-0.0`` are equal but
    written apart, so an alert back with one where it had the other is its own delivery's."""
    ruleset = Ruleset()
    written = ["1", "1.0", "-0.0", "0.0", "1", "4.7", "0.0"]
    signals = [
        _same_as_checked(
            make_envelope(
                SourceKind.GRAFANA,
                _webhook(
                    _alert(
                        "checkout-1",
                        startsAt=format_rfc3339(STARTED + 1_000 * index),
                        values={"A": orjson.loads(text)},
                        dashboardURL="https://grafana.example.com/d/1",
                    )
                ),
            ),
            ruleset,
        ).signals[0]
        for index, text in enumerate(written)
    ]
    assert [orjson.loads(s.details)["values"]["A"] for s in signals] == [
        1,
        1.0,
        -0.0,
        0.0,
        1,
        4.7,
        0.0,
    ]
    assert [s.details.split('"values":{"A":')[1].split("}")[0] for s in signals] == written


def _pagerduty_event(**payload: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "summary": "5xx rate on checkout-1 above 2 req/s",
        "source": "checkout-1",
        "severity": "critical",
        "component": "checkout",
        "group": "checkout",
        "class": "HighErrorRate",
    }
    fields.update(payload)
    return {
        "routing_key": "R" * 32,
        "event_action": "trigger",
        "dedup_key": "fp-checkout-1",
        "payload": {key: value for key, value in fields.items() if value is not None},
    }


def test_a_pagerduty_event_reported_again_maps_as_the_field_checks_map_it(
    make_envelope: MakeEnvelope,
) -> None:
    """The same event at other times, in other envelopes, under other rulesets and versions
    (its facts found again) maps exactly as the field checks map each delivery: its own time,
    or its envelope's (noted) when it has none or is too far ahead."""
    strict = Ruleset(skew_tolerance_ms=1_000)
    times = (STARTED, STARTED + 1, RECEIVED_AT + 500, RECEIVED_AT + 120_000, None)
    events = [
        _pagerduty_event(timestamp=None if at is None else format_rfc3339(at)) for at in times
    ]
    events += [
        _pagerduty_event(timestamp=format_rfc3339(STARTED), severity="sev-unknown"),
        _pagerduty_event(timestamp=format_rfc3339(STARTED), summary="x" * 1_100),
        _pagerduty_event(timestamp="not a time"),
        _pagerduty_event(timestamp=format_rfc3339(STARTED), severity=""),
        {**_pagerduty_event(timestamp=format_rfc3339(STARTED)), "client_url": "https://c"},
        {**_pagerduty_event(timestamp=format_rfc3339(STARTED)), "dedup_key": "k" * 300},
    ]
    seen = set()
    for _ in range(2):  # the second time round, every event's facts are found again
        for ruleset in (Ruleset(), strict):
            for version in (versions.LEGACY, versions.CURRENT):
                for tenant in ("acme", "globex"):
                    for index, event in enumerate(events):
                        envelope = make_envelope(
                            SourceKind.PAGERDUTY,
                            event,
                            received_at=RECEIVED_AT + index,
                            integration=f"int-{index}",
                            tenant=tenant,
                        )
                        result = normalize(envelope, ruleset, decode=orjson.loads, version=version)
                        checked = normalize_checked(
                            envelope, ruleset, decode=orjson.loads, version=version
                        )
                        assert result == checked, (event, version)
                        if isinstance(result, Normalized):
                            seen.add(result.signals[0].signal_id)
    assert len(seen) > len(events)


_COMPACT_ALERT = (
    b'{"status":"firing","labels":{"alertname":"HighErrorRate","service":"checkout",'
    b'"instance":"checkout-1","severity":"critical"},"annotations":{"summary":"5xx"},'
    b'"startsAt":"2026-03-14T09:24:00Z","generatorURL":"https://prometheus.example.com/graph",'
    b'"fingerprint":"fp-checkout-1"}'
)


def _raw_webhook(*alerts: bytes) -> bytes:
    return (
        b'{"version":"4","groupKey":"g","status":"firing","receiver":"helios",'
        b'"externalURL":"https://alertmanager.example.com","alerts":[' + b",".join(alerts) + b"]}"
    )


@pytest.mark.parametrize(
    "alert",
    [
        _COMPACT_ALERT,
        # A field sent twice: its first value is any JSON to the first read of the alert.
        _COMPACT_ALERT.replace(b'{"status"', b'{"labels":5,"status"'),
        _COMPACT_ALERT.replace(b'{"status"', b'{"labels":"\\ud800","status"'),
        _COMPACT_ALERT.replace(b'{"status"', b'{"labels":{"a":1},"status"'),
        _COMPACT_ALERT.replace(b'{"status"', b'{"labels":{"alertname":"Other"},"status"'),
        _COMPACT_ALERT.replace(b'{"status"', b'{"fingerprint":"fp-other","status"'),
        _COMPACT_ALERT.replace(
            b'"fingerprint"', b'"startsAt":"2026-03-14T09:20:00Z","fingerprint"'
        ),
        _COMPACT_ALERT.replace(b'"fingerprint"', b'"status":"resolved","fingerprint"'),
        # Spaces, escapes: more bytes than the fields take written back.
        _COMPACT_ALERT.replace(b',"annotations"', b' , "annotations"'),
        _COMPACT_ALERT.replace(b'"startsAt":"2026', b'"startsAt":"\\u0032026'),
        _COMPACT_ALERT.replace(b'"status":"firing"', b'"st\\u0061tus":"firing"'),
        _COMPACT_ALERT.replace(b'"status":"firing"', b'"status":"fir\\u0069ng"'),
        _COMPACT_ALERT.replace(b'"summary":"5xx"', b'"summary":"5\\u0078x"'),
        _COMPACT_ALERT.replace(b'"summary":"5xx"', b'"summary":"5xx \\ud800"'),
        _COMPACT_ALERT.replace(b'"summary":"5xx"', b'"summary":1.0'),
        # Bytes that are not UTF-8, where the first read leaves the field as sent.
        _COMPACT_ALERT.replace(b'"summary":"5xx"', b'"summary":"5\xffx"'),
        _COMPACT_ALERT.replace(b'"team"', b'"te\xc3am"').replace(b'"service"', b'"s\xc3"'),
        _COMPACT_ALERT.replace(b'"status":"firing",', b""),
        _COMPACT_ALERT.replace(b'"status":"firing"', b'"status":"firing","endsAt":""'),
        b'{"status":"firing"}',
        b'{"status":"firing","status":"firing"}',
        b"{}",
        b'{"labels":null,"status":"firing"}',
    ],
)
def test_an_alert_first_read_by_its_status_and_times_maps_as_the_field_checks_map_it(
    make_envelope: MakeEnvelope, alert: bytes
) -> None:
    """An alert not seen before is first read for its status and times alone, its other
    fields left as sent: whatever else it holds (a field twice, spaces, escapes, a value of
    the wrong type), it maps as the field checks map it, alone and beside its compact copy,
    on its first delivery and on the next."""
    ruleset = Ruleset()
    for body in (_raw_webhook(alert), _raw_webhook(_COMPACT_ALERT, alert)):
        for received_at in (RECEIVED_AT, RECEIVED_AT + 7):
            envelope = make_envelope(SourceKind.ALERTMANAGER, body, received_at=received_at)
            assert normalize(envelope, ruleset, decode=orjson.loads) == normalize_checked(
                envelope, ruleset, decode=orjson.loads
            ), body


def test_a_group_seen_again_in_another_order_carries_its_own_fields(
    make_envelope: MakeEnvelope,
) -> None:
    """A group's fields written again (found by them as written) are its own, whatever the
    order they and their labels come in."""
    ruleset = Ruleset()
    groups = (
        b'"groupKey":"g","status":"firing","groupLabels":{"a":"1","b":"2"},"truncatedAlerts":0',
        b'"status":"firing","groupKey":"g","groupLabels":{"b":"2","a":"1"},"truncatedAlerts":0',
        b'"status":"firing","groupKey":"g","groupLabels":{"b":"2","a":"1"},"truncatedAlerts":1',
        b'"status":"firing","groupKey":"g","groupLabels":{"b":"2","a":"3"}',
    )
    for _ in range(2):
        for group in groups:
            body = b'{"alerts":[' + _COMPACT_ALERT + b"]," + group + b"}"
            envelope = make_envelope(SourceKind.ALERTMANAGER, body)
            typed = normalize(envelope, ruleset, decode=orjson.loads)
            assert isinstance(typed, Normalized)
            assert typed == normalize_checked(envelope, ruleset, decode=orjson.loads)
