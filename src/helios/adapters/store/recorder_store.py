"""The event store over an `eventsourcing` process recorder (memory, SQLite or PostgreSQL).

A batch becomes one ``insert_events(stored_events, tracking=…)`` call, i.e. one transaction
and, on PostgreSQL, one pipelined round trip; on SQLite, the same insert of rows built as the
table keeps them (``insert_rows``), without a ``StoredEvent`` per row. Idempotency markers
are ordinary stored events at version 1 of a stream derived from the input key: a
redelivered input collides on the unique (stream, version) key and the whole batch rolls
back, with no custom SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError, PersistenceError, ProcessRecorder
from eventsourcing.persistence import StoredEvent as Row
from eventsourcing.persistence import Tracking as RecorderTracking

from helios.adapters.store.codec import EventCodec
from helios.adapters.store.snapshots import MemorySnapshotRows, SnapshotRows, Snapshots
from helios.domain.identity import name_based_uuid
from helios.ports.event_store import (
    AppendBatch,
    ConcurrencyConflict,
    DuplicateInput,
    LogEntry,
    RecordedEvent,
    StoreUnavailable,
)
from helios.ports.snapshots import Snapshot

INPUT_NAMESPACE = UUID("5d0c3f4e-8a53-4c1f-9b0e-6f1f4b7f2a10")
_input_uuid = name_based_uuid(INPUT_NAMESPACE)
"""Namespace of the marker streams; changing it would forget every processed input."""
MARKER_PREFIX = "helios.marker."
INPUT_MARKER = "helios.marker.input.v1"
# The library keeps its own schema version as a tracking row under this name.
_RESERVED_FOLLOWER = "__migration__"

T = TypeVar("T")


PROBE_CHUNK = 500
"""Streams asked about per query (SQLite allows 32,766 parameters; keep statements small)."""

StreamProbe = Callable[[ProcessRecorder, Sequence[UUID]], set[UUID]]
"""One query telling which of the given streams hold events (SQL of the recorder's store)."""

LogRow = tuple[int, Any, int, str, bytes]
"""A row of the notification log: position, stream id (as stored), version, topic, state."""
InsertRow = tuple[Any, int, str, bytes | bytearray]
"""A row of the events table to insert: stream id (as the store keeps it), version, topic,
state (a ``bytearray`` for an ``insert_rows``, ``bytes`` for the library); in log order."""
RowInserter = Callable[[ProcessRecorder, list[InsertRow], RecorderTracking | None], Sequence[int]]
"""The library's ``insert_events(rows, tracking=…)`` on plain rows, in the SQL of the
recorder's store: one transaction, the same rows, positions and errors (``IntegrityError``),
without a ``StoredEvent`` and a stream id conversion per row."""
LogRows = Callable[[ProcessRecorder, int, int], Sequence[LogRow]]
AppendObserver = Callable[[Sequence[LogEntry], int], None]
"""Told of a batch right after its commit: its domain events as ``read_log`` shows them, and
the log position just before the batch's first row (nothing else lies in between)."""
"""The log's rows after a position, at most so many, in order: the library's
``select_notifications`` as plain rows, in the SQL of the recorder's store."""


def input_stream_id(key: str) -> UUID:
    """The marker stream recording that the input ``key`` was processed."""
    return _input_uuid("input/" + key)


class RecorderEventStore:
    """`EventStore` and `SnapshotStore` on a library process recorder and an `EventCodec`.

    ``snapshot_rows`` is where the store keeps snapshots (by default, in this process's
    memory, shared by every handle on the same recorder).
    """

    def __init__(
        self,
        *,
        recorder: ProcessRecorder,
        codec: EventCodec,
        snapshot_rows: SnapshotRows | None = None,
        unavailable: tuple[type[BaseException], ...] = (),
        on_close: Callable[[], None] | None = None,
        stream_probe: StreamProbe | None = None,
        log_rows: LogRows | None = None,
        insert_rows: RowInserter | None = None,
        stored_id: Callable[[UUID], Any] | None = None,
    ) -> None:
        """``insert_rows`` replaces the library's ``insert_events`` on the append path;
        ``stored_id`` is then how that store keeps a stream id (SQLite: its hex text)."""
        self._recorder = recorder
        self._insert_rows = insert_rows
        self._stored_id: Callable[[UUID], Any] = stored_id or _as_is
        self._stream_probe = stream_probe
        self._log_rows = log_rows
        self._codec = codec
        self._snapshots = Snapshots(snapshot_rows or MemorySnapshotRows.of(recorder), codec)
        # Driver errors that escape the library's own translation (e.g. at connect time).
        self._unavailable: tuple[type[BaseException], ...] = (
            PersistenceError,
            OSError,
            *unavailable,
        )
        self._on_close = on_close
        self._observers: list[AppendObserver] = []

    def observe_appends(self, observer: AppendObserver) -> Callable[[], None]:
        """Have ``observer`` told of every batch this handle commits, in the appending thread,
        before ``append`` returns (so it must not raise); returns what stops it."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    def append(self, batch: AppendBatch) -> int:
        rows = self._rows(batch)
        tracking = None
        if batch.tracking is not None:
            if batch.tracking.follower == _RESERVED_FOLLOWER:
                raise ValueError(f"follower name {_RESERVED_FOLLOWER!r} is reserved")
            tracking = RecorderTracking(batch.tracking.follower, batch.tracking.position)
        positions: Sequence[int] | None
        try:
            with self._translated():
                if self._insert_rows is not None:
                    positions = self._insert_rows(self._recorder, rows, tracking)
                else:
                    stored = [Row(sid, v, topic, bytes(state)) for sid, v, topic, state in rows]
                    positions = self._recorder.insert_events(stored, tracking=tracking)
        except IntegrityError:
            raise self._explain_conflict(batch) from None
        if positions and self._observers:
            self._appended(batch, rows, positions)
        if positions:
            return max(positions)
        return self.max_position()

    def _appended(
        self, batch: AppendBatch, rows: list[InsertRow], positions: Sequence[int]
    ) -> None:
        """Tell the observers: the rows' positions are the markers' then the events' (``_rows``),
        whose rows already hold each event's version and name."""
        skip = len(batch.input_keys)
        at = iter(zip(positions[skip:], rows[skip:], strict=True))
        entries = []
        for append in batch.streams:
            stream = append.stream_id
            for event in append.events:
                position, row = next(at)
                entries.append(
                    LogEntry(
                        position=position, stream_id=stream, version=row[1], name=row[2],
                        event=event,
                    )
                )  # fmt: skip
        for observer in list(self._observers):
            observer(entries, min(positions) - 1)

    def read_stream(self, stream_id: UUID, after_version: int = 0) -> Sequence[RecordedEvent]:
        with self._translated():
            rows = self._recorder.select_events(stream_id, gt=after_version)
        recorded = []
        for row in rows:
            name, event = self._codec.decode(row.topic, row.state)
            recorded.append(
                RecordedEvent(
                    stream_id=stream_id, version=row.originator_version, name=name, event=event
                )
            )
        return recorded

    def read_log(
        self, after: int, limit: int, *, encoded: Callable[[str], bool] | None = None
    ) -> Sequence[LogEntry]:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        entries: list[LogEntry] = []
        start = after
        # Markers are filtered here rather than by a topic list, so event types registered
        # after opening are still read; keep fetching so a page of markers is not mistaken
        # for the end of the log.
        streams: dict[Any, UUID] = {}  # an alert's events come together: one UUID for them
        while len(entries) < limit:
            want = limit - len(entries)
            with self._translated():
                page = self._select_log(start, want)
            for position, originator, version, topic, state in page:
                if topic.startswith(MARKER_PREFIX):
                    continue
                stream = streams.get(originator)
                if stream is None:
                    stream = streams[originator] = _uuid(originator)
                if encoded is not None and encoded(topic):
                    entries.append(
                        LogEntry(
                            position=position,
                            stream_id=stream,
                            version=version,
                            name=topic,
                            event=None,
                            encoded=bytes(state),
                        )
                    )
                    continue
                name, event = self._codec.decode(topic, state)
                entries.append(
                    LogEntry(
                        position=position, stream_id=stream, version=version, name=name, event=event
                    )
                )
            if len(page) < want:
                break
            start = page[-1][0]
        return entries

    def _select_log(self, after: int, limit: int) -> Sequence[LogRow]:
        if self._log_rows is not None:
            return self._log_rows(self._recorder, after, limit)
        return [
            (row.id, row.originator_id, row.originator_version, row.topic, row.state)
            for row in self._recorder.select_notifications(after, limit, inclusive_of_start=False)
        ]

    def decode_entry(self, entry: LogEntry) -> LogEntry:
        """``entry`` read encoded, decoded as ``read_log`` would have returned it.

        Raises:
            CodecError: the stored bytes cannot be decoded.
        """
        if entry.encoded is None:
            return entry
        name, event = self._codec.decode(entry.name, entry.encoded)
        # Built, not ``attrs.evolve``d: every entry of a burst comes through here once.
        return LogEntry(
            position=entry.position,
            stream_id=entry.stream_id,
            version=entry.version,
            name=name,
            event=event,
        )

    def max_position(self) -> int:
        with self._translated():
            return self._recorder.max_notification_id() or 0

    def tracked_position(self, follower: str) -> int:
        with self._translated():
            return self._recorder.max_tracking_id(follower) or 0

    def existing_streams(self, stream_ids: Collection[UUID]) -> set[UUID]:
        wanted = list(stream_ids)
        found: set[UUID] = set()
        with self._translated():
            if self._stream_probe is None:
                # A store in memory: a lookup per stream costs nothing worth batching.
                return {s for s in wanted if self._recorder.select_events(s, limit=1)}
            for start in range(0, len(wanted), PROBE_CHUNK):
                found |= self._stream_probe(self._recorder, wanted[start : start + PROBE_CHUNK])
        return found

    def has_input(self, key: str) -> bool:
        with self._translated():
            return bool(self._recorder.select_events(input_stream_id(key), limit=1))

    def save_snapshots(self, snapshots: Sequence[Snapshot], *, keep: int) -> None:
        with self._translated():
            self._snapshots.save(snapshots, keep)

    def load_snapshot(
        self, stream_id: UUID, state_type: type[Any], *, at_most: int | None = None
    ) -> Snapshot | None:
        with self._translated():
            return self._snapshots.load(stream_id, state_type, at_most)

    def snapshot_versions(self) -> Iterator[tuple[UUID, int]]:
        with self._translated():
            return self._snapshots.versions()

    def close(self) -> None:
        if self._on_close is not None:
            self._on_close()

    def _rows(self, batch: AppendBatch) -> list[InsertRow]:
        # Markers first, so the position returned is that of the last domain event. Each
        # stream's id is converted once, not once per event (a batch is ~6 rows an alert).
        stored_id = self._stored_id
        pack = self._codec.pack
        rows: list[InsertRow] = [
            (stored_id(input_stream_id(key)), 1, INPUT_MARKER, pack(key.encode()))
            for key in batch.input_keys
        ]
        next_version: dict[int, int] = {}  # by the id's integer, which hashes in C
        encode = self._codec.encode if self._insert_rows is None else self._codec.encode_blob
        append_row = rows.append
        for append in batch.streams:
            stream = append.stream_id
            version = next_version.get(stream.int, append.expected_version)
            if version != append.expected_version:
                raise ValueError(
                    f"stream {stream} appears twice in a batch with "
                    f"non-contiguous versions ({version} then {append.expected_version})"
                )
            key = stored_id(stream)
            for event in append.events:
                version += 1
                name, state = encode(event)
                append_row((key, version, name, state))
            next_version[stream.int] = version
        return rows

    def _explain_conflict(self, batch: AppendBatch) -> Exception:
        """Tell a redelivered input from a stale tracking position from a version conflict."""
        with self._translated():
            duplicates = [key for key in batch.input_keys if self.has_input(key)]
            if duplicates:
                return DuplicateInput(keys=duplicates)
            if batch.tracking is not None:
                follower = batch.tracking.follower
                if self.tracked_position(follower) >= batch.tracking.position:
                    return ConcurrencyConflict(follower=follower)
            stale = [
                append.stream_id
                for append in batch.streams
                if self._recorder.select_events(
                    append.stream_id, gt=append.expected_version, limit=1
                )
            ]
        return ConcurrencyConflict(stream_ids=stale or [a.stream_id for a in batch.streams])

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise
        except self._unavailable as error:
            raise StoreUnavailable(str(error) or type(error).__name__) from error


def _as_is(stream: UUID) -> UUID:
    return stream


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))
