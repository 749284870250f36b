"""Normalization is total and the generic rendering round-trips (domain.md §8.5)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from helios.domain import identity
from helios.domain.normalize import ChangeNormalized, Control, Normalized, Rejected, normalize
from helios.domain.normalize.dispatch import render_generic
from helios.domain.ruleset import CloudWatchInsufficientData, Ruleset
from helios.domain.values import Action, Envelope, Link, Severity, Signal, SourceKind

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
RESULT_TYPES = (Normalized, Control, ChangeNormalized, Rejected)
SOURCES = st.sampled_from(list(SourceKind))
DECODERS = st.sampled_from([json.loads, orjson.loads])
RULESETS = st.sampled_from(
    [Ruleset(), Ruleset(cloudwatch_insufficient_data=CloudWatchInsufficientData.TRIGGER)]
)
FIRST_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
LAST_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
SKEW_MS = Ruleset().skew_tolerance_ms


def _envelope(source: SourceKind, body: bytes, received_at: int = 1_773_480_000_000) -> Envelope:
    return Envelope(
        ingest_id="ing-1",
        tenant="acme",
        integration="int-1",
        source=source,
        received_at=received_at,
        body=body,
    )


@given(body=st.binary(max_size=512), source=SOURCES, decode=DECODERS)
def test_normalization_is_total_on_any_bytes(body, source, decode):
    """Any byte string from any source gives a result, never an exception."""
    assert isinstance(normalize(_envelope(source, body), Ruleset(), decode=decode), RESULT_TYPES)


# -- structured fuzz: real payloads with fields removed, retyped or added ----------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["", "0001-01-01T00:00:00Z", "2026-03-14T09:21:30Z", "firing", "OK"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

SHAPES = [
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_trigger.json"),
    (SourceKind.PAGERDUTY, "examples/pagerduty_v2_resolve.json"),
    (SourceKind.PAGERDUTY_CHANGE, "examples/pagerduty_v2_change.json"),
    (SourceKind.ALERTMANAGER, "examples/alertmanager_v4_firing.json"),
    (SourceKind.ALERTMANAGER, "alertmanager-0.25-captured/webhook_v4_resolved.json"),
    (SourceKind.GRAFANA, "examples/grafana_webhook_firing.json"),
    (SourceKind.CLOUDWATCH, "examples/sns_cloudwatch_notification.json"),
    (SourceKind.CLOUDWATCH, "examples/sns_subscription_confirmation.json"),
]
_DOCUMENTS = {name: json.loads((PAYLOADS / name).read_bytes()) for _, name in SHAPES}
_DOCUMENTS["generic"] = {
    "action": "trigger",
    "dedup_key": "k",
    "summary": "s",
    "severity": "page",
    "occurred_at": "2026-03-14T09:21:30Z",
    "service": "svc",
    "labels": {"alertname": "A"},
    "links": [{"href": "https://example.internal", "text": "t"}],
    "details": {"a": 1},
}
SHAPES.append((SourceKind.GENERIC, "generic"))


def _containers(value: Any) -> list[Any]:
    """Every dict and list inside ``value`` (itself included)."""
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            stack.extend(item)
    return found


@st.composite
def _mutated(draw: st.DrawFn, document: Any) -> Any:
    document = copy.deepcopy(document)
    alarm = None
    if isinstance(document.get("Message"), str) and document["Message"].startswith("{"):
        alarm = json.loads(document["Message"])  # the CloudWatch alarm inside the SNS message
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        root = alarm if alarm is not None and draw(st.booleans()) else document
        target = draw(st.sampled_from(_containers(root)))
        if isinstance(target, dict):
            operation = draw(st.sampled_from(["delete", "retype", "add"]))
            if operation == "add" or not target:
                target[draw(st.text(max_size=12))] = draw(JSON_VALUES)
            else:
                key = draw(st.sampled_from(sorted(target)))
                if operation == "delete":
                    del target[key]
                else:
                    target[key] = draw(JSON_VALUES)
        elif target:
            target[draw(st.integers(0, len(target) - 1))] = draw(JSON_VALUES)
        else:
            target.append(draw(JSON_VALUES))
    if alarm is not None:
        document["Message"] = json.dumps(alarm)
    return document


@st.composite
def _shaped_payloads(draw: st.DrawFn) -> tuple[SourceKind, bytes]:
    source, name = draw(st.sampled_from(SHAPES))
    # Sometimes the right shape under the wrong source, as a misconfigured integration sends.
    if draw(st.integers(0, 9)) == 0:
        source = draw(SOURCES)
    return source, json.dumps(draw(_mutated(_DOCUMENTS[name]))).encode("utf-8")


@given(shaped=_shaped_payloads(), decode=DECODERS, ruleset=RULESETS)
def test_normalization_is_total_on_malformed_payloads(shaped, decode, ruleset):
    """Payloads shaped like each source with missing, extra or mistyped fields never raise."""
    source, body = shaped

    result = normalize(_envelope(source, body), ruleset, decode=decode)

    assert isinstance(result, RESULT_TYPES)
    if isinstance(result, Rejected):
        assert result.errors
        assert all(error.field for error in result.errors)


# -- the generic rendering round-trips --------------------------------------------------------

_TEXT = st.text(max_size=40)
_LABEL_KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_DETAIL_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _signals(draw: st.DrawFn) -> Signal:
    received_at = draw(st.integers(FIRST_MS, LAST_MS))
    occurred_at = draw(st.integers(FIRST_MS, min(LAST_MS, received_at + SKEW_MS)))
    tenant = draw(st.text(min_size=1, max_size=20))
    dedup_key = draw(st.text(min_size=1, max_size=255))
    action = draw(st.sampled_from(Action))
    severity = draw(st.sampled_from(Severity))
    summary = draw(st.text(max_size=1024))
    labels = tuple(
        sorted(draw(st.dictionaries(_LABEL_KEYS, st.text(max_size=1024), max_size=8)).items())
    )
    details = draw(st.dictionaries(_TEXT, _DETAIL_VALUES, max_size=4))
    return Signal(
        signal_id=identity.signal_id(
            tenant=tenant,
            source="generic",
            dedup_key=dedup_key,
            action=action,
            occurred_at=occurred_at,
            severity=severity,
            summary=summary,
            labels=labels,
        ),
        tenant=tenant,
        integration=draw(st.text(min_size=1, max_size=20)),
        source="generic",
        dedup_key=dedup_key,
        action=action,
        severity=severity,
        summary=summary,
        occurred_at=occurred_at,
        received_at=received_at,
        service=draw(_TEXT),
        component=draw(_TEXT),
        group=draw(_TEXT),
        class_=draw(_TEXT),
        labels=labels,
        links=tuple(
            draw(
                st.lists(
                    st.builds(Link, href=st.text(min_size=1, max_size=40), text=_TEXT), max_size=3
                )
            )
        ),
        details=json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    )


@given(signal=_signals())
def test_generic_rendering_round_trips(signal):
    """A signal rendered with render_generic normalizes back to an equal signal."""
    envelope = Envelope(
        ingest_id="ing-rt",
        tenant=signal.tenant,
        integration=signal.integration,
        source=SourceKind.GENERIC,
        received_at=signal.received_at,
        body=render_generic(signal),
    )

    assert normalize(envelope, Ruleset()) == Normalized(signals=(signal,))
