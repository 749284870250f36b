"""The limits every source shares: sizes, label rules, severity defaults, clock skew."""

from __future__ import annotations

import pytest
from normalize_support import only_signal, rejected_fields

from helios.domain.normalize import Rejected
from helios.domain.normalize.common import (
    MAX_BODY_BYTES,
    MAX_DEDUP_KEY_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    MAX_SUMMARY_CHARS,
)
from helios.domain.ruleset import Ruleset
from helios.domain.values import MINUTE_MS, Severity, SourceKind

GENERIC = SourceKind.GENERIC
RECEIVED_AT = 1_773_480_000_000  # 2026-03-14T09:20:00Z


def _event(**fields):
    return {"action": "trigger", "summary": "s", "dedup_key": "k", **fields}


def test_the_limits_are_those_of_the_specification():
    """512 KiB body, 1024-char summary, 255-char key, 64 labels, 1024-char values."""
    assert (
        MAX_BODY_BYTES,
        MAX_SUMMARY_CHARS,
        MAX_DEDUP_KEY_CHARS,
        MAX_LABELS,
        MAX_LABEL_VALUE_CHARS,
    ) == (512 * 1024, 1024, 255, 64, 1024)


def test_a_body_over_512_kib_is_rejected_before_decoding(run):
    """The size is checked on the bytes: an oversize body is never parsed."""
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"

    result = run(GENERIC, body)

    assert isinstance(result, Rejected)
    assert rejected_fields(result) == {"body"}


def test_a_body_of_exactly_512_kib_is_accepted(run):
    """The limit is inclusive."""
    prefix = b'{"action":"trigger","summary":"s","dedup_key":"k"'
    body = prefix + b" " * (MAX_BODY_BYTES - len(prefix) - 1) + b"}"

    assert len(body) == MAX_BODY_BYTES
    assert only_signal(run(GENERIC, body)).dedup_key == "k"


def test_a_summary_at_the_limit_is_kept_whole(run):
    """1024 characters (not bytes) pass untouched."""
    signal = only_signal(run(GENERIC, _event(summary="é" * MAX_SUMMARY_CHARS)))

    assert signal.summary == "é" * MAX_SUMMARY_CHARS
    assert not any("truncated" in note for note in signal.notes)


def test_a_longer_summary_is_truncated_with_a_note(run):
    """One character more is cut, and the note says from how long."""
    signal = only_signal(run(GENERIC, _event(summary="x" * 1025)))

    assert len(signal.summary) == MAX_SUMMARY_CHARS
    assert "summary truncated from 1025 to 1024 characters" in signal.notes


def test_a_dedup_key_at_the_limit_is_accepted_and_beyond_rejected(run):
    """255 characters pass; 256 are rejected, never cut."""
    assert only_signal(run(GENERIC, _event(dedup_key="k" * 255))).dedup_key == "k" * 255
    assert rejected_fields(run(GENERIC, _event(dedup_key="k" * 256))) == {"dedup_key"}


def test_sixty_four_labels_pass_and_sixty_five_do_not(run):
    """The label count limit is inclusive."""
    labels = {f"l{index}": "v" for index in range(MAX_LABELS)}
    assert len(only_signal(run(GENERIC, _event(labels=labels))).labels) == MAX_LABELS

    labels["one_more"] = "v"
    assert rejected_fields(run(GENERIC, _event(labels=labels))) == {"labels"}


@pytest.mark.parametrize(
    "key", ["a", "_", "A9", "a.b-c_d", "x" * 128, "service", "__name__", "Dimension.Name"]
)
def test_valid_label_names_are_accepted(run, key):
    """[A-Za-z_][A-Za-z0-9_.-]{0,127}."""
    assert only_signal(run(GENERIC, _event(labels={key: "v"}))).label(key) == "v"


@pytest.mark.parametrize("key", ["", "9a", "-a", ".a", "a b", "a/b", "é", "x" * 129, "a:b"])
def test_invalid_label_names_are_rejected(run, key):
    """Anything else names the labels field."""
    assert rejected_fields(run(GENERIC, _event(labels={key: "v"}))) == {"labels"}


def test_a_label_value_at_the_limit_passes_and_beyond_is_rejected(run):
    """1024 characters pass; 1025 are rejected with the label's path."""
    ok = only_signal(run(GENERIC, _event(labels={"a": "v" * MAX_LABEL_VALUE_CHARS})))
    assert ok.label("a") == "v" * MAX_LABEL_VALUE_CHARS

    too_long = run(GENERIC, _event(labels={"a": "v" * (MAX_LABEL_VALUE_CHARS + 1)}))
    assert rejected_fields(too_long) == {"labels.a"}


@pytest.mark.parametrize(
    ("raw", "severity"),
    [
        ("critical", Severity.CRITICAL),
        ("P1", Severity.CRITICAL),
        (" Major ", Severity.ERROR),
        ("warn", Severity.WARNING),
        ("none", Severity.INFO),
    ],
)
def test_severity_goes_through_the_ruleset_table(run, raw, severity):
    """Source values map case-insensitively through the table."""
    assert only_signal(run(GENERIC, _event(severity=raw))).severity is severity


def test_a_tenant_table_decides_first(run):
    """A tenant mapping "critical" to error is obeyed."""
    ruleset = Ruleset(severity_map=(("critical", Severity.ERROR),))

    signal = only_signal(run(GENERIC, _event(severity="critical"), ruleset=ruleset))

    assert signal.severity is Severity.ERROR


def test_a_canonical_name_missing_from_the_table_still_means_itself(run):
    """A table without "info" does not turn info into the default."""
    ruleset = Ruleset(severity_map=(("page", Severity.CRITICAL),))

    signal = only_signal(run(GENERIC, _event(severity="info"), ruleset=ruleset))

    assert signal.severity is Severity.INFO
    assert not any("severity" in note for note in signal.notes)


def test_an_unknown_severity_takes_the_ruleset_default_with_a_note(run):
    """Unknown values fall back to the tenant's default, noted."""
    ruleset = Ruleset(default_severity=Severity.ERROR)

    signal = only_signal(run(GENERIC, _event(severity="sev9"), ruleset=ruleset))

    assert signal.severity is Severity.ERROR
    assert "severity 'sev9' is not in the severity map: used error" in signal.notes


def test_a_time_within_the_skew_tolerance_is_kept(run):
    """Up to five minutes in the future is believed."""
    signal = only_signal(
        run(GENERIC, _event(occurred_at="2026-03-14T09:25:00Z"), received_at=RECEIVED_AT)
    )

    assert signal.occurred_at == RECEIVED_AT + 5 * MINUTE_MS
    assert signal.notes == ("severity missing: used warning",)


def test_a_time_beyond_the_skew_tolerance_is_clamped_with_a_note(run):
    """More than the tolerance ahead of received_at becomes received_at."""
    signal = only_signal(
        run(GENERIC, _event(occurred_at="2026-03-14T09:25:00.001Z"), received_at=RECEIVED_AT)
    )

    assert signal.occurred_at == RECEIVED_AT
    assert any("clamped to received_at" in note for note in signal.notes)


def test_the_tolerance_is_the_rulesets(run):
    """A tenant with zero tolerance clamps any future time."""
    ruleset = Ruleset(skew_tolerance_ms=0)

    signal = only_signal(
        run(
            GENERIC,
            _event(occurred_at="2026-03-14T09:20:00.001Z"),
            received_at=RECEIVED_AT,
            ruleset=ruleset,
        )
    )

    assert signal.occurred_at == RECEIVED_AT


def test_a_time_in_the_past_is_kept_however_old(run):
    """Late delivery is the fold's business, not normalization's."""
    signal = only_signal(
        run(GENERIC, _event(occurred_at="2020-01-01T00:00:00Z"), received_at=RECEIVED_AT)
    )

    assert signal.occurred_at == 1_577_836_800_000


def test_notes_do_not_change_the_signal_id(run):
    """Truncation notes are metadata: the same observation keeps its id."""
    one = only_signal(run(GENERIC, _event(summary="x" * 2000)))
    two = only_signal(run(GENERIC, _event(summary="x" * 1024)))

    assert one.notes != two.notes
    assert one.signal_id == two.signal_id
