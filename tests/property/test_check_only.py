"""Checking a body without normalizing it refuses exactly what normalization refuses.

The API runs ``normalize.rejection`` on every body before its 202: it stops short of the
signals (no hashing, no details, no memo) when the body decodes into the source's typed structs
and passes the field checks, and normalizes in full otherwise. Either way it must refuse exactly
the bodies the worker's ``normalize`` refuses, with the same reason and the same field errors,
for every engine version, decoder and ruleset, or a 202 would be followed by a quarantine.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from payload_strategies import bodies, normalization_rulesets, received_ats
from test_normalization_total import _shaped_payloads

from helios.domain import versions
from helios.domain.normalize import Rejected, normalize, rejection
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope, SourceKind

EDGE_SOURCES = [kind for kind in SourceKind if kind is not SourceKind.USER]
VERSIONS = st.sampled_from(range(versions.LEGACY, versions.CURRENT + 1))
DECODERS = st.sampled_from([json.loads, orjson.loads])


def _envelope(source: SourceKind, body: bytes, received_at: int) -> Envelope:
    return Envelope(
        ingest_id="edge-check",
        tenant="ten_1",
        integration="int_1",
        source=source,
        received_at=received_at,
        body=body,
    )


def _refused(result: object) -> Rejected | None:
    return result if isinstance(result, Rejected) else None


@pytest.mark.parametrize("source", EDGE_SOURCES, ids=lambda kind: kind.value)
@given(data=st.data(), ruleset=normalization_rulesets, received_at=received_ats)
def test_the_check_refuses_what_normalization_refuses_naming_the_same_fields(
    source, data, ruleset, received_at
):
    """Clean and faulty bodies of every source, values at and just past every limit."""
    envelope = _envelope(source, data.draw(bodies(source), label="body"), received_at)
    version = data.draw(VERSIONS, label="version")
    decode = data.draw(DECODERS, label="decode")

    checked = rejection(envelope, ruleset, decode=decode, version=version)

    assert checked == _refused(normalize(envelope, ruleset, decode=decode, version=version))


@given(shaped=_shaped_payloads(), decode=DECODERS, version=VERSIONS)
def test_the_check_of_mutated_real_payloads_refuses_what_normalization_refuses(
    shaped, decode, version
):
    """Real payloads with fields removed, retyped or added, sometimes under another source."""
    source, body = shaped
    envelope = _envelope(source, body, 1_773_480_000_000)

    checked = rejection(envelope, Ruleset(), decode=decode, version=version)

    assert checked == _refused(normalize(envelope, Ruleset(), decode=decode, version=version))


_HOSTILE_TEXTS = st.sampled_from(
    [
        "",
        "x" * 1024,
        "x" * 1025,
        "k" * 255,
        "k" * 256,
        "2026-02-30T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999Z",
        "\ud800",
        "é\u2028",
        "firing",
        "resolved",
    ]
)
_HOSTILE_NAMES = st.sampled_from(
    ["alertname", "severity", "a" * 128, "a" * 129, "9lives", "", "é", "__name__"]
)


@st.composite
def _hostile_alerts(draw: st.DrawFn) -> dict[str, object]:
    alert: dict[str, object] = {
        "status": draw(st.sampled_from(["firing", "resolved", "", "burning"])),
        "labels": draw(
            st.dictionaries(_HOSTILE_NAMES, _HOSTILE_TEXTS, max_size=4)
            | st.integers(63, 66).map(lambda n: {f"l{i}": "v" for i in range(n)})
        ),
    }
    for name in ("startsAt", "endsAt", "fingerprint", "generatorURL", "dashboardURL"):
        if draw(st.booleans()):
            alert[name] = draw(_HOSTILE_TEXTS)
    if draw(st.booleans()):
        alert["annotations"] = draw(st.dictionaries(_HOSTILE_NAMES, _HOSTILE_TEXTS, max_size=2))
    if draw(st.booleans()):
        alert["values"] = draw(
            st.dictionaries(st.sampled_from("AB"), st.floats() | st.integers(), max_size=2)
        )
    return alert


@pytest.mark.parametrize("source", [SourceKind.ALERTMANAGER, SourceKind.GRAFANA])
@settings(max_examples=300)
@given(
    alerts=st.lists(_hostile_alerts(), max_size=4),
    status=st.sampled_from(["firing", "resolved", ""]),
    version=VERSIONS,
)
def test_the_check_of_hostile_webhooks_refuses_what_normalization_refuses(
    source, alerts, status, version
):
    """Alerts whose every field sits at or just past a limit, or is no timestamp at all."""
    document = {"version": "4", "status": status, "alerts": alerts}
    # The json module writes NaN and Infinity, which only some decoders read back.
    body = json.dumps(document).encode("utf-8", "surrogatepass")
    envelope = _envelope(source, body, 1_773_480_000_000)

    checked = rejection(envelope, Ruleset(), decode=json.loads, version=version)

    assert checked == _refused(normalize(envelope, Ruleset(), decode=json.loads, version=version))


_KEYS = st.sampled_from(["", "k", "k" * 255, "k" * 256])
_TIMES = st.sampled_from(["", "2026-03-14T09:21:30Z", "2026-02-30T00:00:00Z", "yesterday"])
_PAYLOAD_TEXTS = st.sampled_from(["", "db-1", "x" * 1024, "x" * 1025])


@st.composite
def _hostile_events(draw: st.DrawFn) -> dict[str, object]:
    payload: dict[str, object] = {
        name: draw(_TIMES if name == "timestamp" else _PAYLOAD_TEXTS)
        for name in ("summary", "source", "severity", "timestamp", "component", "group", "class")
        if draw(st.integers(0, 3)) > 0
    }
    if draw(st.booleans()):
        payload["custom_details"] = draw(
            st.dictionaries(_HOSTILE_NAMES, _HOSTILE_TEXTS | st.floats() | st.integers())
        )
    event: dict[str, object] = {
        "routing_key": draw(st.sampled_from(["R" * 32, "R" * 32, "R" * 32, ""])),
        "event_action": draw(st.sampled_from(["trigger", "acknowledge", "resolve", "snooze"])),
    }
    if draw(st.integers(0, 3)) > 0:
        event["payload"] = payload
    if draw(st.integers(0, 3)) > 0:
        event["dedup_key"] = draw(_KEYS)
    if draw(st.booleans()):
        event["links"] = draw(
            st.lists(st.fixed_dictionaries({}, optional={"href": _PAYLOAD_TEXTS}), max_size=2)
        )
    for name in ("client", "client_url"):
        if draw(st.booleans()):
            event[name] = draw(_HOSTILE_TEXTS)
    return event


@settings(max_examples=300)
@given(event=_hostile_events(), version=VERSIONS)
def test_the_check_of_hostile_pagerduty_events_refuses_what_normalization_refuses(event, version):
    """Events whose every field sits at or just past a limit, or is missing."""
    envelope = _envelope(SourceKind.PAGERDUTY, json.dumps(event).encode(), 1_773_480_000_000)

    checked = rejection(envelope, Ruleset(), decode=json.loads, version=version)

    assert checked == _refused(normalize(envelope, Ruleset(), decode=json.loads, version=version))
