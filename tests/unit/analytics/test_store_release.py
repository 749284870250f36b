"""A released analytics store closes its DuckDB file, gives back the memory its buffers held,
and opens the file again, with every fact, at its next use; one in memory is kept as is."""

from __future__ import annotations

import gc
from pathlib import Path

from helios.adapters.duckdb_analytics import DuckDbAnalytics


def _rows(count: int) -> list[tuple[object, ...]]:
    return [
        (n, "acme", "signal", f"{n:016x}", 1_764_600_000_000 + n, f"e{n}", "alertmanager",
         f"svc-{n % 50}", "P2", "Burst")
        for n in range(1, count + 1)
    ]  # fmt: skip


def _resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def test_a_released_file_store_opens_again_with_every_fact(tmp_path: Path) -> None:
    store = DuckDbAnalytics(tmp_path / "analytics.duckdb", memory_mb=64)
    store.load_rows(_rows(1_000))

    store.release()

    assert store.released
    assert store.loaded_through() == 1_000
    assert not store.released
    store.release()
    store.load_rows(_rows(1_500)[1_000:])
    assert store.query("SELECT count(*) FROM facts") == [(1_500,)]
    store.close()


def test_releasing_a_file_store_gives_back_what_its_buffers_held(tmp_path: Path) -> None:
    store = DuckDbAnalytics(tmp_path / "analytics.duckdb", memory_mb=64)
    rows = _rows(300_000)
    for first in range(0, len(rows), 20_000):
        store.load_rows(rows[first : first + 20_000])
    del rows
    gc.collect()
    held = _resident_mib()

    store.release()

    assert held - _resident_mib() > 10
    store.close()


def test_a_store_in_memory_is_not_released() -> None:
    store = DuckDbAnalytics(":memory:")
    store.load_rows(_rows(10))

    store.release()

    assert not store.released
    assert store.loaded_through() == 10
    store.close()
