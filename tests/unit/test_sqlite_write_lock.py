"""A write transaction waits for another connection's write lock, up to the busy timeout."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from helios.adapters.sqlite_thread import write_transaction
from helios.adapters.sqlite_wal import connect_wal


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    return connect_wal(path, busy_timeout_s=busy_timeout_s, check_same_thread=False)


def test_a_writer_gets_the_lock_once_another_connection_releases_it(tmp_path: Path) -> None:
    """The waiting writer commits after the holder does, and its busy timeout is kept."""
    path = tmp_path / "file.db"
    holder, waiter = _connect(path, 5.0), _connect(path, 5.0)
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.05, lambda: holder.execute("COMMIT"))
    release.start()
    with write_transaction(waiter) as conn:
        conn.execute("INSERT INTO t VALUES (2)")
    release.join()
    assert [row[0] for row in waiter.execute("SELECT n FROM t ORDER BY rowid")] == [1, 2]
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_a_lock_held_past_the_busy_timeout_is_an_error_and_the_timeout_is_kept(
    tmp_path: Path,
) -> None:
    """Still locked after the busy timeout: SQLite's "database is locked", nothing written."""
    path = tmp_path / "file.db"
    holder, waiter = _connect(path, 5.0), _connect(path, 0.05)
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    with (
        pytest.raises(sqlite3.OperationalError, match="locked"),
        write_transaction(waiter) as conn,
    ):
        conn.execute("INSERT INTO t VALUES (2)")
    holder.execute("COMMIT")
    assert not waiter.in_transaction
    assert waiter.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 50
