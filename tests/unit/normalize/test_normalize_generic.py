"""The generic Helios format: documented fields map one to one; the rendering round-trips."""

from __future__ import annotations

import json

import pytest
from normalize_support import only_signal, rejected_fields

from helios.domain.identity import labels_dedup_key
from helios.domain.normalize import normalize
from helios.domain.normalize.dispatch import render_generic
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Action, Link, Severity, SourceKind

GENERIC = SourceKind.GENERIC
EVENT = {
    "action": "trigger",
    "dedup_key": "db-1/disk",
    "summary": "Disk on db-1 is full",
    "severity": "page",
    "occurred_at": "2026-03-14T09:21:30.512Z",
    "service": "storage",
    "component": "postgres",
    "group": "eu-1",
    "class": "disk",
    "labels": {"instance": "db-1:9100", "alertname": "DiskFull"},
    "links": [{"href": "https://runbooks.example.internal/disk", "text": "Runbook"}],
    "details": {"free_bytes": 0},
}


def test_every_documented_field_maps_to_the_signal(run):
    """Given a complete generic event, each field lands on its namesake."""
    signal = only_signal(run(GENERIC, EVENT))

    assert signal.source == "generic"
    assert signal.action is Action.TRIGGER
    assert signal.dedup_key == "db-1/disk"
    assert signal.summary == "Disk on db-1 is full"
    assert signal.severity is Severity.CRITICAL
    assert signal.occurred_at == parse_rfc3339("2026-03-14T09:21:30.512Z")
    assert (signal.service, signal.component, signal.group, signal.class_) == (
        "storage",
        "postgres",
        "eu-1",
        "disk",
    )
    assert signal.labels == (("alertname", "DiskFull"), ("instance", "db-1:9100"))
    assert signal.links == (Link(href="https://runbooks.example.internal/disk", text="Runbook"),)
    assert signal.details == '{"free_bytes":0}'
    assert signal.notes == ()


def test_a_minimal_event_takes_defaults_with_notes(run):
    """Only the action: key from the key labels, default severity, received_at."""
    signal = only_signal(run(GENERIC, {"action": "resolve", "labels": {"alertname": "X"}}))

    assert signal.dedup_key == labels_dedup_key(signal.labels, Ruleset().key_labels)
    assert signal.severity is Severity.WARNING
    assert signal.occurred_at == signal.received_at
    assert signal.notes == (
        "severity missing: used warning",
        "occurred_at missing: used received_at",
    )


def test_unknown_fields_are_kept_in_details(run):
    """Fields this version does not know join details; details' own keys win a clash."""
    event = {**EVENT, "ticket": "OPS-1", "free_bytes": "shadowed"}

    signal = only_signal(run(GENERIC, event))

    assert json.loads(signal.details) == {"free_bytes": 0, "ticket": "OPS-1"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": None}, "action"),
        ({"action": "page"}, "action"),
        ({"summary": 3}, "summary"),
        ({"severity": 1}, "severity"),
        ({"occurred_at": "2026-13-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": 1773480090512}, "occurred_at"),
        ({"service": ["a"]}, "service"),
        ({"labels": "a=b"}, "labels"),
        ({"labels": {"9lives": "x"}}, "labels"),
        ({"labels": {"instance": None}}, "labels.instance"),
        ({"links": [{"href": 1}]}, "links[0].href"),
        ({"details": [1, 2]}, "details"),
        ({"dedup_key": "d" * 256}, "dedup_key"),
    ],
)
def test_a_malformed_event_is_rejected_naming_the_field(run, change, field):
    """Each broken field is named in the rejection."""
    assert field in rejected_fields(run(GENERIC, {**EVENT, **change}))


def test_a_rendered_signal_normalizes_back_to_itself(make_envelope):
    """render_generic is the canonical form: normalizing it gives the same signal."""
    original = only_signal(normalize(make_envelope(GENERIC, EVENT), Ruleset()))

    again = only_signal(normalize(make_envelope(GENERIC, render_generic(original)), Ruleset()))

    assert again == original


def test_the_rendering_is_canonical_json(make_envelope):
    """Sorted keys, compact separators, UTF-8: byte-stable."""
    original = only_signal(
        normalize(make_envelope(GENERIC, {**EVENT, "summary": "Disque plein à 100 %"}), Ruleset())
    )

    rendered = render_generic(original)

    assert rendered == json.dumps(
        json.loads(rendered), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "à".encode() in rendered
