"""Change events through the ingest use case, replay and the projector: recorded with their
envelope, never an alert decision, verified byte for byte like every other normalization
outcome, and projected once however often they are delivered."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import attrs

from helios import replay
from helios.adapters.store.codec import EventCodec
from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.composition import open_read_models
from helios.apps.views.positions import committed_position
from helios.apps.views.projector import Projector
from helios.domain.intake import ChangeRecorded
from helios.domain.values import Envelope, SourceKind

PAYLOADS = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples"
T0 = 1_773_480_000_000  # 2026-03-14T09:20:00Z


def _envelope(ingest_id: str, source: SourceKind, body: bytes, at: int) -> Envelope:
    return Envelope(
        ingest_id=ingest_id,
        tenant="acme",
        integration="pd-1",
        source=source,
        received_at=at,
        body=body,
    )


def _change() -> bytes:
    change = json.loads((PAYLOADS / "pagerduty_v2_change.json").read_text())
    change["payload"]["component"] = "checkout-api"
    return json.dumps(change).encode()


def _history(path: Path) -> None:
    """A trigger, then a deploy of the same service, then a rejected change event."""
    trigger = (PAYLOADS / "pagerduty_v2_trigger.json").read_bytes()
    store = open_event_store(f"sqlite:{path}")
    try:
        ingest = Ingestor(store)
        ingest.ingest([_envelope("in-1", SourceKind.PAGERDUTY, trigger, T0)])
        report = ingest.ingest(
            [
                _envelope("in-2", SourceKind.PAGERDUTY_CHANGE, _change(), T0),
                _envelope("in-3", SourceKind.PAGERDUTY_CHANGE, b'{"payload": {}}', T0 + 1),
            ]
        )
        assert (report.envelopes, report.signals, report.rejected) == (2, 0, 1)
    finally:
        store.close()


def test_a_change_is_recorded_with_its_envelope_and_decides_nothing(tmp_path: Path) -> None:
    """The second transaction holds intake events only: no alert or incident stream moved."""
    _history(tmp_path / "helios.db")
    store = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")
    try:
        log = store.read_log(0, 1_000)
    finally:
        store.close()
    first_change = next(i for i, e in enumerate(log) if isinstance(e.event, ChangeRecorded))
    after = [entry.name for entry in log[first_change - 1 :]]
    assert after == [
        "helios.intake.envelope_received.v1",
        "helios.intake.change_recorded.v1",
        "helios.intake.envelope_received.v1",
        "helios.intake.envelope_rejected.v1",
    ]
    [change] = log[first_change].event.changes
    assert (change.service, change.tenant) == ("checkout-api", "acme")
    assert log[first_change].event.normalizer_version == 1


def test_verify_renormalizes_recorded_changes_and_catches_a_tampered_one(tmp_path: Path) -> None:
    """An untouched log verifies; a change rewritten in the store is an outcome divergence."""
    path = tmp_path / "helios.db"
    _history(path)
    store = open_event_store(f"sqlite:{path}")
    clean = replay.verify(store)
    store.close()
    assert clean.ok, clean.divergences[:1]
    assert clean.inputs == 3

    codec = EventCodec()
    with sqlite3.connect(path) as db:
        rowid, topic, state = db.execute(
            "SELECT rowid, topic, state FROM stored_events WHERE topic = ?",
            ("helios.intake.change_recorded.v1",),
        ).fetchone()
        _, recorded = codec.decode(topic, state)
        [change] = recorded.changes
        forged_change = attrs.evolve(change, summary="nothing to see here")
        _, forged = codec.encode(attrs.evolve(recorded, changes=(forged_change,)))
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (forged, rowid))
    store = open_event_store(f"sqlite:{path}")
    report = replay.verify(store)
    store.close()
    assert not report.ok
    [divergence] = report.divergences
    assert (divergence.kind, divergence.position) == ("outcome", rowid)
    assert divergence.recomputed["changes"][0]["summary"] == change.summary


def test_a_change_delivered_twice_is_projected_once_and_rebuilds_the_same(tmp_path: Path) -> None:
    """One row in ``changes`` and one line in the feed; a rebuild gives the same tables."""
    _history(tmp_path / "helios.db")
    store = open_event_store(f"sqlite:{tmp_path / 'helios.db'}")
    db = open_read_models(f"sqlite:{tmp_path / 'readmodels.db'}")
    try:
        # The same deploy again, after the API's dedup window: another envelope, same change.
        Ingestor(store).ingest(
            [_envelope("in-4", SourceKind.PAGERDUTY_CHANGE, _change(), T0 + 60_000)]
        )
        projector = Projector(store, db)

        def project() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
            log = store.read_log(0, 1_000)
            projector.apply(log, after=committed_position(db, "projector"))
            return (
                db.query("SELECT change_id, service, summary, ingest_id FROM changes"),
                db.query("SELECT kind, subject, text FROM activity WHERE kind = 'change'"),
            )

        changes, feed = project()
        assert [(service, ingest) for _, service, _, ingest in changes] == [
            ("checkout-api", "in-2")
        ]
        assert feed == [
            (
                "change",
                "checkout-api",
                "checkout-api: Build Success: Increase snapshot create timeout to 30 seconds"
                " — change",
            )
        ]
        projector.reset()
        assert project() == (changes, feed)
    finally:
        db.close()
        store.close()
