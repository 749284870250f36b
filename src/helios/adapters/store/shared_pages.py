"""Pages of the log shared by the followers of one process: each page read once, each entry
decoded at most once.

Every follower of a worker reads the same pages of the log after its own position; reading and
decoding them is most of a worker's CPU. ``SharedLogPages`` keeps the last few pages read,
keyed by ``(after, limit)``, with every entry read encoded: an entry is decoded the first time a
follower that needs it asks for it, and kept decoded for the others, so a follower that leaves
a kind encoded never pays for its decoding.

A full page (``limit`` entries) never changes: a later read of the same key returns the same
entries, since positions become visible in order (followers already rely on this to move past
a page). A short page was the end of the log when it was read; it is never served as it is:
the entries appended since are read after its last position, and the page is completed with
them, so a follower gets what the store itself would return now.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from helios.ports.event_store import LogEntry, LogReader

DEFAULT_PAGES = 8
"""Pages kept by default: followers drift a few pages apart while catching up."""


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


class _Page:
    """Entries of one page as read (encoded), and those decoded so far by position."""

    def __init__(self, entries: list[LogEntry]) -> None:
        # Replaced, never changed in place: a list handed to a follower stays as it was.
        self.entries = entries
        self.decoded: dict[int, LogEntry] = {}
        self.lock = threading.Lock()


class SharedLogPages:
    """A ``LogReader`` over ``store`` keeping at most ``pages`` pages (the least recently used
    is dropped first); safe to use from several threads."""

    def __init__(self, store: DecodingLog, *, pages: int = DEFAULT_PAGES) -> None:
        if pages < 1:
            raise ValueError("pages must be >= 1")
        self._store = store
        self._capacity = pages
        self._pages: OrderedDict[tuple[int, int], _Page] = OrderedDict()
        self._lock = threading.Lock()

    def read_log(
        self, after: int, limit: int, *, encoded: Callable[[str], bool] | None = None
    ) -> Sequence[LogEntry]:
        """As ``EventStore.read_log``, served from the pages kept when possible.

        Raises:
            StoreUnavailable: the store could not be reached.
            CodecError: a stored event cannot be decoded.
        """
        if limit < 1:
            raise ValueError("limit must be >= 1")
        page = self._page(after, limit)
        # One reader at a time per page: the others wait for its read and its decoding
        # instead of repeating them (decoding holds the GIL anyway: nothing runs meanwhile).
        with page.lock:
            if len(page.entries) < limit:
                start = page.entries[-1].position if page.entries else after
                more = self._store.read_log(start, limit - len(page.entries), encoded=_all)
                page.entries = page.entries + list(more)
            return [self._entry(page, entry, encoded) for entry in page.entries]

    def _page(self, after: int, limit: int) -> _Page:
        key = (after, limit)
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                page = self._pages[key] = _Page([])
                while len(self._pages) > self._capacity:
                    self._pages.popitem(last=False)
            else:
                self._pages.move_to_end(key)
            return page

    def _entry(
        self, page: _Page, entry: LogEntry, encoded: Callable[[str], bool] | None
    ) -> LogEntry:
        if encoded is not None and encoded(entry.name):
            return entry
        decoded = page.decoded.get(entry.position)
        if decoded is None:
            decoded = page.decoded[entry.position] = self._store.decode_entry(entry)
        return decoded
