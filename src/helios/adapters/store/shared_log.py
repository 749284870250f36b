"""The recent log shared by the followers of one process: each entry read from the store once,
and decoded at most once.

Every follower of a worker reads the same entries of the log after its own position; reading
and decoding them is most of a worker's CPU. ``SharedLog`` keeps a window of the most recent
entries it read, all of them read encoded: an entry is decoded the first time a follower that
needs it asks for it, and kept decoded for the others, so a follower that leaves a kind encoded
never pays for its decoding.

The window holds every domain entry with a position in ``(start, end]``, ``end`` being the
position of the last entry read (positions become visible in order: followers already rely on
this to move past a page). A page asked for after a position in the window is served from it;
when the window has fewer entries than asked for, the entries appended since are read after
``end`` first, so a follower gets exactly what the store itself would return now, never a page
cut short by an earlier read. The window is kept by entries, not by pages, so followers whose
pages end at different positions (one reading at the end of the log, another a moment later)
still share it. A follower further behind than the window reads its page from the store.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from helios.ports.event_store import LogEntry, LogReader

DEFAULT_ENTRIES = 30_000
"""Entries kept by default: in a burst of 10,000 alerts the slowest follower ran 13,000
entries (on average) behind the fastest."""


class DecodingLog(LogReader, Protocol):
    """A log that can decode, later, an entry it gave encoded (``RecorderEventStore``)."""

    def decode_entry(self, entry: LogEntry) -> LogEntry:
        """``entry`` read encoded, decoded as ``read_log`` would have returned it.

        Raises:
            CodecError: the stored bytes cannot be decoded.
        """
        ...


def _all(_name: str) -> bool:
    return True


def _position(entry: LogEntry) -> int:
    return entry.position


class SharedLog:
    """A ``LogReader`` over ``store`` keeping at most ``entries`` recent entries (the oldest
    dropped first); safe to use from several threads."""

    def __init__(self, store: DecodingLog, *, entries: int = DEFAULT_ENTRIES) -> None:
        if entries < 1:
            raise ValueError("entries must be >= 1")
        self._store = store
        self._capacity = entries
        self._entries: list[LogEntry] = []
        """Read encoded, in order of position: every domain entry in (start, end]."""
        self._decoded: dict[int, LogEntry] = {}
        self._start: int | None = None
        self._end = 0
        self._lock = threading.Lock()

    def read_log(
        self, after: int, limit: int, *, encoded: Callable[[str], bool] | None = None
    ) -> Sequence[LogEntry]:
        """As ``EventStore.read_log``, served from the recent entries kept when possible.

        Raises:
            StoreUnavailable: the store could not be reached.
            CodecError: a stored event cannot be decoded.
        """
        if limit < 1:
            raise ValueError("limit must be >= 1")
        # One reader at a time: the others wait for its read and its decoding instead of
        # repeating them (decoding holds the GIL anyway: nothing else runs meanwhile).
        with self._lock:
            if self._start is None or after > self._end:
                # First read, or a follower ahead of every other: the window starts there.
                self._entries, self._decoded = [], {}
                self._start = self._end = after
            if after < self._start:
                # Behind the window: read as the store would, nothing kept.
                return self._store.read_log(after, limit, encoded=encoded)
            first = bisect.bisect_right(self._entries, after, key=_position)
            missing = limit - (len(self._entries) - first)
            if missing > 0:
                self._extend(missing)
            page = [self._entry(e, encoded) for e in self._entries[first : first + limit]]
            self._trim()
            return page

    @property
    def kept(self) -> int:
        """How many entries the window holds now."""
        return len(self._entries)

    def forget(self) -> None:
        """Drop every entry kept: the next read starts a new window at its position.

        Once every follower has read to the end of the log, nothing kept will be asked for
        again; what a burst left in the window is then only memory held.
        """
        with self._lock:
            self._entries, self._decoded = [], {}
            self._start = None
            self._end = 0

    def _extend(self, count: int) -> None:
        more = self._store.read_log(self._end, count, encoded=_all)
        if more:
            self._entries.extend(more)
            self._end = more[-1].position

    def _trim(self) -> None:
        excess = len(self._entries) - self._capacity
        if excess > 0:
            for entry in self._entries[:excess]:
                self._decoded.pop(entry.position, None)
            self._start = self._entries[excess - 1].position
            del self._entries[:excess]

    def _entry(self, entry: LogEntry, encoded: Callable[[str], bool] | None) -> LogEntry:
        if encoded is not None and encoded(entry.name):
            return entry
        decoded = self._decoded.get(entry.position)
        if decoded is None:
            decoded = self._decoded[entry.position] = self._store.decode_entry(entry)
        return decoded
