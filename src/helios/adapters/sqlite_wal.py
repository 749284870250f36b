"""Opening a SQLite file in WAL mode while other processes may be opening it too.

The embedded files (queue, idempotency keys, read models) are shared by every process of
``helios up`` and by every connection inside one, and whichever opens a fresh file first
switches it to WAL. That switch (``PRAGMA journal_mode=WAL``) takes the write lock from
inside a read, where SQLite never calls the busy handler (waiting there could deadlock two
upgrading readers): while another connection holds the lock, for instance one creating the
tables, it fails at once with ``SQLITE_BUSY`` whatever the busy timeout. ``connect_wal``
retries the switch until the busy timeout has passed, so opening waits like any write.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_FIRST_PAUSE_S = 0.001
_LONGEST_PAUSE_S = 0.05


def connect_wal(
    path: str | Path, *, busy_timeout_s: float, check_same_thread: bool = True
) -> sqlite3.Connection:
    """A connection in autocommit mode to the file at ``path``, which is in WAL mode.

    Raises:
        sqlite3.Error: the file cannot be opened, or stayed locked for ``busy_timeout_s``.
    """
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_s,
        isolation_level=None,
        check_same_thread=check_same_thread,
    )
    try:
        _switch_to_wal(conn, busy_timeout_s=busy_timeout_s)
    except BaseException:
        conn.close()
        raise
    return conn


def _switch_to_wal(conn: sqlite3.Connection, *, busy_timeout_s: float) -> None:
    deadline = time.monotonic() + busy_timeout_s
    pause = _FIRST_PAUSE_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            remaining = deadline - time.monotonic()
            if not _is_busy(error) or remaining <= 0:
                raise
        # The holder is usually a connection creating tables: milliseconds. Back off so a
        # long hold (a big transaction of another process) does not cost a spinning core.
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, _LONGEST_PAUSE_S)


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    # Extended codes (SQLITE_BUSY_RECOVERY, ...) keep the primary code in the low byte.
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
