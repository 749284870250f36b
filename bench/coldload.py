"""Cold load of one alert with a long history, with and without snapshots. Prints numbers.

    .venv/bin/python bench/coldload.py [--database-url URL] [--sizes 1000,10000,100000]

For each store (memory, SQLite file, PostgreSQL when a server URL is given) and each history
size, one alert gets a real first signal through the ingest use case, then its stream is
filled up to the size with recorded duplicates (events that leave the state as it is, so the
cost measured is reading and evolving the stream, not the state's own growth), plus half a
snapshot interval (what a load reads after the latest snapshot on average), and snapshots
are written every 100 events as ingest writes them. A cold load is the ingest use case's load
with an empty cache: "snapshots" starts from the latest snapshot, "whole stream" reads from
the first event, and "raw one row" is the store reading the stream's last event only.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from store import DEV_SERVER, fresh_database

from helios.adapters.store import migrate, open_event_store
from helios.apps.application.ingest import Ingestor
from helios.apps.application.repository import Snapshotting, StateCache
from helios.domain import alert
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import AppendBatch, EventStore, StreamAppend
from helios.ports.snapshots import Snapshot, SnapshotStore

EVERY = 100
T0 = 1_773_480_000_000
BODY = (
    b'{"routing_key":"' + b"R" * 32 + b'","event_action":"trigger","dedup_key":"bench/one",'
    b'"payload":{"summary":"one alert","source":"bench","severity":"critical",'
    b'"timestamp":"2026-03-14T09:21:30.512+0000"}}'
)


def history(store: EventStore, size: int) -> tuple[str, int]:
    """One alert whose stream holds ``size`` events, snapshotted as ingest would."""
    envelope = Envelope(
        ingest_id="first",
        tenant="acme",
        integration="int-1",
        source=SourceKind.PAGERDUTY,
        received_at=T0,
        body=BODY,
    )
    Ingestor(store, snapshotting=Snapshotting(every=0)).ingest([envelope])
    stream = alert.alert_stream_id("acme", "bench/one")
    recorded = store.read_stream(stream)
    key = recorded[0].event.signal.dedup_key
    version = len(recorded)
    state = alert.initial_state("acme", key)
    for item in recorded:
        state = alert.evolve(state, item.event)
    duplicate = alert.SignalDeduplicated(signal_id="dup", source="bench", received_at=T0)
    assert isinstance(store, SnapshotStore)
    while version < size:
        count = min(1_000, size - version)
        store.append(
            AppendBatch(
                streams=(
                    StreamAppend(
                        stream_id=stream, expected_version=version, events=(duplicate,) * count
                    ),
                )
            )
        )
        crossed = (version + count) // EVERY * EVERY
        version += count
        if crossed > version - count:
            # Duplicates leave the state as it is: the state at ``crossed`` is ``state``.
            store.save_snapshots([Snapshot(stream_id=stream, version=crossed, state=state)], keep=2)
    return key, version


def timed(load: Callable[[], int], repeat: int) -> tuple[float, int]:
    runs, read = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        read = load()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), read


def measure(store: EventStore, size: int, repeat: int) -> list[tuple[str, float, int]]:
    # Half an interval past the last snapshot: what a cold load reads on average.
    key, version = history(store, size + EVERY // 2)
    stream = alert.alert_stream_id("acme", key)

    def cold(every: int) -> Callable[[], int]:
        def load() -> int:
            ingestor = Ingestor(store, cache=StateCache(), snapshotting=Snapshotting(every=every))
            _, loaded = ingestor.alert_state("acme", key)
            assert loaded == version
            return ingestor.stats.events_read

        return load

    def raw() -> int:
        return len(store.read_stream(stream, after_version=version - 1))

    return [
        ("raw one row", *timed(raw, repeat)),
        ("snapshots", *timed(cold(EVERY), repeat)),
        ("whole stream", *timed(cold(0), max(1, repeat // 3))),
    ]


@contextmanager
def stores(database_url: str | None, workdir: Path) -> Iterator[Iterator[tuple[str, str]]]:
    def urls() -> Iterator[tuple[str, str]]:
        yield "memory", "memory://"
        yield "sqlite", f"sqlite:{workdir}/cold-{time.monotonic_ns()}.db"
        if database_url:
            with fresh_database(database_url) as url:
                migrate(url)
                yield "postgres", url + "?pool_size=1&max_overflow=0"

    yield urls()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HELIOS_BENCH_DATABASE_URL", DEV_SERVER),
        help="PostgreSQL server URL ('' to skip PostgreSQL)",
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=9, help="loads per measurement (median)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'store':<9} {'history':>8} {'load':<13} {'ms':>9} {'events read':>12}")
    with tempfile.TemporaryDirectory(prefix="helios-coldload-") as workdir:
        for size in sizes:
            with stores(args.database_url or None, Path(workdir)) as found:
                for name, url in found:
                    store = open_event_store(url)
                    try:
                        for load, seconds, read in measure(store, size, args.repeat):
                            print(
                                f"{name:<9} {size:>8} {load:<13} {seconds * 1e3:>9.3f} {read:>12}"
                            )
                    finally:
                        store.close()


if __name__ == "__main__":
    main()
