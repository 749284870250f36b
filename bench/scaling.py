"""Horizontal scale of the ingest workers: N worker *processes* on one PostgreSQL event store.

For 1 and N processes, on the same envelopes (fresh database each run): signals/s, scaling
efficiency ((rate_N / rate_1) / N), concurrency conflicts and duplicate-input refusals per
1,000 signals, and how long each append holds the store (the PostgreSQL recorder serialises
writers with a table lock, so the append time bounds what any number of workers can do).
Two workloads: every envelope for one tenant, and the same volume spread over many tenants.

Workers consume an embedded queue file (SQLite): the benchmark measures Helios, not a queue
server. Each worker process counts its appends and conflicts by wrapping its store, and its CPU
seconds (robust to a busy machine, unlike signals/s).

``--fifo`` adds, for N workers, the routing of a FIFO SQS queue (``HELIOS_SQS_FIFO``): one
tenant's envelopes never on two workers at once. It is emulated on embedded queues, one per
worker, each tenant's envelopes on the queue its name hashes to: a static partition, which
is what FIFO message groups give a tenant at best (one worker at a time) without SQS's own
costs (the SQS-compatible test server is far too slow to measure Helios through).

    python bench/pipeline.py --workers 2 [--envelopes 3000] [--tenants 50] [--fifo]
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.application.envelopes import envelope_message
from helios.apps.embedded.traffic import TrafficGenerator
from helios.ports.event_store import ConcurrencyConflict, DuplicateInput


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# --------------------------------------------------------------------------- a worker process


class _CountingStore:
    """The store, with its appends counted and timed (a conflict is an append refused)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.appends = 0
        self.conflicts = 0
        self.duplicates = 0
        self.append_s = 0.0

    def append(self, batch: Any) -> int:
        self.appends += 1
        started = time.perf_counter()
        try:
            return int(self._store.append(batch))
        except ConcurrencyConflict:
            self.conflicts += 1
            raise
        except DuplicateInput:
            self.duplicates += 1
            raise
        finally:
            self.append_s += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def worker_main(queue_path: str, store_url: str, batch: int) -> None:
    """Consume until SIGTERM; print the counts as one JSON line."""
    from helios.apps.workers.ingest import IngestWorker

    async def run() -> dict[str, Any]:
        store = _CountingStore(open_event_store(store_url))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with EmbeddedQueue(path=Path(queue_path), poll_interval_s=0.02) as queue:
            worker = IngestWorker(
                queue=queue, store=store, concurrency=1, batch=batch, wait_s=0.2, visibility_s=60
            )
            print("ready", flush=True)
            busy_started = time.perf_counter()
            cpu_started = time.process_time()
            await worker.run(stop)
            busy_s = time.perf_counter() - busy_started
            cpu_s = time.process_time() - cpu_started
        store.close()
        return {
            "signals": worker.stats.signals,
            "envelopes": worker.stats.envelopes,
            "redelivered": worker.stats.redelivered,
            "batches": worker.stats.batches,
            "appends": store.appends,
            "conflicts": store.conflicts,
            "duplicates": store.duplicates,
            "append_s": store.append_s,
            "busy_s": busy_s,
            "cpu_s": cpu_s,
        }

    print(json.dumps(asyncio.run(run())), flush=True)


# --------------------------------------------------------------------------- the driver


def _envelopes(count: int, tenants: int) -> list:
    """``count`` envelopes of ``tenants`` tenants, interleaved as they would arrive."""
    per_tenant = [
        list(
            TrafficGenerator(tenant=f"t{n:03d}", start=_now_ms(), seed=10 + n).envelopes(
                -(-count // tenants)
            )
        )
        for n in range(tenants)
    ]
    mixed = [e for round_ in zip(*per_tenant, strict=False) for e in round_]
    return mixed[:count]


def _count_envelopes(store_url: str) -> int:
    with psycopg.connect(store_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM stored_events WHERE topic = 'helios.intake.envelope_received.v1'"
        ).fetchone()
    return int(row[0]) if row else 0


FIFO_GROUP_RECEIVE = 10
"""Messages of one group a FIFO queue hands to one consumer before they are deleted."""


def _shard(tenant: str, shards: int) -> int:
    return zlib.crc32(tenant.encode()) % shards


def run_once(
    server: str, envelopes: list, workers: int, batch: int, *, fifo: bool = False
) -> dict[str, Any]:
    """One measured run: a fresh database, ``workers`` processes, every envelope decided.

    With ``fifo``, each worker consumes a queue of its own and a tenant's envelopes all go to
    one of them (see the module's docstring), and a batch holds at most 10 envelopes per
    tenant, as one ``ReceiveMessage`` of a FIFO queue hands out (approximated: the batch is
    capped at 10 per tenant of the workload)."""
    if fifo:
        batch = min(batch, FIFO_GROUP_RECEIVE * len({e.tenant for e in envelopes}))
    name = f"helios_bench_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlsplit(server)._replace(path=f"/{name}").geturl()
    try:
        migrate(url)
        with tempfile.TemporaryDirectory() as tmp:
            shards = workers if fifo else 1
            paths = [Path(tmp) / f"queue-{n}.db" for n in range(shards)]

            async def prepare() -> None:
                for path in paths:
                    async with EmbeddedQueue(path=path) as queue:
                        await queue.depth()

            asyncio.run(prepare())
            processes = [
                subprocess.Popen(
                    [
                        sys.executable,
                        __file__,
                        "--_worker",
                        str(paths[n % shards]),
                        url,
                        str(batch),
                    ],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for n in range(workers)
            ]
            for process in processes:
                assert process.stdout is not None
                assert process.stdout.readline().strip() == "ready"

            async def send_and_wait() -> float:
                routed: list[list] = [[] for _ in paths]
                for envelope in envelopes:
                    routed[_shard(envelope.tenant, shards)].append(envelope)
                started = time.perf_counter()
                for path, mine in zip(paths, routed, strict=True):
                    async with EmbeddedQueue(path=path) as queue:
                        for start in range(0, len(mine), 500):
                            await queue.send(
                                [envelope_message(e, correlation_id="bench")
                                 for e in mine[start : start + 500]]
                            )  # fmt: skip
                while _count_envelopes(url) < len(envelopes):
                    await asyncio.sleep(0.05)
                return time.perf_counter() - started

            elapsed = asyncio.run(send_and_wait())
            stats = []
            for process in processes:
                process.send_signal(signal.SIGTERM)
                out, _ = process.communicate(timeout=60)
                stats.append(json.loads(out.strip().splitlines()[-1]))
        totals = {k: sum(s[k] for s in stats) for k in stats[0]}
        totals["seconds"] = elapsed
        totals["signals_per_s"] = totals["signals"] / elapsed
        totals["workers"] = workers
        totals["fifo"] = fifo
        totals["batch"] = batch
        totals["cpu_per_process"] = [s["cpu_s"] for s in stats]
        return totals
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(label: str, one: dict[str, Any], *runs: dict[str, Any]) -> None:
    print(f"{label}")
    for result in (one, *runs):
        per_k = 1000 / max(1, result["signals"])
        # Of the run's worker-seconds (send → all decided, times processes), the share spent
        # in append: holding the table lock, or (with several workers) waiting for it.
        lock_share = result["append_s"] / max(1e-9, result["seconds"] * result["workers"])
        routing = f"{'fifo' if result['fifo'] else 'standard'} batch {result['batch']:>3}"
        cpu = " ".join(f"{c * per_k:.2f}" for c in result["cpu_per_process"])
        print(
            f"  {result['workers']} worker(s) {routing}: {result['signals_per_s']:>7.0f} signals/s"
            f"  ({result['signals']} signals in {result['seconds']:.1f} s)"
            f"  conflicts/1k signals {result['conflicts'] * per_k:>5.1f}"
            f"  duplicate inputs/1k {result['duplicates'] * per_k:>4.1f}"
            f"  appends {result['appends']:>3}"
            f"  in append {lock_share:>4.0%}"
            f"  CPU s/1k signals per process [{cpu}] (total {result['cpu_s'] * per_k:.2f})"
        )
    for result in runs:
        efficiency = result["signals_per_s"] / one["signals_per_s"] / result["workers"]
        routing = "fifo" if result["fifo"] else "standard"
        print(f"  scaling efficiency ({result['workers']} vs 1, {routing}): {efficiency:.2f}")
    # One worker never waits for the lock: its append time per signal is the time the lock is
    # held per signal, which bounds every number of workers on one database.
    held_ms = 1000 * one["append_s"] / max(1, one["signals"])
    print(
        f"  lock held {held_ms:.3f} ms/signal → ceiling ≈ {1000 / max(1e-9, held_ms):.0f}"
        " signals/s per database, whatever the number of workers"
    )


def main(
    workers: int, envelopes_count: int, tenants: int, server: str, batch: int, *, fifo: bool
) -> None:
    for label, spread in (("one tenant", 1), (f"{tenants} tenants", tenants)):
        envelopes = _envelopes(envelopes_count, spread)
        one = run_once(server, envelopes, 1, batch)
        runs = [run_once(server, envelopes, workers, batch)]
        if fifo:
            runs.append(run_once(server, envelopes, workers, batch, fifo=True))
        report(f"{label}: {len(envelopes)} envelopes, batch {batch}", one, *runs)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--_worker"]:
        worker_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
