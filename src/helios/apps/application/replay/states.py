"""Aggregate states during replay, in bounded memory.

Replay needs the state of every alert and incident group it decides for, and history can
hold millions of them. The most recently used states stay in memory (an LRU). An evicted
state goes, encoded as msgpack with its stream version, to a spill table in a temporary
SQLite file, and is decoded from there when needed again: a few tens of microseconds, where
rebuilding it from the store would read and evolve its whole stream. A state known only by its
version (history before a verified window) is rebuilt from the store (``read_stream`` up to
that version). Memory is therefore bounded by ``capacity`` states, whatever the length of
history.
"""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import attrs
import msgspec

from helios.ports.event_store import EventStore

DEFAULT_CAPACITY = 4_096
"""States kept in memory: many times what one transaction touches; the rest are spilled."""


@attrs.frozen
class StateKind:
    """How to start, evolve and decode one stream's aggregate state (an attrs class)."""

    type: type[Any]
    initial: Callable[[], Any]
    evolve: Callable[[Any, Any], Any]


def _same(state: Any) -> Any:
    return state


@attrs.define
class _Entry:
    state: Any
    """None when only the version is known (rebuild from the store on use)."""
    version: int


class _Spill:
    """Evicted states with their stream versions, on disk: memory must not grow with history."""

    def __init__(self, compact: Callable[[Any], Any]) -> None:
        self._compact = compact
        self._dir = tempfile.TemporaryDirectory(prefix="helios-replay-")
        self._db = sqlite3.connect(Path(self._dir.name) / "states.db")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            # A rowid table: states are kilobytes, too large for a WITHOUT ROWID b-tree.
            "CREATE TABLE s (stream BLOB PRIMARY KEY, version INTEGER, state BLOB)"
        )
        self._encoder = msgspec.msgpack.Encoder()
        self._decoders: dict[type[Any], msgspec.msgpack.Decoder[Any]] = {}

    def put(self, items: Iterable[tuple[uuid.UUID, _Entry]]) -> None:
        encode = self._encoder.encode
        self._db.executemany(
            "INSERT OR REPLACE INTO s VALUES (?, ?, ?)",
            ((s.bytes, e.version, None if e.state is None else encode(e.state)) for s, e in items),
        )

    def get(self, stream: uuid.UUID, kind: StateKind) -> _Entry:
        row = self._db.execute(
            "SELECT version, state FROM s WHERE stream = ?", (stream.bytes,)
        ).fetchone()
        if row is None:
            return _Entry(state=None, version=0)
        version, state = row
        if state is None:
            return _Entry(state=None, version=int(version))
        decoder = self._decoders.get(kind.type)
        if decoder is None:
            decoder = self._decoders[kind.type] = msgspec.msgpack.Decoder(type=kind.type)
        return _Entry(state=decoder.decode(state), version=int(version))

    def version(self, stream: uuid.UUID) -> int:
        row = self._db.execute("SELECT version FROM s WHERE stream = ?", (stream.bytes,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


class StateCache:
    """Recently used aggregate states with their stream versions; the rest spilled to disk."""

    def __init__(
        self,
        store: EventStore,
        *,
        capacity: int = DEFAULT_CAPACITY,
        compact: Callable[[Any], Any] = _same,
        fallback: Callable[[uuid.UUID, StateKind], Any] | None = None,
    ) -> None:
        """``compact`` strips from a state what it can derive again, before it is spilled.

        ``fallback`` gives the state of a stream this cache has never held (another cache
        whose states this one diverges from); without it, such a state is rebuilt from the
        store.
        """
        self._store = store
        self._fallback = fallback
        self._capacity = max(16, capacity)
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self._spill = _Spill(compact)
        self.rebuilds = 0
        self.reloads = 0

    def load(self, stream: uuid.UUID, kind: StateKind) -> Any:
        """The stream's state after every event consumed so far.

        Raises:
            StoreUnavailable: the store cannot be reached to rebuild an evicted state.
        """
        entry = self._entries.get(stream)
        if entry is None:
            entry = self._entries[stream] = self._spill.get(stream, kind)
            self.reloads += entry.state is not None
        else:
            self._entries.move_to_end(stream)
        if entry.state is None:
            if self._fallback is not None and entry.version == 0:
                entry.state = self._fallback(stream, kind)
            else:
                entry.state = self._rebuild(stream, entry.version, kind)
        return entry.state

    def put(self, stream: uuid.UUID, state: Any) -> None:
        """Replace a loaded stream's state (its version moves only with ``advance``)."""
        entry = self._entries.get(stream)
        if entry is None:
            self._entries[stream] = _Entry(state=state, version=self._spill.version(stream))
        else:
            entry.state = state
            self._entries.move_to_end(stream)

    def advance(self, stream: uuid.UUID, version: int, *, keep_state: bool) -> None:
        """A recorded event of ``stream`` at ``version`` was read from the log.

        ``keep_state`` is False when the state in memory did not take the event in (history
        before the verified window): it is dropped, and rebuilt from the store when used.
        """
        entry = self._entries.get(stream)
        if entry is None:
            self._entries[stream] = _Entry(state=None, version=version)
        else:
            entry.version = version
            if not keep_state:
                entry.state = None
            self._entries.move_to_end(stream)

    def evict(self, pinned: Callable[[uuid.UUID], bool]) -> None:
        """Bring memory back under capacity, sparing ``pinned`` streams (awaiting events)."""
        if len(self._entries) <= self._capacity:
            return
        # Evict a tenth at once: one spill write per many states, not one per state.
        target = self._capacity - self._capacity // 10
        spilled: list[tuple[uuid.UUID, _Entry]] = []
        kept: list[tuple[uuid.UUID, _Entry]] = []
        while len(self._entries) > target and self._entries:
            stream, entry = self._entries.popitem(last=False)
            if pinned(stream):
                kept.append((stream, entry))
                continue
            spilled.append((stream, entry))
        for stream, entry in kept:
            self._entries[stream] = entry
        self._spill.put(spilled)

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        self._spill.close()

    def _rebuild(self, stream: uuid.UUID, version: int, kind: StateKind) -> Any:
        state, evolve = kind.initial(), kind.evolve
        if version == 0:
            return state
        self.rebuilds += 1
        for recorded in self._store.read_stream(stream):
            if recorded.version > version:
                # Later events are still ahead of the replay in the log.
                break
            state = evolve(state, recorded.event)
        return state
