"""Fault tests with real processes and servers on loopback.

* ``kill -9`` of the ingest worker at random points, restarted each time: the final log
  equals an uninterrupted reference run (every alert's fold, and the multiset of decision
  events per stream: nothing lost, nothing decided twice).
* PostgreSQL stopped for ~10 s mid-run: the worker backs off, catches up, loses nothing.

Envelopes are sent in waves the size of the worker's batch, each after the previous one is
acknowledged: decisions depend on arrival order, and waves keep the order of a redelivery the
same as the reference run's. ``HELIOS_FAULTS_ENVELOPES`` sets the run's size (default 1,000
envelopes, about 3,000 signals; 3,000 gives about 10k signals).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from workers import outcome

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.application.envelopes import envelope_message
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.library import open_store
from helios.apps.workers.ingest import IngestWorker
from services import PrivatePostgres

ENVELOPES = int(os.environ.get("HELIOS_FAULTS_ENVELOPES", "1000"))
WAVE = 100
WAVE_DRAINS_WITHIN_S = 30
"""Half the worker's visibility timeout: a killed worker's batch must not wait for it."""
START = 1_700_000_000_000
WORKER_LOG_LINES = 40
"""The workers' last log lines, shown when a wave does not drain."""


def _envelopes() -> list:
    return list(TrafficGenerator(tenant="acme", start=START, seed=11).envelopes(ENVELOPES))


def _reference(envelopes: list) -> tuple:
    with open_store("memory://") as helios:
        for start in range(0, len(envelopes), WAVE):
            helios.ingest(envelopes[start : start + WAVE])
        return outcome(helios.store)


async def _until_empty(
    queue: EmbeddedQueue, timeout_s: float, *, explain: Callable[[], str] | None = None
) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            while await queue.depth() > 0:
                await asyncio.sleep(0.05)
    except TimeoutError:
        details = explain() if explain is not None else ""
        raise AssertionError(f"a wave did not drain within {timeout_s} s\n{details}") from None


def _queue_state(path: Path) -> str:
    """Who holds the messages left, which owners are registered: what a timeout needs."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT owner, receipt IS NOT NULL, receive_count, count(*),"
            " max(visible_at_ms) - ? FROM queue_messages WHERE dead_at_ms IS NULL"
            " GROUP BY 1, 2, 3",
            (int(time.time() * 1000),),
        ).fetchall()
    owners = sorted(lock.name for lock in Path(f"{path}-owners").glob("*.lock"))
    held = "\n".join(
        f"  owner={owner} held={bool(held)} receives={count} messages={n} visible_in_ms={wait}"
        for owner, held, count, n, wait in rows
    )
    return f"messages left:\n{held}\nowner lock files: {owners}"


def _start_worker(data_dir: Path, log: deque[str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HELIOS_DATA_DIR": str(data_dir),
        "HELIOS_WORKER_CONCURRENCY": "1",
        "HELIOS_WORKER_BATCH": str(WAVE),
        "HELIOS_WORKER_WAIT_S": "0.2",
        # The production default: a restarted worker takes back at once what the killed one
        # held, so a wave drains well before this timeout would have made it visible.
        "HELIOS_WORKER_VISIBILITY_S": "60",
        "HELIOS_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "helios.apps.cli", "worker", "ingest"],
        env={**env, "HELIOS_LOG_LEVEL": "info", "HELIOS_LOG_FORMAT": "json"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Wait until it handles SIGTERM itself (start-up imports take a few seconds here).
    assert process.stderr is not None
    log.append(f"--- worker {process.pid} started")
    for line in process.stderr:
        log.append(line.decode(errors="replace").rstrip())
        if b"worker.started" in line:
            break
    else:
        raise AssertionError(f"worker exited during start-up: {process.wait()}\n" + "\n".join(log))

    def keep_reading(stream: IO[bytes]) -> None:
        # Or a full pipe would block the worker; the last lines explain a failure.
        for line in stream:
            log.append(line.decode(errors="replace").rstrip())

    threading.Thread(target=keep_reading, args=(process.stderr,), daemon=True).start()
    return process


def test_killing_the_worker_at_random_points_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    """kill -9 mid-batch several times; the final log equals the uninterrupted reference."""
    envelopes = _envelopes()
    waves = [envelopes[i : i + WAVE] for i in range(0, len(envelopes), WAVE)]
    rng = random.Random(5)
    kills = set(rng.sample(range(len(waves)), k=min(4, len(waves))))
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    migrate(f"sqlite:{data_dir / 'helios.db'}")
    log: deque[str] = deque(maxlen=WORKER_LOG_LINES)
    worker = _start_worker(data_dir, log)

    def explain() -> str:
        lines = "\n".join(log)
        return f"{_queue_state(data_dir / 'queue.db')}\nworker exit: {worker.poll()}\n{lines}"

    async def produce() -> int:
        nonlocal worker
        killed = 0
        async with EmbeddedQueue(path=data_dir / "queue.db", poll_interval_s=0.05) as queue:
            for number, wave in enumerate(waves):
                await queue.send([envelope_message(e, correlation_id="f") for e in wave])
                if number in kills:
                    await asyncio.sleep(rng.uniform(0.05, 0.6))
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    killed += 1
                    worker = _start_worker(data_dir, log)
                await _until_empty(queue, timeout_s=WAVE_DRAINS_WITHIN_S, explain=explain)
            assert not await queue.dead_letters(limit=10)
        return killed

    try:
        assert asyncio.run(produce()) == len(kills)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    store = open_event_store(f"sqlite:{data_dir / 'helios.db'}")
    try:
        assert outcome(store) == _reference(envelopes)
    finally:
        store.close()


# --- PostgreSQL outage ------------------------------------------------------------------------


def test_a_postgres_outage_makes_the_worker_back_off_and_catch_up(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    """PostgreSQL stopped ~10 s mid-run: nothing lost, nothing twice, nothing dead-lettered."""
    envelopes = _envelopes()[:600]
    waves = [envelopes[i : i + WAVE] for i in range(0, len(envelopes), WAVE)]
    migrate(private_postgres.url)
    store = open_event_store(private_postgres.url)

    async def run() -> IngestWorker:
        async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
            stop = asyncio.Event()
            worker = IngestWorker(
                queue=queue, store=store, concurrency=1, batch=WAVE, wait_s=0.2, visibility_s=5
            )
            task = asyncio.create_task(worker.run(stop))
            try:
                for number, wave in enumerate(waves):
                    outage = number == len(waves) // 2
                    if outage:
                        await asyncio.to_thread(private_postgres.stop)
                    await queue.send([envelope_message(e, correlation_id="f") for e in wave])
                    if outage:
                        # The wave waits, held by a worker that backs off meanwhile.
                        await asyncio.sleep(10)
                        assert await queue.depth() == len(wave)
                        await asyncio.to_thread(private_postgres.start)
                    await _until_empty(queue, timeout_s=90)
                assert not await queue.dead_letters(limit=10)
            finally:
                stop.set()
                await task
            return worker

    try:
        started = time.monotonic()
        worker = asyncio.run(run())
        # The store's pool may wait for the server (a stall) or fail fast (StoreUnavailable,
        # then backoff): either way the wave is held, never dropped or dead-lettered.
        assert worker.stats.failed_messages == 0
        assert time.monotonic() - started < 120
        assert outcome(store) == _reference(envelopes)
    finally:
        store.close()
