"""The analytics store stays within the memory and threads it is given, not DuckDB's defaults
(80 % of the machine's memory, a thread per core), which let a worker beside the core grow to
gigabytes under `helios up`."""

from __future__ import annotations

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.settings import Settings


def test_the_store_opens_with_the_memory_and_threads_it_is_given() -> None:
    store = DuckDbAnalytics(":memory:", memory_mb=128, threads=1)
    limit, threads = store._db.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads')"
    ).fetchone()
    assert (limit, threads) == ("122.0 MiB", 1)


def test_the_settings_default_to_a_small_share_and_read_the_environment() -> None:
    defaults = Settings.from_env({})
    assert (defaults.analytics_memory_mb, defaults.analytics_threads) == (256, 1)
    chosen = Settings.from_env(
        {"HELIOS_ANALYTICS_MEMORY_MB": "1024", "HELIOS_ANALYTICS_THREADS": "2"}
    )
    assert (chosen.analytics_memory_mb, chosen.analytics_threads) == (1024, 2)
