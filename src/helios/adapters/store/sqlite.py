"""SQLite event store: the library's SQLite recorder on one file in WAL mode.

This is the embedded default, so opening creates the tables when they are missing
(``create=True``); the library's DDL is ``CREATE TABLE IF NOT EXISTS``, so this is safe on
every start. Writers serialise on the file lock, waited for up to ``lock_timeout`` seconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    InfrastructureFactory,
    PersistenceError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

from helios.adapters.sqlite_checkpoints import backstop
from helios.adapters.store.codec import EventCodec
from helios.adapters.store.recorder_store import InsertRow, RecorderEventStore
from helios.adapters.store.snapshots import SNAPSHOTS_PURPOSE, SqlSnapshotRows

DEFAULT_LOCK_TIMEOUT = 5


class BatchInsertRecorder(SQLiteProcessRecorder):
    """The library's recorder, inserting a batch with one ``executemany``.

    The library inserts row by row to read each row's ``lastrowid`` (its log position). Once
    the first row is in, this transaction holds the write lock: nobody else appends, and
    SQLite gives each new row the largest rowid so far plus one, so the batch's positions are
    the last ones of the table (checked: the first row must be at the first of them).
    """

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return super()._insert_events(c, stored_events, **kwargs)
        rows: list[InsertRow] = [
            (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
             s.originator_version, s.topic, s.state)
            for s in stored_events
        ]  # fmt: skip
        return self.insert_rows_in(c, rows, kwargs.get("tracking"))

    def insert_rows(self, rows: list[InsertRow], tracking: Tracking | None) -> Sequence[int]:
        """``insert_events`` on rows already in the table's form (the stream id as hex text):
        one transaction, the same rows, positions and ``IntegrityError``.

        Raises:
            IntegrityError: a (stream, version) or the tracking position is already taken.
            PersistenceError: the file cannot be written, or the positions were not consecutive.
        """
        if not rows:  # a tracking position alone: the library's way
            return list(self.insert_events([], tracking=tracking) or ())
        with self.datastore.transaction(commit=True) as c:
            return self.insert_rows_in(c, rows, tracking)

    def insert_rows_in(
        self, c: SQLiteCursor, rows: list[InsertRow], tracking: Tracking | None
    ) -> list[int]:
        """Insert non-empty ``rows`` (and ``tracking``) in the transaction of ``c``; returns
        their positions."""
        # An insert first (not a read): it takes the write lock, waiting for it if need be.
        c.executemany(self.insert_events_statement, rows)
        c.execute(self.select_max_notification_id_statement)
        last = int(c.fetchone()[0])
        first = last - len(rows) + 1
        c.execute(
            f"SELECT originator_id, originator_version FROM {self.events_table_name} "
            "WHERE rowid = ?",
            (first,),
        )
        if tuple(c.fetchone() or ()) != rows[0][:2]:
            raise PersistenceError(f"log positions of a batch not consecutive up to {last}")
        if tracking is not None:
            self._insert_tracking(c, tracking)
        return list(range(first, last + 1))


def open_sqlite_store(
    path: str | Path,
    *,
    codec: EventCodec,
    create: bool = True,
    lock_timeout: int = DEFAULT_LOCK_TIMEOUT,
) -> RecorderEventStore:
    """An event store in the SQLite file at ``path`` (tables created if ``create``; with
    ``create``, a missing parent directory too, as for every other file of a data directory)."""
    if create and str(path) not in ("", ":memory:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    factory = InfrastructureFactory.construct(
        {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": str(lock_timeout),
            "CREATE_TABLE": "yes" if create else "no",
            # A class topic in configuration only; stored events never carry class paths.
            "PROCESS_RECORDER_TOPIC": f"{__name__}:{BatchInsertRecorder.__name__}",
        }
    )
    _with_backstop(factory.datastore.pool)  # type: ignore[attr-defined]
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
        log_rows=_log_rows,
        insert_rows=_insert_rows,
        stored_id=_hex,
    )


def _with_backstop(pool: Any) -> None:
    """Have every connection the library's pool opens leave checkpoints to the worker's
    ``WalCheckpointer`` (``sqlite_checkpoints.backstop``)."""
    create = pool._create_connection

    def created() -> Any:
        connection = create()
        backstop(connection._sqlite_conn)
        return connection

    pool._create_connection = created


def _insert_rows(
    recorder: ProcessRecorder, rows: list[InsertRow], tracking: Tracking | None
) -> Sequence[int]:
    """The batch's rows inserted as they are (see ``BatchInsertRecorder.insert_rows``)."""
    assert isinstance(recorder, BatchInsertRecorder)
    return recorder.insert_rows(rows, tracking)


def _hex(stream: UUID) -> str:
    """A stream id as the library's SQLite tables keep it."""
    return stream.hex


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


def _log_rows(recorder: ProcessRecorder, after: int, limit: int) -> list[Any]:
    """The library's ``select_notifications(after, limit, inclusive_of_start=False)`` as
    plain rows: the same statement, without a ``Notification`` and a ``UUID`` per row (most of
    the cost of reading a page of the log; the caller makes one ``UUID`` per stream)."""
    with recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
        cursor.execute(
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, limit),
        )
        return list(cursor.fetchall())


def migrate_sqlite(path: str | Path) -> None:
    """Create the store's tables in the SQLite file at ``path`` if they are missing."""
    open_sqlite_store(path, codec=EventCodec(types={}), create=True).close()
