"""One cap on what SQLite keeps in memory in a process, every connection together.

Each SQLite connection keeps a page cache of its own (2 MB by default), and a worker of
``helios up`` holds about ten (store, queue, read models for each follower, analytics'
reads): 15 MiB of page caches were measured in the worker child at 100,000 open alerts.
SQLite's soft heap limit (``PRAGMA soft_heap_limit``) is process-wide: once the memory SQLite
has allocated passes it, each cache recycles its least recently used pages before it takes
more, so the caches share the limit. A page that is not cached is read again from the file,
which the operating system's own cache usually holds.
"""

from __future__ import annotations

import contextlib
import sqlite3


def limit_sqlite_memory(limit_bytes: int) -> int:
    """Set the process's SQLite soft heap limit to ``limit_bytes`` (0: no limit) for every
    connection, open or opened later; returns the limit now in force.

    Raises:
        ValueError: ``limit_bytes`` is negative.
    """
    if limit_bytes < 0:
        raise ValueError("limit_bytes must be >= 0")
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(f"PRAGMA soft_heap_limit = {int(limit_bytes)}")
        return int(conn.execute("PRAGMA soft_heap_limit").fetchone()[0])
