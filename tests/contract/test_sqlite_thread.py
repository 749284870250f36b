"""The worker-thread SQLite file both embedded adapters (queue, idempotency keys) are built on."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.sqlite_idempotency import SqliteIdempotencyStore
from helios.adapters.sqlite_thread import SqliteThread, write_transaction
from helios.ports.idempotency import IdempotencyUnavailable
from helios.ports.queue import QueueUnavailable


class FileUnavailable(Exception):
    pass


def _unavailable(path: str, error: sqlite3.Error | OSError) -> FileUnavailable:
    return FileUnavailable(f"{path}: {error}")


def _file(path: Path, prepare: Callable[[sqlite3.Connection], None]) -> SqliteThread:
    return SqliteThread(
        path,
        busy_timeout_s=1.0,
        thread_name=path.stem,
        prepare=prepare,
        unavailable=_unavailable,
    )


@pytest.mark.anyio
async def test_every_call_runs_on_the_one_thread_that_owns_the_connection(tmp_path: Path) -> None:
    prepared: list[str] = []
    file = _file(tmp_path / "one.db", lambda conn: prepared.append(threading.current_thread().name))
    try:
        await file.open()
        names = {await file.run(lambda: threading.current_thread().name) for _ in range(5)}
        conn = await file.run(file.connection)
        assert await file.run(file.connection) is conn
    finally:
        await file.close()
    assert len(names) == 1
    assert prepared == list(names)
    assert names.pop().startswith("one")
    assert threading.current_thread().name not in prepared


@pytest.mark.anyio
async def test_a_file_that_cannot_be_prepared_is_reported_and_opened_again_on_the_next_call(
    tmp_path: Path,
) -> None:
    failures = [sqlite3.OperationalError("schema refused")]

    def prepare(conn: sqlite3.Connection) -> None:
        if failures:
            raise failures.pop()
        with write_transaction(conn):
            conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")

    file = _file(tmp_path / "flaky.db", prepare)
    try:
        with pytest.raises(FileUnavailable, match=r"flaky\.db: schema refused"):
            await file.open()
        rows = await file.run(
            lambda: file.connection().execute("SELECT count(*) FROM t").fetchall()
        )
    finally:
        await file.close()
    assert rows == [(0,)]


@pytest.mark.anyio
async def test_a_write_transaction_that_fails_rolls_back_and_leaves_the_file_usable(
    tmp_path: Path,
) -> None:
    def prepare(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER PRIMARY KEY)")

    def insert_twice() -> None:
        with write_transaction(file.connection()) as conn:
            conn.execute("INSERT INTO t VALUES (1)")
            conn.execute("INSERT INTO t VALUES (1)")

    file = _file(tmp_path / "t.db", prepare)
    try:
        with pytest.raises(FileUnavailable, match="UNIQUE"):
            await file.run(insert_twice)
        rows = await file.run(lambda: file.connection().execute("SELECT x FROM t").fetchall())
        assert not await file.run(lambda: file.connection().in_transaction)
    finally:
        await file.close()
    assert rows == []


@pytest.mark.anyio
async def test_both_embedded_files_close_twice_harmlessly(tmp_path: Path) -> None:
    queue = EmbeddedQueue(path=tmp_path / "queue.db", min_free_bytes=0)
    keys = SqliteIdempotencyStore(path=tmp_path / "queue.db")
    async with queue, keys:
        assert await queue.depth() == 0
    await queue.close()
    await keys.close()


@pytest.mark.anyio
async def test_each_embedded_file_reports_its_errors_in_its_own_port_terms(tmp_path: Path) -> None:
    missing = tmp_path / "missing-dir" / "queue.db"
    queue = EmbeddedQueue(path=missing, min_free_bytes=0)
    keys = SqliteIdempotencyStore(path=missing)
    try:
        with pytest.raises(QueueUnavailable, match=r"embedded queue .*missing-dir"):
            await queue.depth()
        with pytest.raises(IdempotencyUnavailable, match=r"idempotency store .*missing-dir"):
            await keys.recently_seen(scope="s", fingerprint="f", now_ms=0)
    finally:
        await queue.close()
        await keys.close()
