"""The SQLite store appends its own plain rows, not the library's ``StoredEvent``s: the file it
writes must be the one the library's own recorder writes for the same batches, row for row
(positions, stream ids as hex text, versions, topics, bytes) and tracking for tracking."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import InfrastructureFactory
from store_fixtures import TEST_TYPES, Noted

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.recorder_store import RecorderEventStore
from helios.adapters.store.sqlite import open_sqlite_store
from helios.apps.application.ingest import Ingestor
from helios.apps.embedded.traffic import TrafficGenerator
from helios.ports.event_store import (
    AppendBatch,
    ConcurrencyConflict,
    DuplicateInput,
    EventStore,
    StreamAppend,
    Tracking,
)


def _library_store(path: Path) -> RecorderEventStore:
    """The library's own SQLite recorder, row by row, with nothing of Helios's SQL."""
    factory = InfrastructureFactory.construct(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    )
    return RecorderEventStore(
        recorder=factory.process_recorder(), codec=EventCodec(), on_close=factory.close
    )


def _file(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        events = conn.execute("SELECT rowid, * FROM stored_events ORDER BY rowid").fetchall()
        tracking = conn.execute("SELECT * FROM tracking ORDER BY 1, 2").fetchall()
    return events, tracking


def _same_work(store: EventStore) -> None:
    envelopes = list(TrafficGenerator(tenant="acme", start=1_700_000_000_000, seed=5).envelopes(80))
    Ingestor(store).ingest(envelopes[:40])
    Ingestor(store).ingest(envelopes[30:])  # ten redelivered: refused, the rest appended
    store.append(AppendBatch(tracking=Tracking(follower="projector", position=7)))
    stream = uuid.UUID(int=42)
    store.append(
        AppendBatch(
            streams=(
                StreamAppend(stream_id=stream, expected_version=0, events=(Noted(text="a"),)),
            ),
            tracking=Tracking(follower="projector", position=9),
        )
    )
    with pytest.raises(ConcurrencyConflict):
        store.append(
            AppendBatch(
                streams=(
                    StreamAppend(stream_id=stream, expected_version=0, events=(Noted(text="b"),)),
                )
            )
        )


def test_the_file_holds_the_rows_the_library_recorder_writes(tmp_path: Path) -> None:
    ours = open_sqlite_store(tmp_path / "ours.db", codec=EventCodec(types=None))
    library = _library_store(tmp_path / "library.db")
    try:
        _same_work(ours)
        _same_work(library)
    finally:
        ours.close()
        library.close()
    events, tracking = _file(tmp_path / "ours.db")
    assert len(events) > 400
    assert ("projector", 9) in tracking
    assert (events, tracking) == _file(tmp_path / "library.db")


def test_a_redelivered_input_rolls_back_the_plain_rows_whole(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "helios.db", codec=EventCodec(types=TEST_TYPES))
    try:
        first = AppendBatch(
            streams=(
                StreamAppend(stream_id=uuid.uuid4(), expected_version=0, events=(Noted(text="x"),)),
            ),
            input_keys=("ingest/acme/1",),
        )
        position = store.append(first)
        again = AppendBatch(
            streams=(
                StreamAppend(stream_id=uuid.uuid4(), expected_version=0, events=(Noted(text="y"),)),
            ),
            input_keys=("ingest/acme/2", "ingest/acme/1"),
        )
        with pytest.raises(DuplicateInput) as caught:
            store.append(again)
        assert caught.value.keys == ("ingest/acme/1",)
        assert store.max_position() == position
        assert not store.has_input("ingest/acme/2")
    finally:
        store.close()
