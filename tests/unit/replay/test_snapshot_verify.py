"""Verify checks snapshots: each equals its stream evolved up to the snapshot's version."""

from __future__ import annotations

import uuid

import attrs
import msgspec

from helios import replay
from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor, Snapshotting
from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain import alert
from helios.ports.event_store import AppendBatch, EventStore, StreamAppend
from helios.ports.snapshots import Snapshot, SnapshotStore

T0 = 1_773_480_000_000


def recorded_with_snapshots() -> EventStore:
    store = open_event_store("memory://")
    envelopes = list(TrafficGenerator(tenant="acme", start=T0, problems=2).envelopes(60))
    ingestor = Ingestor(store, snapshotting=Snapshotting(every=5))
    for start in range(0, len(envelopes), 4):
        ingestor.ingest(envelopes[start : start + 4])
    return store


def an_alert(store: EventStore) -> tuple[str, int]:
    """An alert's dedup key and a version of its stream that has no snapshot yet."""
    assert isinstance(store, SnapshotStore)
    key = next(
        e.event.signal.dedup_key
        for e in store.read_log(0, 10_000)
        if isinstance(e.event, alert.SignalAccepted)
    )
    stream = alert.alert_stream_id("acme", key)
    taken = {v for s, v in store.snapshot_versions() if s == stream}
    length = len(store.read_stream(stream))
    return key, max(set(range(1, length)) - taken) + 1


def evolved(store: EventStore, key: str, version: int) -> alert.AlertState:
    state = alert.initial_state("acme", key)
    for item in store.read_stream(alert.alert_stream_id("acme", key)):
        if item.version <= version:
            state = alert.evolve(state, item.event)
    return state


def test_snapshots_written_by_ingest_verify_clean() -> None:
    """Every snapshot the ingest use case wrote equals its stream evolved."""
    report = replay.verify(recorded_with_snapshots())
    assert report.ok, report.divergences[:3]
    assert report.snapshots_checked > 0


def test_a_snapshot_that_differs_from_its_stream_is_a_divergence() -> None:
    """A wrong snapshot would start every later decision from a wrong state: it is reported."""
    store = recorded_with_snapshots()
    assert isinstance(store, SnapshotStore)
    key, length = an_alert(store)
    stream = alert.alert_stream_id("acme", key)
    wrong = msgspec.structs.replace(evolved(store, key, length - 1), notifications=999)
    store.save_snapshots([Snapshot(stream_id=stream, version=length - 1, state=wrong)], keep=9)

    report = replay.verify(store)

    assert report.divergence_count == 1
    (found,) = report.divergences
    assert (found.kind, found.stream_id, found.version) == ("snapshot", str(stream), length - 1)
    assert found.recorded["notifications"] == 999


def test_a_snapshot_of_another_stream_is_a_divergence() -> None:
    """A right state filed under the wrong stream is reported too."""
    store = recorded_with_snapshots()
    assert isinstance(store, SnapshotStore)
    key, _ = an_alert(store)
    elsewhere = alert.alert_stream_id("acme", key + "-elsewhere")
    store.save_snapshots(
        [Snapshot(stream_id=elsewhere, version=1, state=evolved(store, key, 1))], keep=2
    )
    # The stream must exist to be recognised as an alert's: give it one event.
    store.append(_copy_first_event(store, key, elsewhere))

    report = replay.verify(store)

    kinds = [(d.kind, d.stream_id, d.message) for d in report.divergences]
    assert ("snapshot", str(elsewhere), "snapshot of another stream's aggregate") in kinds


@attrs.frozen(kw_only=True)
class OlderAlertState:
    tenant: str
    dedup_key: str


def test_a_snapshot_of_an_older_shape_is_skipped_not_a_divergence() -> None:
    """After an upgrade, old-shape snapshots are refused by loads and only counted by verify."""
    store = recorded_with_snapshots()
    assert isinstance(store, SnapshotStore)
    key, length = an_alert(store)
    older = OlderAlertState(tenant="acme", dedup_key=key)
    store.save_snapshots(
        [Snapshot(stream_id=alert.alert_stream_id("acme", key), version=length - 1, state=older)],
        keep=9,
    )

    report = replay.verify(store)

    assert report.ok and report.snapshots_skipped == 1


def _copy_first_event(store: EventStore, key: str, stream: uuid.UUID) -> AppendBatch:
    first = store.read_stream(alert.alert_stream_id("acme", key))[0].event
    return AppendBatch(
        streams=(StreamAppend(stream_id=stream, expected_version=0, events=(first,)),)
    )
