"""Aggregate states during replay, in bounded memory.

Replay needs the state of every alert and incident group it decides for, and history can
hold millions of them. The most recently used states stay in memory (an LRU); an evicted
state is forgotten except for its stream version, which goes to a spill table in a temporary
SQLite file, and is rebuilt from the store (``read_stream`` up to that version) when needed
again. Memory is therefore bounded by ``capacity`` states, whatever the length of history.
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

from helios.ports.event_store import EventStore

DEFAULT_CAPACITY = 20_000


@attrs.define
class _Entry:
    state: Any
    """None when only the version is known (rebuild from the store on use)."""
    version: int


class _VersionSpill:
    """Stream versions of evicted states, on disk: memory must not grow with history."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="helios-replay-")
        self._db = sqlite3.connect(Path(self._dir.name) / "versions.db")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE v (stream BLOB PRIMARY KEY, version INTEGER) WITHOUT ROWID")

    def put(self, items: Iterable[tuple[uuid.UUID, int]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO v VALUES (?, ?)", ((s.bytes, v) for s, v in items)
        )

    def get(self, stream: uuid.UUID) -> int:
        row = self._db.execute("SELECT version FROM v WHERE stream = ?", (stream.bytes,)).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


class StateCache:
    """Recently used aggregate states with their stream versions; the rest rebuilt on demand."""

    def __init__(self, store: EventStore, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self._store = store
        self._capacity = max(16, capacity)
        self._entries: OrderedDict[uuid.UUID, _Entry] = OrderedDict()
        self._spill = _VersionSpill()
        self.rebuilds = 0

    def load(
        self,
        stream: uuid.UUID,
        initial: Callable[[], Any],
        evolve: Callable[[Any, Any], Any],
    ) -> Any:
        """The stream's state after every event consumed so far.

        Raises:
            StoreUnavailable: the store cannot be reached to rebuild an evicted state.
        """
        entry = self._entries.get(stream)
        if entry is None:
            entry = self._entries[stream] = _Entry(state=None, version=self._spill.get(stream))
        else:
            self._entries.move_to_end(stream)
        if entry.state is None:
            entry.state = self._rebuild(stream, entry.version, initial(), evolve)
        return entry.state

    def put(self, stream: uuid.UUID, state: Any) -> None:
        """Replace a loaded stream's state (its version moves only with ``advance``)."""
        entry = self._entries.get(stream)
        if entry is None:
            self._entries[stream] = _Entry(state=state, version=self._spill.get(stream))
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
        spilled: list[tuple[uuid.UUID, int]] = []
        kept: list[tuple[uuid.UUID, _Entry]] = []
        while len(self._entries) > target and self._entries:
            stream, entry = self._entries.popitem(last=False)
            if pinned(stream):
                kept.append((stream, entry))
                continue
            spilled.append((stream, entry.version))
        for stream, entry in kept:
            self._entries[stream] = entry
        self._spill.put(spilled)

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        self._spill.close()

    def _rebuild(
        self, stream: uuid.UUID, version: int, state: Any, evolve: Callable[[Any, Any], Any]
    ) -> Any:
        if version == 0:
            return state
        self.rebuilds += 1
        for recorded in self._store.read_stream(stream):
            if recorded.version > version:
                # Later events are still ahead of the replay in the log.
                break
            state = evolve(state, recorded.event)
        return state
