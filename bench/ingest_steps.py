"""CPU microseconds per alert of each step of the ingest stage, and the store's append against
raw SQLite inserts of the same rows.

    python bench/ingest_steps.py [--alerts 10000] [--per-body 10] [--batch 500] [--freeze-heap]

The same Alertmanager webhooks as ``bench/stages.py`` (new alerts, ``--per-body`` to a body)
are decided by the ingest use case in batches of ``--batch`` envelopes over a fresh embedded
data directory, and the CPU time of this thread (``time.thread_time``) spent in each step is
printed, in microseconds per alert:

- normalize: envelope bodies to signals (the domain);
- decide: the engine's decisions, signal by signal (the domain);
- preload: which alert streams are new (one query per few hundred), their initial states;
- encode: the decided events to stored rows (msgpack, zstd for large ones);
- insert + commit: the SQLite transaction (one ``executemany``, one fsync);
- bookkeeping: the repository's cache and snapshot checks after the commit;
- collector: CPython's cycle collector, whichever step it interrupted (counted there too;
  ``--freeze-heap`` freezes what start-up made first, as the worker process of ``helios up``
  does);
- the queue: receiving the envelopes' messages (moved in from the intake) and deleting them.

Then the same rows are inserted again with nothing but ``sqlite3`` into a fresh file with the
library's table, one transaction per batch, WAL and ``synchronous=FULL`` as the store has it:
the ratio of the store's insert + commit to that is what the library and Helios add to
SQLite itself. CPU numbers, not wall clock: a shared machine moves them little, but say how
busy it was (the load average is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import gc
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from visible import webhook  # noqa: E402

from helios.adapters.store import recorder_store  # noqa: E402
from helios.apps.application import ingest, repository  # noqa: E402
from helios.apps.application.envelopes import decode_envelope, envelope_message  # noqa: E402
from helios.apps.composition import Services, open_services  # noqa: E402
from helios.apps.embedded.heap import freeze_start_up_heap  # noqa: E402
from helios.apps.embedded.runner import first_start_integration  # noqa: E402
from helios.apps.observability import configure_logging  # noqa: E402
from helios.apps.settings import Settings  # noqa: E402
from helios.domain import engine  # noqa: E402
from helios.domain.values import Envelope, SourceKind  # noqa: E402

STEPS = ("normalize", "decide", "preload", "encode", "insert + commit", "bookkeeping")


class Steps:
    """CPU time of this thread spent in wrapped functions, by step."""

    def __init__(self) -> None:
        self.spent: collections.Counter[str] = collections.Counter()
        self.rows: list[list[Any]] = []
        self._gc_began = 0.0

    def wrap(self, owner: Any, name: str, step: str) -> Callable[..., Any]:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[step] += time.thread_time() - began

        setattr(owner, name, timed)
        return original

    def collector(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_began = time.thread_time()
        else:
            self.spent["collector"] += time.thread_time() - self._gc_began


def instrument(steps: Steps) -> None:
    steps.wrap(ingest, "normalize", "normalize")
    steps.wrap(engine, "apply_signal", "decide")
    steps.wrap(repository.Repository, "preload", "preload")
    steps.wrap(recorder_store.RecorderEventStore, "append", "append")
    steps.wrap(repository.Repository, "commit", "commit")
    rows = recorder_store.RecorderEventStore._rows

    def kept_rows(store: Any, batch: Any) -> Any:
        made = rows(store, batch)
        steps.rows.append([plain(row) for row in made])  # for the raw inserts after
        return made

    recorder_store.RecorderEventStore._rows = kept_rows  # type: ignore[method-assign]
    steps.wrap(recorder_store.RecorderEventStore, "_rows", "encode")
    gc.callbacks.append(steps.collector)


def plain(row: Any) -> tuple[Any, ...]:
    """A row as the SQLite table keeps it (a ``StoredEvent`` from stores that build them)."""
    if isinstance(row, tuple):
        return row
    stream = row.originator_id
    return (stream.hex if isinstance(stream, uuid.UUID) else stream, *tuple(vars(row).values())[1:])


async def run(args: argparse.Namespace, data_dir: Path) -> tuple[dict[str, float], float, float]:
    os.environ["HELIOS_DATA_DIR"] = str(data_dir)
    settings = Settings.from_env()
    starts_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    async with open_services(settings) as services:
        if args.freeze_heap:  # as the worker process of ``helios up`` does once started
            freeze_start_up_heap()
        details, _ = first_start_integration(services)
        await enqueue(services, details, args, starts_at)
        received_s, envelopes = await receive_all(services)
        ingestor = ingest.Ingestor(
            services.store,
            cache=repository.StateCache(settings.state_cache),
            snapshotting=repository.Snapshotting(every=settings.snapshot_every),
        )
        steps = Steps()
        instrument(steps)
        began = time.thread_time()
        for start in range(0, len(envelopes), args.batch):
            ingestor.ingest(envelopes[start : start + args.batch])
        total = time.thread_time() - began
        gc.callbacks.remove(steps.collector)
        spent = dict(steps.spent)
        spent["insert + commit"] = spent.pop("append") - spent["encode"]
        spent["bookkeeping"] = spent.pop("commit") - spent["insert + commit"] - spent["encode"]
        spent["the rest"] = total - sum(spent[s] for s in STEPS)
        spent["queue"] = received_s
        raw = raw_inserts(steps.rows, Path(data_dir) / "raw.db")
        return spent, total, raw


async def enqueue(
    services: Services, details: dict[str, str], args: argparse.Namespace, starts_at: str
) -> None:
    for first in range(0, args.alerts, args.per_body):
        body = webhook(first, min(args.per_body, args.alerts - first), starts_at)
        envelope = Envelope(
            ingest_id=uuid.uuid4().hex,
            tenant=details["tenant"],
            integration=details["integration"],
            source=SourceKind.ALERTMANAGER,
            received_at=int(time.time() * 1000),
            body=body,
        )
        await services.queue.send([envelope_message(envelope, correlation_id="bench")])


async def receive_all(services: Services) -> tuple[float, list[Envelope]]:
    """Every message received, decoded and deleted as the worker does: the process's CPU."""
    envelopes: list[Envelope] = []
    began = time.process_time()
    while True:
        received = await services.queue.receive(
            max_messages=500, wait_seconds=0.05, visibility_timeout_s=60
        )
        if not received:
            break
        envelopes += [decode_envelope(message.body) for message in received]
        await services.queue.delete(received)
    return time.process_time() - began, envelopes


def raw_inserts(batches: list[list[Any]], path: Path) -> float:
    """The same rows with ``sqlite3`` alone, one transaction each batch: CPU seconds."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
        "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
    )
    began = time.thread_time()
    for rows in batches:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", rows)
        conn.execute("COMMIT")
    spent = time.thread_time() - began
    conn.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--per-body", type=int, default=10)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--freeze-heap", action="store_true", help="freeze the heap once the services are open"
    )
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("HELIOS_")]:
        del os.environ[name]  # the embedded default as shipped
    os.environ["HELIOS_LOG_LEVEL"] = "warning"
    configure_logging(log_format="json", level="warning")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="helios-bench-ingest-") as tmp:
        spent, total, raw = asyncio.run(run(args, Path(tmp)))
    per = 1e6 / args.alerts
    print(
        f"{args.alerts} alerts in {args.alerts // args.per_body} bodies, batches of {args.batch};"
        f" load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"  {'step':<16} {'us/alert':>9}")
    for step in (*STEPS, "the rest"):
        print(f"  {step:<16} {spent[step] * per:>9.1f}")
    print(f"  {'ingest use case':<16} {total * per:>9.1f}  (the steps above)")
    print(f"  {'collector':<16} {spent.get('collector', 0.0) * per:>9.1f}  (inside the steps)")
    print(f"  {'queue':<16} {spent['queue'] * per:>9.1f}  (receive, decode, delete)")
    print(
        f"  raw sqlite3 inserts of the same rows {raw * per:.1f} us/alert: the store's"
        f" insert + commit is {spent['insert + commit'] / raw:.2f}x that"
    )


if __name__ == "__main__":
    main()
