"""The edge's normalization check, without HTTP: the rules it checks under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helios.apps.http import shapes
from helios.apps.http.errors import InvalidBody
from helios.domain.normalize import Normalized, Rejected, normalize
from helios.domain.ruleset import CloudWatchInsufficientData, Ruleset
from helios.domain.values import Envelope, SourceKind

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads" / "examples"


def _insufficient_data_with_a_bad_time() -> Envelope:
    message = json.loads((PAYLOADS / "sns_cloudwatch_notification.json").read_bytes())
    alarm = json.loads(message["Message"])
    alarm.update(NewStateValue="INSUFFICIENT_DATA", StateChangeTime="not a time")
    message["Message"] = json.dumps(alarm)
    return Envelope(
        ingest_id="i-1",
        tenant="t1",
        integration="int-1",
        source=SourceKind.CLOUDWATCH,
        received_at=1_790_000_000_000,
        body=json.dumps(message).encode(),
    )


def test_an_alarm_that_one_ruleset_skips_and_another_rejects_is_refused_at_the_edge() -> None:
    """The edge does not know the tenant's rules: it refuses what any ruleset would reject."""
    envelope = _insufficient_data_with_a_bad_time()
    assert isinstance(normalize(envelope, Ruleset()), Normalized)
    mapped = Ruleset(cloudwatch_insufficient_data=CloudWatchInsufficientData.RESOLVE)
    assert isinstance(normalize(envelope, mapped), Rejected)
    with pytest.raises(InvalidBody) as refused:
        shapes.check_normalizes(envelope)
    assert [e.field for e in refused.value.errors] == ["Message.StateChangeTime"]


def test_a_batch_with_many_bad_alerts_names_only_the_first_errors() -> None:
    """A 500-alert batch of bad alerts makes a short answer that says it is cut."""
    document = {"alerts": [{"status": "firing", "labels": {"n": i}} for i in range(500)]}
    envelope = Envelope(
        ingest_id="i-1",
        tenant="t1",
        integration="int-1",
        source=SourceKind.ALERTMANAGER,
        received_at=1_790_000_000_000,
        body=json.dumps(document).encode(),
    )
    with pytest.raises(InvalidBody) as refused:
        shapes.check_normalizes(envelope)
    assert len(refused.value.errors) == shapes.MAX_FIELD_ERRORS
    assert refused.value.detail == (
        "Invalid alertmanager webhook: 500 field errors (the first 20 are named)"
    )
