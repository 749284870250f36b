"""End-to-end pipeline benchmark: signals/s through the ingest worker into PostgreSQL.

receive (embedded queue) → normalize → decide → append (one transaction per batch) →
acknowledge, next to a raw ``executemany`` of as many rows of the same size in the same run;
latency from enqueue to decision (p50/p99). Then, against an SQS-compatible server, SQS API
calls per signal (never a throughput number: such servers are far slower than SQS).

    python bench/pipeline.py [--envelopes 5000] [--database postgresql://…/postgres]
                             [--sqs http://127.0.0.1:55005] [--sqs-envelopes 300]
    python bench/pipeline.py --workers 2 [--envelopes 3000] [--tenants 50] [--fifo]  # scaling.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import psycopg

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.application.envelopes import envelope_message
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.workers.ingest import IngestWorker
from helios.ports.queue import Queue


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def _pipeline(
    queue: Queue, store_url: str, envelopes: list, *, concurrency: int, batch: int
) -> dict[str, float]:
    store = open_event_store(store_url)
    latencies: list[int] = []

    def committed(done, report) -> None:
        now = _now_ms()
        latencies.extend(now - e.received_at for e in done)

    worker = IngestWorker(
        queue=queue,
        store=store,
        concurrency=concurrency,
        batch=batch,
        wait_s=0.2,
        visibility_s=60,
        on_committed=committed,
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(worker.run(stop))
    for start in range(0, len(envelopes), 500):
        stamped = [attrs.evolve(e, received_at=_now_ms()) for e in envelopes[start : start + 500]]
        await queue.send([envelope_message(e, correlation_id="bench") for e in stamped])
    while worker.stats.envelopes + worker.stats.redelivered < len(envelopes):
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    events = store.max_position()
    store.close()
    latencies.sort()
    return {
        "envelopes": worker.stats.envelopes,
        "signals": worker.stats.signals,
        "events": events,
        "seconds": elapsed,
        "signals_per_s": worker.stats.signals / elapsed,
        "events_per_s": events / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
    }


def _raw_executemany(url: str, rows: int) -> float:
    """Rows/s of plain executemany, 1,000 rows per transaction, rows of ~the log's size."""
    payload = os.urandom(300)
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute(
            "CREATE TABLE raw_rows (id bigserial PRIMARY KEY, stream uuid, "
            "version bigint, topic text, state bytea)"
        )
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for start in range(0, rows, 1000):
                cursor.executemany(
                    "INSERT INTO raw_rows (stream, version, topic, state) VALUES (%s, %s, %s, %s)",
                    [
                        (secrets.token_hex(16), i, "helios.alert.scored.v1", payload)
                        for i in range(start, min(rows, start + 1000))
                    ],
                )
                conn.commit()
        return rows / (time.perf_counter() - started)


async def _sqs_calls(endpoint: str, store_url: str, envelopes: list) -> dict[str, float]:
    from helios.adapters.blobs import MemoryBlobStore
    from helios.adapters.sqs.connection import SqsSettings, sqs_client
    from helios.adapters.sqs.provisioning import create_queues
    from helios.adapters.sqs.queue import SqsQueue

    prefix = f"bench-{secrets.token_hex(3)}-"
    settings = SqsSettings(endpoint_url=endpoint, prefix=prefix)
    async with sqs_client(settings) as client:
        urls = await create_queues(client, prefix=prefix)
        queue = SqsQueue(
            client=client,
            queue_url=urls.main,
            dead_letter_url=urls.dead_letter,
            blob_store=MemoryBlobStore(),
        )
        result = await _pipeline(queue, store_url, envelopes, concurrency=1, batch=100)
        calls = queue.api_calls
    total = sum(calls.values())
    return {
        "signals": result["signals"],
        "calls": total,
        "by_operation": dict(calls),
        "calls_per_signal": total / max(1, result["signals"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=5000)
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "HELIOS_BENCH_DATABASE_URL", "postgresql://helios@127.0.0.1:55432/postgres"
        ),
    )
    parser.add_argument(
        "--sqs", default=os.environ.get("HELIOS_BENCH_SQS_URL", "http://127.0.0.1:55005")
    )
    parser.add_argument("--sqs-envelopes", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="measure horizontal scale instead: 1 vs this many worker processes (bench/scaling.py)",
    )
    parser.add_argument("--tenants", type=int, default=50, help="with --workers: the spread case")
    parser.add_argument(
        "--fifo",
        action="store_true",
        help="with --workers: also route each tenant to one worker, as a FIFO queue does",
    )
    args = parser.parse_args()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ):
        os.environ.setdefault(name, value)
    if args.workers:
        import scaling

        scaling.main(
            args.workers, args.envelopes, args.tenants, args.database, args.batch, fifo=args.fifo
        )
        return

    name = f"helios_bench_{secrets.token_hex(4)}"
    server = args.database
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlsplit(server)._replace(path=f"/{name}").geturl()
    try:
        migrate(url)
        envelopes = list(
            TrafficGenerator(tenant="bench", start=_now_ms(), seed=1).envelopes(args.envelopes)
        )

        async def embedded() -> dict[str, float]:
            with tempfile.TemporaryDirectory() as tmp:
                async with EmbeddedQueue(path=Path(tmp) / "queue.db") as queue:
                    return await _pipeline(
                        queue, url, envelopes, concurrency=args.concurrency, batch=args.batch
                    )

        result = asyncio.run(embedded())
        raw = _raw_executemany(url, int(result["events"]))
        print(f"pipeline (embedded queue → worker → PostgreSQL), {result['envelopes']} envelopes")
        print(
            f"  signals/s            {result['signals_per_s']:>10.0f}  "
            f"({result['signals']} signals in {result['seconds']:.1f} s)"
        )
        print(f"  log rows/s           {result['events_per_s']:>10.0f}  ({result['events']} rows)")
        print(f"  raw executemany/s    {raw:>10.0f}  (same row count, 1,000 per transaction)")
        print(f"  ratio pipeline/raw   {result['events_per_s'] / raw:>10.2f}")
        print(f"  enqueue→decision     p50 {result['p50_ms']} ms   p99 {result['p99_ms']} ms")
        try:
            # Envelopes of their own: the store already holds the first run's ingest ids.
            others = list(
                TrafficGenerator(tenant="bench-sqs", start=_now_ms(), seed=2).envelopes(
                    args.sqs_envelopes
                )
            )
            sqs = asyncio.run(_sqs_calls(args.sqs, url, others))
        except Exception as error:
            print(f"SQS calls per signal: skipped ({type(error).__name__}: {error})")
        else:
            print(
                f"SQS-compatible server: {sqs['calls']} API calls for {sqs['signals']} signals"
                f" = {sqs['calls_per_signal']:.3f} calls/signal  {sqs['by_operation']}"
            )
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
