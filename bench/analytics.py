"""Analytics: decisions loaded per second next to a raw load, and the overview's p99.

    .venv/bin/python bench/analytics.py [--quick] [--load N] [--facts N] [--runs R]

1. **Load.** Decision messages as the fan-out sends them (``decision.v1`` bodies made from a
   30-day backdated history decided by the real engine, repeated with new log positions up to
   ``--load``) are loaded the way the analytics worker loads a received batch: decode each
   message into a fact, then ``DuckDbAnalytics.load`` (500 per batch, the queue's batch).
   The raw baseline loads the same rows, already flattened, in the same batches through the
   same DuckDB insert path (``load_rows``), in a plain loop. Each side gets a fresh DuckDB
   file. Printed: decisions/s of each and ``ratio analytics/raw`` (target >= 0.5).
2. **Overview query.** ``--facts`` synthetic facts (default 10M; half of them one large
   tenant's, 90 days) are generated inside DuckDB; then the overview of that tenant
   (``documents.overview``: counts and MTTA/MTTR by service, source, priority, day and hour)
   runs ``--runs`` times, next to the same two SQL statements run raw on the connection.
   Printed: p50 and p99 of each, and their ratio.

Both sides of each ratio run in this process, interleaved where it matters; on a shared,
busy machine absolute numbers are noisy, the ratios less so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.application.analytics import documents, queries
from helios.apps.application.analytics.decisions import decision_body, is_fanned_out
from helios.apps.application.analytics.facts import fact_from_message
from helios.apps.composition import open_read_models
from helios.apps.embedded.history import HistoryGenerator
from helios.apps.library import open_store
from helios.apps.views.streams import StreamDirectory
from helios.ports.analytics import FACT_COLUMNS

BATCH = 500
UNTIL = 1_900_000_000_000
DAY = 86_400_000


def decision_messages(count: int, workdir: Path) -> list[bytes]:
    """``count`` decision bodies: a real history's decisions, repeated at new positions."""
    envelopes = list(HistoryGenerator(tenant="acme", until=UNTIL, days=30).envelopes())
    db = open_read_models(f"sqlite:{workdir / 'read.db'}")
    templates: list[dict[str, object]] = []
    with open_store("memory://") as helios:
        for start in range(0, len(envelopes), 200):
            helios.ingest(envelopes[start : start + 200])
        directory = StreamDirectory(db, helios.store)
        after = 0
        while page := helios.store.read_log(after, 2_000):
            directory.learn(page)
            for entry in page:
                if is_fanned_out(entry.name):
                    owner = directory.name(entry.stream_id)
                    body = decision_body(
                        entry, tenant=owner.tenant if owner else "", key=owner.key if owner else ""
                    )
                    templates.append(msgspec.json.decode(body))
            after = page[-1].position
    db.close()
    bodies = []
    for position in range(1, count + 1):
        message = dict(templates[position % len(templates)])
        message["position"] = position
        bodies.append(msgspec.json.encode(message))
    return bodies


def bench_load(count: int, workdir: Path) -> None:
    bodies = decision_messages(count, workdir)
    batches = [bodies[i : i + BATCH] for i in range(0, len(bodies), BATCH)]
    flattened = []
    for batch in batches:
        facts = [f for f in (fact_from_message(b) for b in batch) if f is not None]
        flattened.append([tuple(getattr(f, name) for name in FACT_COLUMNS) for f in facts])

    def analytics(store: DuckDbAnalytics) -> None:
        for batch in batches:
            store.load([f for f in (fact_from_message(b) for b in batch) if f is not None])

    def raw(store: DuckDbAnalytics) -> None:
        for rows in flattened:
            store.load_rows(rows)

    rates: dict[str, list[float]] = {"analytics": [], "raw": []}
    sides = [("analytics", analytics), ("raw", raw)]
    for attempt in range(2):  # interleaved, twice: a burst of load elsewhere hits both
        # Each side goes first once: the file the other just closed may still be flushing.
        for name, run in sides if attempt == 0 else sides[::-1]:
            store = DuckDbAnalytics(workdir / f"{name}-{attempt}.duckdb")
            started = time.perf_counter()
            run(store)
            elapsed = time.perf_counter() - started
            store.close()
            rates[name].append(count / elapsed)
    best = {name: max(values) for name, values in rates.items()}
    print(f"load: {count:,} decisions in batches of {BATCH} (best of 2, alternating order)")
    print(f"  analytics worker path  {best['analytics']:>12,.0f} decisions/s")
    print(f"  raw DuckDB load        {best['raw']:>12,.0f} decisions/s")
    print(f"ratio analytics/raw: {best['analytics'] / best['raw']:.2f}")


_GENERATE = """
INSERT INTO facts
SELECT i AS position,
       CASE WHEN i % 2 = 0 THEN 'big' ELSE 't' || (i % 19) END AS tenant,
       CASE WHEN r < 0.40 THEN 'signal' WHEN r < 0.65 THEN 'duplicate'
            WHEN r < 0.73 THEN 'triggered' WHEN r < 0.81 THEN 'scored'
            WHEN r < 0.87 THEN 'notified' WHEN r < 0.91 THEN 'acknowledged'
            WHEN r < 0.98 THEN 'resolved' WHEN r < 0.99 THEN 'flapping_started'
            ELSE 'suppressed' END AS kind,
       'k' || (i % 5000) AS key,
       CAST(? AS BIGINT) - CAST(90.0 * ? * ((i * 7919) % 1000003) / 1000003.0 AS BIGINT),
       'e' || (i % 5000) || '-' || (i // 60000) AS episode,
       CASE WHEN r < 0.40 THEN ['alertmanager', 'grafana', 'pagerduty'][1 + i % 3] ELSE '' END,
       CASE WHEN r < 0.40 THEN 'svc' || (i % 5000 % 40) ELSE '' END,
       CASE WHEN r >= 0.73 AND r < 0.87 THEN 'P' || (1 + i % 5) ELSE '' END,
       CASE WHEN r >= 0.99 THEN 'silenced' ELSE '' END
FROM (SELECT i, ((i * 2654435761) % 4294967296) / 4294967296.0 AS r
      FROM range(1, ? + 1) t(i))
"""


def bench_query(count: int, runs: int, workdir: Path) -> None:
    store = DuckDbAnalytics(workdir / "query.duckdb")
    started = time.perf_counter()
    store.query(_GENERATE, [UNTIL, DAY, count])
    print(f"overview: {count:,} facts generated in {time.perf_counter() - started:.1f}s")
    window = queries.Window(tenant="big", since=UNTIL - 30 * DAY, until=UNTIL)
    count_sql, duration_sql = _overview_sql()
    helios_times, raw_times = [], []
    connection = store._db  # the same connection, without the adapter or the documents
    for _ in range(runs):
        started = time.perf_counter()
        documents.overview(store, "big", until=UNTIL)
        helios_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        connection.execute(count_sql, window.params()).fetchall()
        connection.execute(duration_sql, window.params()).fetchall()
        raw_times.append(time.perf_counter() - started)
    store.close()
    for name, times in (("overview", helios_times), ("same SQL raw", raw_times)):
        print(
            f"  {name:<14} p50 {statistics.median(times) * 1000:8.1f} ms   "
            f"p99 {_p99(times) * 1000:8.1f} ms   ({runs} runs)"
        )
    print(f"ratio overview/raw p99: {_p99(helios_times) / _p99(raw_times):.2f}")


def _overview_sql() -> tuple[str, str]:
    """The two statements ``documents.overview`` runs (through ``queries``)."""
    seen: list[str] = []

    class _Recorder:
        def query(self, sql: str, params: object = ()) -> list[tuple[object, ...]]:
            seen.append(sql)
            return []

    recorder = _Recorder()
    window = queries.Window(tenant="big", since=0, until=1)
    queries.counts(recorder, window)  # type: ignore[arg-type]
    queries.durations(recorder, window)  # type: ignore[arg-type]
    return seen[0], seen[1]


def _p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20k loaded, 200k facts queried")
    parser.add_argument("--load", type=int, help="decisions to load (default 200,000)")
    parser.add_argument("--facts", type=int, help="facts to query (default 10,000,000)")
    parser.add_argument("--runs", type=int, default=30, help="overview queries timed")
    args = parser.parse_args()
    load = args.load or (20_000 if args.quick else 200_000)
    facts = args.facts or (200_000 if args.quick else 10_000_000)
    with tempfile.TemporaryDirectory(prefix="helios-bench-analytics-") as workdir:
        bench_load(load, Path(workdir))
        bench_query(facts, args.runs, Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
