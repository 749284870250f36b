"""The WAL checkpointer: commits leave checkpoints to it, it copies what they wrote, and a
large WAL left idle is truncated; the store's and read models' connections keep the backstop."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from helios.adapters.read_models import open_sql_read_models
from helios.adapters.sqlite_checkpoints import BACKSTOP_PAGES, WalCheckpointer, backstop
from helios.adapters.sqlite_wal import connect_wal
from helios.adapters.store.codec import EventCodec
from helios.adapters.store.sqlite import open_sqlite_store
from helios.apps.composition import open_checkpointer
from helios.apps.settings import Settings
from helios.ports.event_store import AppendBatch

PAGE = 4096


def _writer(path: Path) -> sqlite3.Connection:
    conn = connect_wal(path, busy_timeout_s=5)
    conn.execute("PRAGMA synchronous=NORMAL")
    backstop(conn)
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)")
    return conn


def _write(conn: sqlite3.Connection, pages: int) -> None:
    """About ``pages`` pages of rows, a transaction per hundred rows."""
    for _ in range(pages // 100):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO t (body) VALUES (?)", [(os.urandom(PAGE - 200),)] * 100)
        conn.execute("COMMIT")


def _wal_bytes(path: Path) -> int:
    return os.stat(f"{path}-wal").st_size


def test_commits_leave_the_wal_to_the_checkpointer_which_copies_it(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    conn = _writer(path)
    _write(conn, 2_000)  # twice SQLite's own threshold of 1,000 pages
    # No commit checkpointed: the main file holds none of the rows yet.
    assert os.path.getsize(path) < 100 * PAGE
    assert _wal_bytes(path) > 1_900 * PAGE
    checkpointer = WalCheckpointer([path], idle_truncate_bytes=1 << 40)
    checkpointer.look()
    assert checkpointer.checkpoints == 1
    assert os.path.getsize(path) > 1_900 * PAGE  # copied into the main file
    checkpointer.look()  # nothing changed since: no second checkpoint
    assert checkpointer.checkpoints == 1
    _write(conn, 100)
    checkpointer.look()
    assert checkpointer.checkpoints == 2
    # A new connection reads every row from either file.
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 2_100
    reader.close()
    conn.close()
    checkpointer.stop()


def test_a_large_wal_left_idle_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    conn = _writer(path)
    _write(conn, 1_000)
    checkpointer = WalCheckpointer([path], idle_truncate_bytes=100 * PAGE)
    checkpointer.look()  # copies
    assert _wal_bytes(path) > 100 * PAGE
    checkpointer.look()  # unchanged and large: truncated
    assert checkpointer.truncations == 1
    assert _wal_bytes(path) == 0
    _write(conn, 100)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1_100
    conn.close()


def test_the_thread_checkpoints_until_stopped(tmp_path: Path) -> None:
    path = tmp_path / "data.db"
    conn = _writer(path)
    checkpointer = WalCheckpointer([path, tmp_path / "not-yet.db"], every_s=0.01)
    checkpointer.start()
    _write(conn, 500)
    checkpointer.stop()  # one last look copies what the last commits wrote
    assert os.path.getsize(path) > 450 * PAGE
    assert not (tmp_path / "not-yet.db").exists()  # a file without a WAL is left alone
    conn.close()


def test_the_store_and_read_models_connections_keep_only_the_backstop(tmp_path: Path) -> None:
    store = open_sqlite_store(tmp_path / "helios.db", codec=EventCodec(types={}))
    store.append(AppendBatch(streams=(), input_keys=("k",)))
    datastore = store._recorder.datastore  # type: ignore[attr-defined]
    with datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == BACKSTOP_PAGES
    store.close()
    db = open_sql_read_models(f"sqlite:{tmp_path / 'readmodels.db'}")
    assert db.query("PRAGMA wal_autocheckpoint") == [(BACKSTOP_PAGES,)]
    db.close()


def test_the_embedded_default_checkpoints_both_files_postgresql_neither(tmp_path: Path) -> None:
    embedded = open_checkpointer(Settings.from_env({"HELIOS_DATA_DIR": str(tmp_path)}))
    assert embedded is not None
    assert embedded.paths == [tmp_path / "helios.db", tmp_path / "readmodels.db"]
    url = "postgresql://helios@127.0.0.1:5432/helios"
    assert open_checkpointer(Settings.from_env({"HELIOS_STORE_URL": url})) is None
