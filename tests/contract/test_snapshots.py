"""Contract of the snapshot port, run against every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import attrs
import psycopg
import pytest
from eventsourcing.persistence import StoredEvent as Row
from psycopg import sql
from store_fixtures import BACKENDS, Backend, Noted, fresh_postgres_database

from helios.adapters.store.recorder_store import RecorderEventStore
from helios.adapters.store.snapshots import state_schema
from helios.ports.event_store import AppendBatch, StoreUnavailable, StreamAppend
from helios.ports.snapshots import (
    Snapshot,
    SnapshotStore,
    SnapshotUnreadable,
    SnapshotUnsupported,
)


@attrs.frozen(kw_only=True)
class Tally:
    name: str
    count: int = 0
    seen: frozenset[str] = frozenset()
    items: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class GrownTally:
    name: str
    count: int = 0
    seen: frozenset[str] = frozenset()
    items: tuple[str, ...] = ()
    late: int = 0


# The same class as far as names go, with one more field: what a state that gains a field is.
GrownTally.__qualname__ = Tally.__qualname__
GrownTally.__name__ = Tally.__name__

STREAM = uuid.UUID(int=7)
OTHER = uuid.UUID(int=8)


@pytest.fixture(scope="module")
def postgres_database_url() -> Iterator[str]:
    yield from fresh_postgres_database()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    pg_url = (
        request.getfixturevalue("postgres_database_url") if request.param == "postgres" else None
    )
    made = Backend(request.param, tmp=tmp_path, pg_url=pg_url)
    yield made
    made.dispose()


@pytest.fixture
def store(backend: Backend) -> SnapshotStore:
    opened = backend.open()
    assert isinstance(opened, SnapshotStore)
    return opened


def tally(version: int, *, items: int = 3) -> Tally:
    names = tuple(f"item-{version}-{i}" for i in range(items))
    return Tally(name="t", count=version, seen=frozenset(names), items=names)


def test_a_saved_snapshot_loads_back_equal_at_its_version(store: SnapshotStore) -> None:
    """A state saved at a version loads back equal, with that version."""
    store.save_snapshots([Snapshot(stream_id=STREAM, version=100, state=tally(100))], keep=2)
    loaded = store.load_snapshot(STREAM, Tally)
    assert loaded == Snapshot(stream_id=STREAM, version=100, state=tally(100))


def test_a_large_state_survives_compression(store: SnapshotStore) -> None:
    """A state far larger than the compression threshold loads back equal."""
    big = tally(5, items=2_000)
    store.save_snapshots([Snapshot(stream_id=STREAM, version=5, state=big)], keep=1)
    loaded = store.load_snapshot(STREAM, Tally)
    assert loaded is not None and loaded.state == big


def test_a_stream_without_snapshots_loads_none(store: SnapshotStore) -> None:
    """No snapshot is not an error: the caller reads the whole stream."""
    assert store.load_snapshot(STREAM, Tally) is None


def test_the_latest_snapshot_at_or_below_a_version_is_loaded(store: SnapshotStore) -> None:
    """``load_snapshot`` gives the latest, or the latest at or below ``at_most``."""
    for version in (100, 200, 300):
        store.save_snapshots(
            [Snapshot(stream_id=STREAM, version=version, state=tally(version))], keep=5
        )
    assert store.load_snapshot(STREAM, Tally).version == 300  # type: ignore[union-attr]
    assert store.load_snapshot(STREAM, Tally, at_most=299).version == 200  # type: ignore[union-attr]
    assert store.load_snapshot(STREAM, Tally, at_most=99) is None


def test_a_snapshot_saved_twice_at_one_version_keeps_the_first(store: SnapshotStore) -> None:
    """Two writers at the same version do not fail; the first row stays."""
    store.save_snapshots([Snapshot(stream_id=STREAM, version=100, state=tally(100))], keep=2)
    store.save_snapshots([Snapshot(stream_id=STREAM, version=100, state=tally(1))], keep=2)
    assert store.load_snapshot(STREAM, Tally).state == tally(100)  # type: ignore[union-attr]


def test_saving_prunes_all_but_the_latest_of_the_streams_written(store: SnapshotStore) -> None:
    """``keep`` latest snapshots stay per stream written; other streams are untouched."""
    store.save_snapshots(
        [Snapshot(stream_id=OTHER, version=v, state=tally(v)) for v in (1, 2, 3)], keep=5
    )
    for version in (100, 200, 300, 400):
        store.save_snapshots(
            [Snapshot(stream_id=STREAM, version=version, state=tally(version))], keep=2
        )
    assert list(store.snapshot_versions()) == sorted(
        [(OTHER, 1), (OTHER, 2), (OTHER, 3), (STREAM, 300), (STREAM, 400)]
    )


def test_a_snapshot_of_another_shape_is_refused_not_decoded(store: SnapshotStore) -> None:
    """A state class that gained a field does not decode an old snapshot with a default."""
    assert state_schema(Tally) != state_schema(GrownTally)
    store.save_snapshots([Snapshot(stream_id=STREAM, version=100, state=tally(100))], keep=2)
    with pytest.raises(SnapshotUnreadable) as refused:
        store.load_snapshot(STREAM, GrownTally)
    assert (refused.value.reason, refused.value.version) == ("schema", 100)


def test_a_snapshot_that_does_not_decode_is_refused(store: SnapshotStore) -> None:
    """Corrupt bytes under the right schema are reported, not raised as a decode error."""
    assert isinstance(store, RecorderEventStore)
    # Written below the port: no caller of the port can produce such a row.
    store._snapshots._rows.write([Row(STREAM, 100, state_schema(Tally), b"\x00\xc1\xc1")], keep=2)
    with pytest.raises(SnapshotUnreadable) as refused:
        store.load_snapshot(STREAM, Tally)
    assert refused.value.reason == "decode"


def test_snapshots_are_seen_by_another_handle_and_stay_out_of_the_log(
    backend: Backend, store: SnapshotStore
) -> None:
    """Snapshots live beside the streams: no log position, no stream version is used."""
    events = backend.open()
    events.append(
        AppendBatch(
            streams=(StreamAppend(stream_id=STREAM, expected_version=0, events=(Noted(text="a"),)),)
        )
    )
    store.save_snapshots([Snapshot(stream_id=STREAM, version=1, state=tally(1))], keep=2)
    other = backend.open()
    assert isinstance(other, SnapshotStore)
    assert other.load_snapshot(STREAM, Tally) == Snapshot(
        stream_id=STREAM, version=1, state=tally(1)
    )
    assert events.max_position() == 1
    assert [e.version for e in events.read_stream(STREAM)] == [1]
    assert [e.position for e in events.read_log(0, 10)] == [1]


def test_keep_below_one_is_a_caller_error(store: SnapshotStore) -> None:
    """Pruning every snapshot of a stream is not what ``keep`` is for."""
    with pytest.raises(ValueError, match="keep"):
        store.save_snapshots([Snapshot(stream_id=STREAM, version=1, state=tally(1))], keep=0)


def test_a_postgres_schema_migrated_before_snapshots_reads_none_and_asks_for_migrate(
    postgres_database_url: str,
) -> None:
    """Without the snapshot table, loads find nothing, verify lists nothing, writes say why."""
    backend = Backend("postgres", pg_url=postgres_database_url)
    try:
        assert backend._pg is not None
        with psycopg.connect(postgres_database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP TABLE {}.stored_snapshots").format(sql.Identifier(backend._pg.schema))
            )
        store = backend.open()
        assert isinstance(store, SnapshotStore)

        assert store.load_snapshot(STREAM, Tally) is None
        assert list(store.snapshot_versions()) == []
        with pytest.raises(StoreUnavailable, match="migrate"):
            store.save_snapshots([Snapshot(stream_id=STREAM, version=1, state=tally(1))], keep=2)
    finally:
        backend.dispose()


@attrs.frozen(kw_only=True)
class Unsupported:
    name: str
    guard: threading.Lock


def test_a_state_msgpack_cannot_hold_is_refused_on_save_and_on_load(store: SnapshotStore) -> None:
    """A state type that cannot be snapshotted fails as a snapshot error, never another one."""
    with pytest.raises(SnapshotUnsupported):
        store.save_snapshots(
            [
                Snapshot(
                    stream_id=STREAM, version=1, state=Unsupported(name="x", guard=threading.Lock())
                )
            ],
            keep=2,
        )
    store.save_snapshots([Snapshot(stream_id=STREAM, version=1, state=tally(1))], keep=2)
    with pytest.raises(SnapshotUnreadable) as refused:
        store.load_snapshot(STREAM, Unsupported)
    assert refused.value.reason == "schema"
