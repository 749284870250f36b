"""Snapshot tables of the event stores: one row per (stream, version), kept beside the events.

A state is stored as msgpack (msgspec encodes any attrs class) behind the codec's flag byte,
so large states are zstd-compressed. The row's topic names the state's *schema*: its class and
a digest of its shape (field names, types and defaults, recursively, from msgspec's JSON
schema without the prose). A state class that gains, loses or retypes a field therefore gets a
new schema, and snapshots written for the old one are refused instead of decoded into a state
whose new fields hold defaults the stream would not have given them. A class may declare
``SNAPSHOT_VERSION`` (an int) to retire its snapshots when ``evolve`` changes what it derives
without changing the shape.

Tables: ``stored_snapshots`` next to the events (SQLite file, PostgreSQL schema), created by
the library's aggregate recorder DDL; in memory, a dictionary shared by every handle on the
same recorder.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Protocol
from uuid import UUID

import msgspec
from eventsourcing.persistence import AggregateRecorder, ProcessRecorder
from eventsourcing.persistence import StoredEvent as Row

from helios.adapters.store.codec import CodecError, EventCodec
from helios.ports.event_store import StoreUnavailable
from helios.ports.snapshots import Snapshot, SnapshotUnreadable, SnapshotUnsupported

SNAPSHOTS_PURPOSE = "snapshots"
"""The library names the table ``stored_`` + this."""


_SCHEMAS: dict[type[Any], str] = {}


def state_schema(cls: type[Any]) -> str:
    """The schema a snapshot of ``cls`` is stored under: its class and a digest of its shape."""
    found = _SCHEMAS.get(cls)
    if found is None:
        # A benign race: two threads compute the same string.
        found = _SCHEMAS[cls] = _schema(cls)
    return found


def _schema(cls: type[Any]) -> str:
    shape = _without_prose(msgspec.json.schema(cls))
    digest = hashlib.sha256(msgspec.json.encode(shape, order="sorted")).hexdigest()[:16]
    version = getattr(cls, "SNAPSHOT_VERSION", 0)
    return f"{cls.__module__}.{cls.__qualname__}/{version}/{digest}"


def _without_prose(node: Any) -> Any:
    # Docstrings and titles are not the shape: editing one must not retire every snapshot.
    if isinstance(node, dict):
        return {k: _without_prose(v) for k, v in node.items() if k not in ("description", "title")}
    if isinstance(node, list):
        return [_without_prose(v) for v in node]
    return node


class SnapshotRows(Protocol):
    """Where one store keeps its snapshot rows (topic = schema, state = packed msgpack)."""

    def write(self, rows: Sequence[Row], keep: int) -> None: ...

    def latest(self, stream_id: UUID, at_most: int | None) -> Row | None: ...

    def versions(self) -> Iterator[tuple[UUID, int]]: ...


class Snapshots:
    """The snapshot half of an event store: encodes states and checks their schema."""

    def __init__(self, rows: SnapshotRows, codec: EventCodec) -> None:
        self._rows = rows
        self._codec = codec
        self._encoder = msgspec.msgpack.Encoder()
        self._decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}

    def save(self, snapshots: Sequence[Snapshot], keep: int) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        try:
            rows = [
                Row(
                    s.stream_id,
                    s.version,
                    state_schema(type(s.state)),
                    self._codec.pack(self._encoder.encode(s.state)),
                )
                for s in snapshots
            ]
        except (TypeError, ValueError, msgspec.EncodeError) as error:
            # msgspec refuses types it cannot represent with TypeError (schema and encoding).
            raise SnapshotUnsupported(f"cannot snapshot this state: {error}") from error
        if rows:
            self._rows.write(rows, keep)

    def load(self, stream_id: UUID, state_type: type[Any], at_most: int | None) -> Snapshot | None:
        row = self._rows.latest(stream_id, at_most)
        if row is None:
            return None
        version = row.originator_version
        try:
            expected = state_schema(state_type)
        except (TypeError, ValueError) as error:
            raise SnapshotUnreadable(
                stream_id=stream_id, version=version, reason="schema", detail=str(error)
            ) from error
        if row.topic != expected:
            raise SnapshotUnreadable(
                stream_id=stream_id,
                version=version,
                reason="schema",
                detail=f"stored as {row.topic!r}, expected {expected!r}",
            )
        decoder = self._decoders.get(state_type)
        if decoder is None:
            decoder = self._decoders[state_type] = msgspec.msgpack.Decoder(type=state_type)
        try:
            state = decoder.decode(self._codec.unpack(row.state))
        except (msgspec.DecodeError, CodecError, ValueError, TypeError) as error:
            # zstd and msgspec report corrupt input as ValueError subclasses or their own.
            raise SnapshotUnreadable(
                stream_id=stream_id, version=version, reason="decode", detail=str(error)
            ) from error
        return Snapshot(stream_id=stream_id, version=version, state=state)

    def versions(self) -> Iterator[tuple[UUID, int]]:
        return self._rows.versions()


class MemorySnapshotRows:
    """Snapshot rows in this process, shared by every store handle on one memory recorder."""

    _tables: weakref.WeakKeyDictionary[ProcessRecorder, MemorySnapshotRows] = (
        weakref.WeakKeyDictionary()
    )
    _tables_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[UUID, dict[int, Row]] = {}

    @classmethod
    def of(cls, recorder: ProcessRecorder) -> MemorySnapshotRows:
        with cls._tables_lock:
            table = cls._tables.get(recorder)
            if table is None:
                table = cls._tables[recorder] = cls()
            return table

    def write(self, rows: Sequence[Row], keep: int) -> None:
        with self._lock:
            for row in rows:
                stream = self._streams.setdefault(_uuid(row.originator_id), {})
                stream.setdefault(row.originator_version, row)
            for stream_id in {_uuid(row.originator_id) for row in rows}:
                stream = self._streams[stream_id]
                for version in sorted(stream)[:-keep]:
                    del stream[version]

    def latest(self, stream_id: UUID, at_most: int | None) -> Row | None:
        with self._lock:
            stream = self._streams.get(stream_id, {})
            eligible = [v for v in stream if at_most is None or v <= at_most]
            return stream[max(eligible)] if eligible else None

    def versions(self) -> Iterator[tuple[UUID, int]]:
        with self._lock:
            listed = [(s, v) for s in sorted(self._streams) for v in sorted(self._streams[s])]
        return iter(listed)


class SqlSnapshotRows:
    """Snapshot rows in the library's ``stored_snapshots`` table (SQLite or PostgreSQL).

    Reads use the library's recorder; the write (insert, ignoring a row already there, then
    delete all but the ``keep`` latest of each stream) is one transaction of our own SQL,
    since the library's recorders neither ignore duplicates nor delete.
    """

    def __init__(
        self,
        recorder: AggregateRecorder,
        *,
        table: str,
        insert_ignoring: str,
        param: str,
        stream_param: Any = None,
    ) -> None:
        self._recorder = recorder
        p = param
        self._insert = insert_ignoring.format(table=table, p=p)
        self._prune = (
            f"DELETE FROM {table} WHERE originator_id = {p} AND originator_version < ("
            f"SELECT originator_version FROM {table} WHERE originator_id = {p} "
            f"ORDER BY originator_version DESC LIMIT 1 OFFSET {p})"
        )
        self._list = f"SELECT originator_id, originator_version FROM {table} ORDER BY 1, 2"
        self._stream_param = stream_param or (lambda stream: stream)

    def write(self, rows: Sequence[Row], keep: int) -> None:
        sid = self._stream_param
        streams = {_uuid(row.originator_id) for row in rows}
        with self._recorder.datastore.transaction(commit=True) as cursor:  # type: ignore[attr-defined]
            cursor.executemany(
                self._insert,
                [(sid(r.originator_id), r.originator_version, r.topic, r.state) for r in rows],
            )
            cursor.executemany(self._prune, [(sid(s), sid(s), keep - 1) for s in sorted(streams)])

    def latest(self, stream_id: UUID, at_most: int | None) -> Row | None:
        rows = self._recorder.select_events(stream_id, lte=at_most, desc=True, limit=1)
        return rows[0] if rows else None

    def versions(self) -> Iterator[tuple[UUID, int]]:
        with self._recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute(self._list)
            listed = [
                (_uuid(row["originator_id"]), int(row["originator_version"]))
                for row in cursor.fetchall()
            ]
        return iter(listed)


class AbsentSnapshotRows:
    """A store without a snapshot table (migrated before snapshots existed): there is nothing
    to read, so loads read whole streams; a write reports what to do."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def write(self, rows: Sequence[Row], keep: int) -> None:
        raise StoreUnavailable(self._reason)

    def latest(self, stream_id: UUID, at_most: int | None) -> Row | None:
        return None

    def versions(self) -> Iterator[tuple[UUID, int]]:
        return iter(())


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
