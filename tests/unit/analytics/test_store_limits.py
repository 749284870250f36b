"""The analytics store stays within the memory and threads it is given, not DuckDB's defaults
(80 % of the machine's memory, a thread per core), which let a worker beside the core grow to
gigabytes under `helios up`."""

from __future__ import annotations

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.application.analytics import documents
from helios.apps.settings import Settings


def test_the_store_opens_with_the_memory_and_threads_it_is_given() -> None:
    store = DuckDbAnalytics(":memory:", memory_mb=128, threads=1)
    limit, threads = store._db.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads')"
    ).fetchone()
    assert (limit, threads) == ("122.0 MiB", 1)


def test_the_settings_default_to_a_small_share_and_read_the_environment() -> None:
    defaults = Settings.from_env({})
    assert (defaults.analytics_memory_mb, defaults.analytics_threads) == (64, 1)
    chosen = Settings.from_env(
        {"HELIOS_ANALYTICS_MEMORY_MB": "1024", "HELIOS_ANALYTICS_THREADS": "2"}
    )
    assert (chosen.analytics_memory_mb, chosen.analytics_threads) == (1024, 2)


def test_the_documents_of_a_burst_of_20000_alerts_are_made_within_the_default_memory() -> None:
    """Overview, trends and suggestions over 120,000 decisions (20,000 alerts fired at once,
    each signalled, triggered, scored and notified) fit in the 64 MB of the embedded default."""
    store = DuckDbAnalytics(":memory:", memory_mb=Settings.from_env({}).analytics_memory_mb)
    at = 1_764_600_000_000
    kinds = ("signal", "triggered", "scored", "notified", "signal", "duplicate")
    rows = [
        (
            n + 1, "acme", kinds[n % 6], f"{n // 6:016x}", at + n // 6, "e1" if n % 6 else "",
            "alertmanager", f"svc-{n // 600}", "P2" if kinds[n % 6] == "scored" else "", "Burst",
        )
        for n in range(120_000)
    ]  # fmt: skip
    for first in range(0, len(rows), 6_000):
        store.load_rows(rows[first : first + 6_000])
    until = at + 60_000

    overview = documents.overview(store, "acme", until=until)
    documents.trends(store, "acme", until=until)
    documents.suggestions(store, "acme", until=until)

    assert overview
    store.close()
