"""Another process's hold on a SQLite file, for tests of adapters that share one.

A second ``helios up`` process opening the same fresh file is creating its tables, so it holds
the file's write lock (in rollback-journal mode: the file is not WAL yet) for a moment. Tests
reproduce that moment on demand instead of hoping two threads collide.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def write_lock_held(path: Path, *, for_s: float) -> Iterator[None]:
    """Hold the write lock of the (fresh) file at ``path`` from entry until ``for_s`` later.

    The body runs while the lock is held; the lock is released ``for_s`` seconds after entry
    by another thread, as another process would, and the exit waits for that release.
    """
    locked = threading.Event()
    failure: list[BaseException] = []

    def hold() -> None:
        try:
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("CREATE TABLE IF NOT EXISTS another_process (n INTEGER)")
                locked.set()
                threading.Event().wait(for_s)
                conn.execute("COMMIT")
            finally:
                conn.close()
        except BaseException as error:  # reported by the test thread, at the exit
            failure.append(error)
        finally:
            locked.set()

    holder = threading.Thread(target=hold, name="another-process")
    holder.start()
    locked.wait()
    try:
        yield
    finally:
        holder.join()
    if failure:
        raise failure[0]
