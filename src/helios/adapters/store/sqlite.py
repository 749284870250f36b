"""SQLite event store: the library's SQLite recorder on one file in WAL mode.

This is the embedded default, so opening creates the tables when they are missing
(``create=True``); the library's DDL is ``CREATE TABLE IF NOT EXISTS``, so this is safe on
every start. Writers serialise on the file lock, waited for up to ``lock_timeout`` seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from uuid import UUID

from eventsourcing.persistence import InfrastructureFactory, ProcessRecorder

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.recorder_store import RecorderEventStore
from helios.adapters.store.snapshots import SNAPSHOTS_PURPOSE, SqlSnapshotRows

DEFAULT_LOCK_TIMEOUT = 5


def open_sqlite_store(
    path: str | Path,
    *,
    codec: EventCodec,
    create: bool = True,
    lock_timeout: int = DEFAULT_LOCK_TIMEOUT,
) -> RecorderEventStore:
    """An event store in the SQLite file at ``path`` (tables created if ``create``)."""
    factory = InfrastructureFactory.construct(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": str(lock_timeout),
            "CREATE_TABLE": "yes" if create else "no",
        }
    )
    snapshots = factory.aggregate_recorder(SNAPSHOTS_PURPOSE)
    return RecorderEventStore(
        recorder=factory.process_recorder(),
        codec=codec,
        snapshot_rows=SqlSnapshotRows(
            snapshots,
            table="stored_" + SNAPSHOTS_PURPOSE,
            insert_ignoring="INSERT OR IGNORE INTO {table} VALUES ({p}, {p}, {p}, {p})",
            param="?",
            # The library stores SQLite stream ids as hex text.
            stream_param=lambda stream: stream.hex if isinstance(stream, UUID) else stream,
        ),
        unavailable=(sqlite3.Error,),
        on_close=factory.close,
        stream_probe=_existing_streams,
    )


def _existing_streams(recorder: ProcessRecorder, streams: Sequence[UUID]) -> set[UUID]:
    """Which of ``streams`` hold events: one query on the primary key's index (the library
    stores SQLite stream ids as hex text)."""
    marks = ", ".join("?" * len(streams))
    with recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            f"SELECT DISTINCT originator_id FROM stored_events WHERE originator_id IN ({marks})",
            [stream.hex for stream in streams],
        )
        return {UUID(row[0]) for row in cursor.fetchall()}


def migrate_sqlite(path: str | Path) -> None:
    """Create the store's tables in the SQLite file at ``path`` if they are missing."""
    open_sqlite_store(path, codec=EventCodec(types={}), create=True).close()
