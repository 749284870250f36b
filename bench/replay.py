"""Benchmark: ``helios replay verify`` throughput and peak memory as history grows.

    python bench/replay.py [--sizes 100000,1000000] [--backends sqlite,postgres]
                           [--postgres URL] [--capacity 20000]

For each size, a log of about that many events is written by the real Ingestor (PagerDuty
envelopes in batches of 500: triggers, repeats and resolves over a growing set of alerts), then
in the same process: a raw paged read + decode of the whole log (``read_log``, pages of 1,000),
and ``verify`` of the same log. Prints events/s for both, their ratio (target >= 0.3), and the
peak traced memory of a second verify run under tracemalloc (flat memory: the peak at the
largest size should be close to the peak at the smallest).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
import tracemalloc
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helios import replay
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.usecases.ingest import Ingestor
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import EventStore

T0 = 1_773_480_000_000
EVENTS_PER_ENVELOPE = 6  # measured average of the mix below, used to size the history
BATCH = 500


def envelope(seq: int, alerts: int) -> Envelope:
    key = seq % alerts
    round_ = seq // alerts
    action = "resolve" if round_ % 3 == 2 else "trigger"
    at = T0 + seq * 1_000
    body = {
        "routing_key": "bench",
        "event_action": action,
        "dedup_key": f"svc-{key % 50}/check-{key}",
        "payload": {
            "summary": f"check {key} failing",
            "source": f"host-{key % 200}",
            "severity": ("critical", "error", "warning", "info")[key % 4],
            "timestamp": format_rfc3339(at),
            "component": f"svc-{key % 50}",
        },
    }
    return Envelope(
        ingest_id=f"b-{seq}",
        tenant="bench",
        integration="pd",
        source=SourceKind.PAGERDUTY,
        received_at=at,
        body=json.dumps(body).encode(),
    )


def fill(store: EventStore, events: int) -> float:
    """Write about ``events`` events; returns seconds taken."""
    envelopes = max(BATCH, events // EVENTS_PER_ENVELOPE)
    alerts = max(100, envelopes // 4)  # alerts grow with history: the state cache must evict
    ingest = Ingestor(store)
    started = time.perf_counter()
    for first in range(0, envelopes, BATCH):
        ingest.ingest([envelope(seq, alerts) for seq in range(first, first + BATCH)])
    return time.perf_counter() - started


def raw_read(store: EventStore) -> tuple[int, float]:
    started = time.perf_counter()
    after, count = 0, 0
    while True:
        page = store.read_log(after, 1_000)
        count += len(page)
        if len(page) < 1_000:
            break
        after = page[-1].position
    return count, time.perf_counter() - started


def measure(url: str, size: int, capacity: int) -> dict[str, float]:
    store = open_event_store(url)
    try:
        fill_s = fill(store, size)
        count, raw_s = raw_read(store)
        report = replay.verify(store, capacity=capacity)
        assert report.ok, report.divergences[:1]
        tracemalloc.start()
        replay.verify(store, capacity=capacity)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        store.close()
    return {
        "events": count,
        "fill_s": fill_s,
        "raw_rate": count / raw_s,
        "verify_rate": report.events / report.elapsed_s,
        "ratio": (report.events / report.elapsed_s) / (count / raw_s),
        "peak_mib": peak / 2**20,
        "rebuilds": report.states_rebuilt,
    }


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="helios-bench-") as directory:
        yield f"sqlite:{Path(directory) / 'bench.db'}"


@contextmanager
def postgres_url(server: str) -> Iterator[str]:
    import psycopg

    name = f"helios_bench_replay_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urllib.parse.urlsplit(server)._replace(path=f"/{name}").geturl()
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="history sizes in events")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "HELIOS_BENCH_DATABASE_URL", "postgresql://helios@127.0.0.1:55432/postgres"
        ),
        help="PostgreSQL server URL (default: $HELIOS_BENCH_DATABASE_URL)",
    )
    parser.add_argument("--capacity", type=int, default=20_000, help="states kept in memory")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{'backend':9} {'events':>9} {'raw ev/s':>10} {'verify ev/s':>12} {'ratio':>6} "
        f"{'peak MiB':>9} {'rebuilds':>9} {'fill s':>7}"
    )
    for backend in args.backends.split(","):
        for size in sizes:
            context = sqlite_url() if backend == "sqlite" else postgres_url(args.postgres)
            with context as url:
                r = measure(url, size, args.capacity)
            print(
                f"{backend:9} {r['events']:>9,.0f} {r['raw_rate']:>10,.0f} "
                f"{r['verify_rate']:>12,.0f} {r['ratio']:>6.2f} {r['peak_mib']:>9.1f} "
                f"{r['rebuilds']:>9,.0f} {r['fill_s']:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
