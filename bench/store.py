"""Event store throughput next to raw driver baselines, in the same run. Prints numbers.

    .venv/bin/python bench/store.py [--database-url URL] [--events N]

Each store section appends ``--events`` domain events through the adapter's ``append`` in
realistic batches (1,000 events over 100 streams per call, ~200-byte payloads, one input
marker per 10 events), then writes the same number of equivalent rows into an equivalent
plain table (same unique keys) with raw ``executemany`` (and ``COPY`` on PostgreSQL), one
transaction per batch. The PostgreSQL server gets a fresh database per run, dropped at the end.

To add a section, write ``def bench_x(config: Config) -> list[Result]`` and list it in
``SECTIONS``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import msgspec
import psycopg
from psycopg import sql

from helios.adapters.store import migrate, open_event_store
from helios.adapters.store.codec import EventCodec
from helios.apps.application.ingest import Ingestor
from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain.events import event
from helios.domain.values import Envelope
from helios.ports.event_store import AppendBatch, EventStore, StreamAppend

DEV_SERVER = "postgresql://helios@127.0.0.1:55432/postgres"
BATCH_EVENTS = 1_000
STREAMS_PER_BATCH = 100
EVENTS_PER_INPUT = 10


@event("helios.bench.payload.v1")
@attrs.frozen(kw_only=True)
class BenchPayload:
    source: str
    dedup_key: str
    summary: str
    seq: int


BENCH_TYPES = {BenchPayload.NAME: BenchPayload}  # type: ignore[attr-defined]


@attrs.frozen(kw_only=True)
class Config:
    server_url: str
    events: int
    workdir: Path


@attrs.frozen(kw_only=True)
class Result:
    store: str
    method: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def payload(seq: int) -> BenchPayload:
    return BenchPayload(
        source="alertmanager",
        dedup_key=f"cluster-eu-1/node-{seq % 97}/disk-pressure",
        summary=("Disk usage above 90% on /var/lib/data; inode usage rising " * 2)[:120],
        seq=seq,
    )


def batches(total: int) -> Iterator[AppendBatch]:
    """Batches of 1,000 events, 10 per stream, each stream advancing one batch at a time."""
    streams = [uuid.UUID(int=i + 1) for i in range(STREAMS_PER_BATCH)]
    per_stream = BATCH_EVENTS // STREAMS_PER_BATCH
    seq = 0
    for round_no in range(total // BATCH_EVENTS):
        appends = []
        for stream in streams:
            events = tuple(payload(seq + i) for i in range(per_stream))
            seq += per_stream
            appends.append(
                StreamAppend(
                    stream_id=stream, expected_version=round_no * per_stream, events=events
                )
            )
        keys = tuple(f"ingest/{round_no}/{i}" for i in range(BATCH_EVENTS // EVENTS_PER_INPUT))
        yield AppendBatch(streams=tuple(appends), input_keys=keys)


def raw_rows(total: int) -> list[list[tuple[uuid.UUID, int, str, bytes]]]:
    """Rows equivalent to the adapter's events: same keys, same encoded payload sizes."""
    encode = msgspec.msgpack.Encoder().encode
    rows = [
        (uuid.UUID(int=1 + seq % STREAMS_PER_BATCH), seq, BenchPayload.NAME, encode(payload(seq)))  # type: ignore[attr-defined]
        for seq in range(total)
    ]
    return [rows[i : i + BATCH_EVENTS] for i in range(0, total, BATCH_EVENTS)]


def time_adapter(store: EventStore, total: int) -> float:
    store_batches = list(batches(total))
    started = time.perf_counter()
    for batch in store_batches:
        store.append(batch)
    return time.perf_counter() - started


def bench_sqlite(config: Config) -> list[Result]:
    total = config.events
    path = config.workdir / "adapter.db"
    store = open_event_store(f"sqlite:///{path}", types=BENCH_TYPES)
    adapter = time_adapter(store, total)
    store.close()

    conn = sqlite3.connect(config.workdir / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE raw_events (stream_id TEXT, version INTEGER, name TEXT, state BLOB, "
        "PRIMARY KEY (stream_id, version))"
    )
    chunks = [[(s.hex, v, n, b) for s, v, n, b in chunk] for chunk in raw_rows(total)]
    started = time.perf_counter()
    for chunk in chunks:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO raw_events VALUES (?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")
    raw = time.perf_counter() - started
    conn.close()
    return [
        Result(store="sqlite", method="adapter append", events=total, seconds=adapter),
        Result(store="sqlite", method="raw executemany", events=total, seconds=raw),
    ]


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"helios_bench_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}", query="").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


RAW_TABLE = (
    "CREATE TABLE {} (stream_id uuid NOT NULL, version bigint NOT NULL, name text, "
    "state bytea, position bigserial, PRIMARY KEY (stream_id, version)); "
    "CREATE UNIQUE INDEX ON {} (position)"
)


def bench_postgres(config: Config) -> list[Result]:
    total = config.events
    with fresh_database(config.server_url) as url:
        migrate(url)
        store = open_event_store(url + "?pool_size=1&max_overflow=0", types=BENCH_TYPES)
        warm_up = StreamAppend(stream_id=uuid.uuid4(), expected_version=0, events=(payload(0),))
        store.append(AppendBatch(streams=(warm_up,)))  # connect and prepare outside the timing
        adapter = time_adapter(store, total)
        store.close()

        chunks = raw_rows(total)
        with psycopg.connect(url, autocommit=True) as conn:
            for table in ("raw_many", "raw_copy"):
                conn.execute(RAW_TABLE.format(table, table))  # type: ignore[arg-type]
            started = time.perf_counter()
            for chunk in chunks:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO raw_many (stream_id, version, name, state) "
                        "VALUES (%s, %s, %s, %s)",
                        chunk,
                    )
            many = time.perf_counter() - started
            started = time.perf_counter()
            for chunk in chunks:
                with (
                    conn.transaction(),
                    conn.cursor() as cur,
                    cur.copy("COPY raw_copy (stream_id, version, name, state) FROM STDIN") as copy,
                ):
                    for row in chunk:
                        copy.write_row(row)
            copied = time.perf_counter() - started
    return [
        Result(store="postgres", method="adapter append", events=total, seconds=adapter),
        Result(store="postgres", method="raw executemany", events=total, seconds=many),
        Result(store="postgres", method="raw COPY", events=total, seconds=copied),
    ]


INGEST_BATCH = 200  # envelopes per ingest call (a worker's receive batch)


def ingest_traffic(config: Config) -> list[list[Envelope]]:
    """Alertmanager-heavy traffic (with HA duplicates, repeats, other sources) in batches."""
    envelopes = list(
        TrafficGenerator(tenant="bench", start=1_760_000_000_000, problems=500).envelopes(
            max(INGEST_BATCH, config.events // 3)
        )
    )
    return [envelopes[i : i + INGEST_BATCH] for i in range(0, len(envelopes), INGEST_BATCH)]


def time_ingest(store: EventStore, traffic: list[list[Envelope]]) -> tuple[float, int]:
    ingestor = Ingestor(store)
    events = 0
    started = time.perf_counter()
    for batch in traffic:
        events += ingestor.ingest(batch).events
    return time.perf_counter() - started, events


def logged_rows(store: EventStore) -> list[tuple[uuid.UUID, int, str, bytes]]:
    """The rows the use case wrote, re-encoded the same way: the raw baseline writes these."""
    codec = EventCodec()
    rows = []
    after = 0
    while True:
        page = store.read_log(after, 5_000)
        rows.extend((e.stream_id, e.version, *codec.encode(e.event)) for e in page)
        if len(page) < 5_000:
            return rows
        after = page[-1].position


def bench_ingest_sqlite(config: Config) -> list[Result]:
    traffic = ingest_traffic(config)
    store = open_event_store(f"sqlite:///{config.workdir / 'ingest.db'}")
    elapsed, events = time_ingest(store, traffic)
    rows = logged_rows(store)
    store.close()
    conn = sqlite3.connect(config.workdir / "ingest-raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE raw_events (stream_id TEXT, version INTEGER, name TEXT, state BLOB, "
        "PRIMARY KEY (stream_id, version))"
    )
    per_call = max(1, len(rows) // len(traffic))
    chunks = [
        [(s.hex, v, n, b) for s, v, n, b in rows[i : i + per_call]]
        for i in range(0, len(rows), per_call)
    ]
    started = time.perf_counter()
    for chunk in chunks:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO raw_events VALUES (?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")
    raw = time.perf_counter() - started
    conn.close()
    return [
        Result(store="sqlite/ingest", method="ingest use case", events=events, seconds=elapsed),
        Result(store="sqlite/ingest", method="raw executemany", events=len(rows), seconds=raw),
    ]


def bench_ingest_postgres(config: Config) -> list[Result]:
    traffic = ingest_traffic(config)
    with fresh_database(config.server_url) as url:
        migrate(url)
        store = open_event_store(url + "?pool_size=1&max_overflow=0")
        elapsed, events = time_ingest(store, traffic)
        rows = logged_rows(store)
        store.close()
        per_call = max(1, len(rows) // len(traffic))
        chunks = [rows[i : i + per_call] for i in range(0, len(rows), per_call)]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(RAW_TABLE.format("raw_ingest", "raw_ingest"))  # type: ignore[arg-type]
            started = time.perf_counter()
            for chunk in chunks:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO raw_ingest (stream_id, version, name, state) "
                        "VALUES (%s, %s, %s, %s)",
                        chunk,
                    )
            many = time.perf_counter() - started
    return [
        Result(store="postgres/ingest", method="ingest use case", events=events, seconds=elapsed),
        Result(store="postgres/ingest", method="raw executemany", events=len(rows), seconds=many),
    ]


SECTIONS: list[Callable[[Config], list[Result]]] = [
    bench_sqlite,
    bench_postgres,
    bench_ingest_sqlite,
    bench_ingest_postgres,
]


def report(results: Sequence[Result]) -> None:
    baselines = {(r.store, r.method): r.rate for r in results}
    print(f"{'store':<10} {'method':<18} {'events':>8} {'events/s':>10}  ratios")
    for r in results:
        ratios = [
            f"{r.rate / baselines[(r.store, base)]:.2f}x {base.removeprefix('raw ')}"
            for base in ("raw executemany", "raw COPY")
            if (r.store, base) in baselines and not r.method.startswith("raw")
        ]
        print(f"{r.store:<10} {r.method:<18} {r.events:>8} {r.rate:>10,.0f}  {', '.join(ratios)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HELIOS_BENCH_DATABASE_URL", DEV_SERVER),
        help="PostgreSQL server URL; a fresh database is created on it and dropped after",
    )
    parser.add_argument("--events", type=int, default=20_000, help="events per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is shown")
    args = parser.parse_args(argv)
    events = max(BATCH_EVENTS, args.events // BATCH_EVENTS * BATCH_EVENTS)
    runs: dict[tuple[str, str], list[Result]] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="helios-bench-") as workdir:
            config = Config(server_url=args.database_url, events=events, workdir=Path(workdir))
            for section in SECTIONS:
                for result in section(config):
                    runs.setdefault((result.store, result.method), []).append(result)
    report(
        [
            Result(
                store=store,
                method=method,
                # What was written (the ingest sections write more events than --events).
                events=results[0].events,
                seconds=statistics.median(r.seconds for r in results),
            )
            for (store, method), results in runs.items()
        ]
    )


if __name__ == "__main__":
    main()
