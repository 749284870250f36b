"""WAL checkpoints of the event store's and the read models' SQLite files, off their writers.

SQLite checkpoints a WAL file by itself in the commit that takes it past 1,000 pages (4 MB):
that commit copies the WAL's pages into the main file and syncs both before it returns. The
worker's commits (a batch's events, then its read-model rows, about 3 kB of each per new
alert) met one every 1,300 alerts or so, a few milliseconds of copying and two fsyncs
each, in the thread that decides the next batch.

``WalCheckpointer`` does that work in a thread of its own instead, over a connection of its
own: every ``every_s`` it looks at each file's WAL (its size and time, a ``stat``), and when
a commit changed it, runs a PASSIVE checkpoint, which takes no lock a writer or reader waits
for (it copies the frames no reader still needs; what it leaves is copied at the next look).
Once the WAL has not changed for a look and is larger than ``idle_truncate_bytes``, it is
truncated (a TRUNCATE checkpoint that gives up at once when a writer holds the lock), so a
burst's WAL does not keep its disk space. ``backstop`` raises the writers' own automatic
checkpoint to ``BACKSTOP_PAGES``: should the checkpointer stop (its process killed), the
writers still bound the WAL, at that size.

Checkpoints only move committed pages from one file to the other: what a commit made durable
stays so whichever thread copies it, and the files keep one meaning throughout.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import structlog

from helios.adapters.sqlite_thread import truncate_wal
from helios.adapters.sqlite_wal import connect_wal

_log = structlog.get_logger(__name__)

BACKSTOP_PAGES = 16_384
"""The writers' automatic checkpoint (``wal_autocheckpoint``), only a backstop: 64 MB of 4 kB
pages, four times what the checkpointer lets a burst's WAL reach between two looks."""
EVERY_S = 0.25
"""How often the checkpointer looks at each WAL."""
IDLE_TRUNCATE_BYTES = 16 * 1024 * 1024
"""A WAL this large, unchanged for a look, is truncated (its space given back)."""
_TRUNCATE_WITHIN_S = 0.0
"""A truncation gives up at once when a writer holds the lock: the next idle look tries again."""
_BUSY_TIMEOUT_S = 5.0


def backstop(conn: sqlite3.Connection) -> None:
    """Leave a writer's connection to checkpoint only past ``BACKSTOP_PAGES``."""
    conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")


class WalCheckpointer:
    """Checkpoints the WALs of some SQLite files from a daemon thread (``start``/``stop``)."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        every_s: float = EVERY_S,
        idle_truncate_bytes: int = IDLE_TRUNCATE_BYTES,
    ) -> None:
        self._files = [_File(Path(path)) for path in paths]
        self._every_s = every_s
        self._idle_truncate_bytes = idle_truncate_bytes
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.checkpoints = 0
        """PASSIVE checkpoints run so far (all files)."""
        self.truncations = 0
        """WALs truncated while idle so far."""

    @property
    def paths(self) -> list[Path]:
        """The database files it checkpoints."""
        return [file.path for file in self._files]

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop looking, after one last checkpoint of what changed; closes the connections."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def look(self) -> None:
        """One look at every file: checkpoint what changed, truncate what stayed large."""
        for file in self._files:
            try:
                self._look_at(file)
            except sqlite3.Error as error:
                # Disk full, an I/O error: the writers' backstop still bounds the WAL, and the
                # next look tries again.
                _log.warning("sqlite.checkpoint_failed", path=str(file.path), error=str(error))
                file.close()

    def _run(self) -> None:
        try:
            while not self._stopping.wait(self._every_s):
                self.look()
            self.look()
        finally:
            for file in self._files:
                file.close()

    def _look_at(self, file: _File) -> None:
        seen = file.wal_signature()
        if seen is None:
            return  # no WAL (yet): nothing to copy
        if seen != file.checkpointed:
            busy, frames, copied = (
                file.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            )
            self.checkpoints += 1
            # Copied every frame: the WAL as it was is in the main file. Otherwise (a reader
            # still on older pages) the next look copies the rest.
            file.checkpointed = seen if not busy and frames == copied else None
            return
        large = seen[0] > self._idle_truncate_bytes
        if large and truncate_wal(file.connection(), within_s=_TRUNCATE_WITHIN_S):
            self.truncations += 1
            file.checkpointed = file.wal_signature()


class _File:
    """One database file, as the checkpointer follows it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._wal = Path(f"{path}-wal")
        self._conn: sqlite3.Connection | None = None
        self.checkpointed: tuple[int, int] | None = None
        """The WAL's (size, modification time) when a checkpoint last copied all of it."""

    def wal_signature(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._wal)
        except FileNotFoundError:
            return None
        return status.st_size, status.st_mtime_ns

    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect_wal(self.path, busy_timeout_s=_BUSY_TIMEOUT_S)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
