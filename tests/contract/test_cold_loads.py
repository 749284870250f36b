"""Cold loads in the ingest use case: from the latest snapshot, over every event store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import attrs
from store_fixtures import (  # noqa: F401  (fixtures are registered by being imported here)
    event_store,
    event_store_url,
)
from structlog.testing import capture_logs

from helios.adapters.store.factory import open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.application.repository import Snapshotting, StateCache
from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain import alert
from helios.domain.values import Envelope
from helios.ports.event_store import EventStore, StoreUnavailable
from helios.ports.snapshots import Snapshot, SnapshotStore

T0 = 1_773_480_000_000
EVERY = 10


def traffic(count: int) -> list[Envelope]:
    # Two problems: long alert streams.
    return list(TrafficGenerator(tenant="acme", start=T0, problems=2).envelopes(count))


def ingest_in_batches(ingestor: Ingestor, envelopes: list[Envelope], size: int = 4) -> None:
    for start in range(0, len(envelopes), size):
        ingestor.ingest(envelopes[start : start + size])


def longest_alert(store: EventStore) -> tuple[str, uuid.UUID, int]:
    keys = {
        e.event.signal.dedup_key
        for e in store.read_log(0, 1_000_000)
        if isinstance(e.event, alert.SignalAccepted)
    }
    lengths = {k: len(store.read_stream(alert.alert_stream_id("acme", k))) for k in keys}
    key = max(lengths, key=lambda k: lengths[k])
    return key, alert.alert_stream_id("acme", key), lengths[key]


def test_a_cold_load_reads_only_the_events_after_the_latest_snapshot(store: EventStore) -> None:
    """A new ingestor (empty cache) starts from the snapshot, not from the first event."""
    ingest_in_batches(Ingestor(store, snapshotting=Snapshotting(every=EVERY)), traffic(120))
    key, _, length = longest_alert(store)
    assert length > 3 * EVERY

    cold = Ingestor(store, cache=StateCache(), snapshotting=Snapshotting(every=EVERY))
    state, version = cold.alert_state("acme", key)
    whole = Ingestor(store, cache=StateCache(), snapshotting=Snapshotting(every=0))
    expected, expected_version = whole.alert_state("acme", key)

    assert version == expected_version == length
    assert state == expected
    assert cold.stats.snapshots_used == 1
    assert cold.stats.events_read < EVERY
    assert whole.stats.events_read == length


def test_deciding_from_snapshots_records_the_same_log_as_from_whole_streams() -> None:
    """Every batch loaded cold from snapshots decides exactly what whole-stream loads decide."""
    envelopes = traffic(90)
    with_snapshots, without = open_event_store("memory://"), open_event_store("memory://")
    for start in range(0, len(envelopes), 3):
        batch = envelopes[start : start + 3]
        Ingestor(with_snapshots, cache=StateCache(), snapshotting=Snapshotting(every=3)).ingest(
            batch
        )
        Ingestor(without, cache=StateCache(), snapshotting=Snapshotting(every=0)).ingest(batch)

    assert isinstance(with_snapshots, SnapshotStore)
    assert list(with_snapshots.snapshot_versions())
    recorded = [
        (e.stream_id, e.version, e.name, e.event) for e in with_snapshots.read_log(0, 10**6)
    ]
    assert recorded == [
        (e.stream_id, e.version, e.name, e.event) for e in without.read_log(0, 10**6)
    ]


@attrs.frozen(kw_only=True)
class OlderAlertState:
    tenant: str
    dedup_key: str


def test_a_snapshot_of_another_shape_is_logged_and_the_stream_read_whole(
    store: EventStore,
) -> None:
    """A snapshot written by an older state shape never crashes a load: the stream is read."""
    ingest_in_batches(Ingestor(store, snapshotting=Snapshotting(every=0)), traffic(30))
    key, stream, length = longest_alert(store)
    assert isinstance(store, SnapshotStore)
    store.save_snapshots(
        [
            Snapshot(
                stream_id=stream,
                version=length,
                state=OlderAlertState(tenant="acme", dedup_key=key),
            )
        ],
        keep=2,
    )

    cold = Ingestor(store, cache=StateCache(), snapshotting=Snapshotting(every=EVERY))
    with capture_logs() as logs:
        state, version = cold.alert_state("acme", key)

    assert version == length and state.signals
    assert cold.stats.snapshots_refused == 1 and cold.stats.events_read == length
    refused = [line for line in logs if line["event"] == "ingest.snapshot_refused"]
    assert refused and refused[0]["reason"] == "schema"


def test_a_long_stream_without_snapshots_gets_one_at_its_next_commit(store: EventStore) -> None:
    """History recorded before snapshots existed is snapshotted the first time it is used."""
    envelopes = traffic(60)
    ingest_in_batches(Ingestor(store, snapshotting=Snapshotting(every=0)), envelopes[:-4])
    assert isinstance(store, SnapshotStore)
    assert not list(store.snapshot_versions())

    Ingestor(store, snapshotting=Snapshotting(every=EVERY)).ingest(envelopes[-4:])

    _, stream, length = longest_alert(store)
    snapshot = store.load_snapshot(stream, alert.AlertState)
    assert snapshot is not None and snapshot.version == length


class UnreachableSnapshots:
    """A snapshot store whose server is gone: every call fails."""

    def save_snapshots(self, snapshots: object, *, keep: int) -> None:
        raise StoreUnavailable("snapshot server gone")

    def load_snapshot(
        self, stream_id: uuid.UUID, state_type: type, *, at_most: object = None
    ) -> None:
        raise StoreUnavailable("snapshot server gone")

    def snapshot_versions(self) -> Iterator[tuple[uuid.UUID, int]]:
        raise StoreUnavailable("snapshot server gone")


def test_snapshots_failing_never_fail_an_ingest() -> None:
    """Snapshots are a cache: when they fail, the batch is still recorded, and it is logged."""
    store = open_event_store("memory://")
    envelopes = traffic(24)
    # Alerts already recorded: their loads look for snapshots (new ones need not).
    Ingestor(store, snapshotting=Snapshotting(every=0)).ingest(envelopes[:12])
    ingestor = Ingestor(store, snapshots=UnreachableSnapshots(), snapshotting=Snapshotting(every=2))
    with capture_logs() as logs:
        report = ingestor.ingest(envelopes[12:])

    assert report.envelopes == 12
    assert ingestor.stats.snapshot_write_failures == 1
    assert ingestor.stats.snapshots_refused == ingestor.stats.loads > 0
    events = {line["event"] for line in logs}
    assert {"ingest.snapshot_unavailable", "ingest.snapshot_write_failed"} <= events
