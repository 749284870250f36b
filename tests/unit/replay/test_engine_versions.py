"""Inputs record the engine version that handled them; replay handles them with it again."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from legacy_log import LOG, legacy_store

from helios import replay
from helios.adapters.store.codec import EventCodec
from helios.apps.application.ingest import Ingestor
from helios.domain import versions
from helios.domain.intake import (
    EnvelopeNormalized,
    EnvelopeReceived,
    EnvelopeRejected,
    TickReceived,
    envelope_stream,
)
from helios.domain.normalize import FieldError
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import AppendBatch, StreamAppend

INPUT_RECORDS = (
    "helios.intake.envelope_normalized.v1",
    "helios.intake.envelope_rejected.v1",
    "helios.intake.tick.v1",
)


def test_every_legacy_record_encodes_again_to_its_stored_bytes() -> None:
    """A record without an engine version reads as the legacy version and writes back to the
    very bytes it was stored as: the field is left out while it holds the legacy value."""
    codec = EventCodec()
    seen = set()
    for line in map(json.loads, LOG.read_text().splitlines()):
        stored = base64.b64decode(line["state"])
        name, event = codec.decode(line["name"], stored)
        if name in INPUT_RECORDS:
            seen.add(name)
            assert event.engine_version == versions.LEGACY
        assert codec.encode(event) == (line["name"], stored), name
    assert seen == set(INPUT_RECORDS)


@pytest.mark.parametrize(
    "record",
    [
        EnvelopeNormalized(ingest_id="i-1", ruleset_version=0, signals=(), engine_version=7),
        EnvelopeRejected(
            ingest_id="i-1",
            ruleset_version=0,
            reason="invalid body",
            errors=(FieldError(field="body", message="is not JSON"),),
            engine_version=7,
        ),
        TickReceived(tenant="acme", at=1, dedup_keys=("k",), ruleset_version=0, engine_version=7),
    ],
    ids=["normalized", "rejected", "tick"],
)
def test_a_later_engine_version_is_stored_and_read_back(record: object) -> None:
    """Any version but the legacy one is written out, and decodes to itself."""
    codec = EventCodec()

    name, stored = codec.encode(record)

    assert b"engine_version" in codec.unpack(stored)
    assert codec.decode(name, stored) == (name, record)


def _envelope(ingest_id: str, at: int) -> Envelope:
    body = {
        "routing_key": "R0UTINGKEY0000000000000000000000",
        "event_action": "trigger",
        "dedup_key": "disk-db-1",
        "payload": {"summary": "Disk full", "source": "db-1", "severity": "critical"},
    }
    return Envelope(
        ingest_id=ingest_id,
        tenant="acme",
        integration="int-1",
        source=SourceKind.PAGERDUTY,
        received_at=at,
        body=json.dumps(body).encode(),
    )


def test_new_inputs_record_the_current_engine_version() -> None:
    """The ingest use case records the version it normalized and decided with."""
    store = legacy_store()
    Ingestor(store).ingest([_envelope("now-1", 1_773_500_000_000)])

    recorded = [
        e.event for e in store.read_log(0, 1_000) if isinstance(e.event, EnvelopeNormalized)
    ]

    assert recorded[-1].ingest_id == "now-1"
    assert recorded[-1].engine_version == versions.CURRENT
    assert replay.verify(store).ok


def test_an_input_of_an_engine_version_this_helios_lacks_is_reported_not_replayed() -> None:
    """A log written by a newer Helios names a version this one does not have: verify says so
    for that input instead of deciding it with other rules or failing."""
    store = legacy_store()
    envelope = _envelope("future-1", 1_773_500_000_000)
    future = EnvelopeNormalized(
        ingest_id=envelope.ingest_id,
        ruleset_version=0,
        signals=(),
        engine_version=versions.CURRENT + 1,
    )
    store.append(
        AppendBatch(
            streams=(
                StreamAppend(
                    stream_id=uuid.UUID(envelope_stream("acme", envelope.ingest_id)),
                    expected_version=0,
                    events=(EnvelopeReceived(envelope=envelope), future),
                ),
            )
        )
    )

    report = replay.verify(store)

    assert [d.kind for d in report.divergences] == ["unreplayable"]
    assert f"engine version {versions.CURRENT + 1}" in report.divergences[0].message
