"""SQLite keeps at most the memory a process allows it, its connections' caches together."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from helios.adapters.sqlite_memory import limit_sqlite_memory
from helios.apps.settings import Settings

ROWS = 60_000


@pytest.fixture
def unlimited_after() -> Iterator[None]:
    """The limit is the whole process's: give the other tests back SQLite's default."""
    yield
    limit_sqlite_memory(0)


def _memory_used() -> int:
    """Bytes SQLite has allocated in this process (``sqlite3_memory_used``)."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        pytest.skip("the SQLite library cannot be found to ask it how much memory it holds")
    library = ctypes.CDLL(name)
    library.sqlite3_memory_used.restype = ctypes.c_int64
    return int(library.sqlite3_memory_used())


def _read_everything_from_several_connections(path: Path) -> list[sqlite3.Connection]:
    with sqlite3.connect(path) as writer:
        writer.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)")
        writer.executemany(
            "INSERT INTO t VALUES (?, ?)", ((f"key-{i:08d}", os.urandom(200)) for i in range(ROWS))
        )
    writer.close()
    readers = [sqlite3.connect(path) for _ in range(6)]
    for reader in readers:
        reader.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()
        for i in range(0, ROWS, 5):
            reader.execute("SELECT v FROM t WHERE k = ?", (f"key-{i:08d}",)).fetchone()
    return readers


def test_the_page_caches_of_all_connections_stay_within_the_limit(
    tmp_path: Path, unlimited_after: None
) -> None:
    limit_sqlite_memory(0)  # whatever an earlier test of this process set (open_services)
    base = _memory_used()
    readers = _read_everything_from_several_connections(tmp_path / "free.db")
    unlimited = _memory_used() - base
    for reader in readers:
        reader.close()

    assert limit_sqlite_memory(3 * 2**20) == 3 * 2**20
    base = _memory_used()
    readers = _read_everything_from_several_connections(tmp_path / "capped.db")
    capped = _memory_used() - base
    for reader in readers:
        reader.close()

    assert unlimited > 8 * 2**20  # six caches of 2 MB each would hold this much
    assert capped < 4 * 2**20


def test_the_limit_is_a_setting_with_a_default_and_zero_lifts_it(unlimited_after: None) -> None:
    assert Settings.from_env({}).sqlite_memory_mb == 8
    assert Settings.from_env({"HELIOS_SQLITE_MEMORY_MB": "0"}).sqlite_memory_mb == 0
    assert limit_sqlite_memory(0) == 0
    with pytest.raises(ValueError, match="limit_bytes"):
        limit_sqlite_memory(-1)
