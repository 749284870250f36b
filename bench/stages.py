"""CPU seconds per 10,000 new alerts of each stage of ``helios up``'s worker, one at a time.

    python bench/stages.py [--alerts 10000] [--per-body 10] [--rounds 1]

``bench/visible.py`` runs every stage at once, as ``helios up`` does, so the CPU of one
process is the sum of all of them. Here the same Alertmanager webhooks are taken through the
same stages one after the other, in one process over a fresh data directory with the default
settings, and each stage's CPU time (``time.process_time``: Python and SQLite alike, idle
waits excluded) is printed, in seconds per 10,000 alerts and microseconds per alert:

- enqueue: the envelopes onto the embedded queue (what the API does after its checks);
- ingest: the worker receiving them, deciding and appending, and deleting the messages;
- projector inline: what the worker's projector spends projecting each batch as it commits,
  straight from its events (``Projector.appended``: the worker thread's CPU, taken out of
  ingest's; ``--from-log`` leaves it out, as ``HELIOS_PROJECT_FROM_LOG=true`` does);
- log read: every entry of the log read and decoded once (what the followers share);
- then each follower alone from position 0 over its own read-model connection, reading the
  log itself (through a window of its own, decoding what it needs: under ``helios up`` the
  followers share one, so the sum counts some reading twice): projector, notifier (outbox
  rows), SNS confirmation requests, analytics fan-out. The projector starts over from
  position 0 (its tables emptied first, outside the count): its number is what a page read
  from the log costs, as a rebuild or a projector in another process would spend.

The numbers are CPU, not wall clock: a shared machine slows them much less, and the sum is
what one worker process (one GIL) has to spend before the last alert is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from visible import webhook  # noqa: E402

from helios.apps.application.envelopes import envelope_message  # noqa: E402
from helios.apps.composition import (  # noqa: E402
    Services,
    observe_appends,
    open_queue,
    open_read_models,
    open_services,
    shared_log,
)
from helios.apps.embedded.runner import first_start_integration  # noqa: E402
from helios.apps.observability import configure_logging  # noqa: E402
from helios.apps.settings import Settings  # noqa: E402
from helios.apps.views.projector import Projector  # noqa: E402
from helios.apps.workers.fanout import DecisionFanout  # noqa: E402
from helios.apps.workers.followers import Follower, follow  # noqa: E402
from helios.apps.workers.notifier import NotificationOutbox  # noqa: E402
from helios.apps.workers.runtime import ANALYTICS_QUEUE, ingest_worker  # noqa: E402
from helios.apps.workers.subscriptions import ConfirmationRequests  # noqa: E402
from helios.domain.values import Envelope, SourceKind  # noqa: E402
from helios.ports.event_store import LogEntry  # noqa: E402

SEND_GROUP = 32


async def cpu(work: Callable[[], Awaitable[object]]) -> float:
    began = time.process_time()
    await work()
    return time.process_time() - began


async def one_round(args: argparse.Namespace, data_dir: Path) -> dict[str, float]:
    os.environ["HELIOS_DATA_DIR"] = str(data_dir)
    settings = Settings.from_env()
    taken: dict[str, float] = {}
    starts_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    async with open_services(settings) as services:
        details, _ = first_start_integration(services)
        bodies = [
            webhook(first, min(args.per_body, args.alerts - first), starts_at)
            for first in range(0, args.alerts, args.per_body)
        ]

        async def enqueue() -> None:
            for start in range(0, len(bodies), SEND_GROUP):
                group = bodies[start : start + SEND_GROUP]
                await asyncio.gather(*(send(services, details, body) for body in group))

        taken["enqueue"] = await cpu(enqueue)
        inline = InlineCpu(services, settings)
        try:
            taken["ingest"] = await cpu(lambda: ingest(services, len(bodies)))
        finally:
            inline.close()
        if not args.from_log:
            taken["ingest"] -= inline.seconds
            taken["projector inline"] = inline.seconds
        taken["log read"] = await cpu(lambda: read_everything(services))
        for name, make in followers(services):
            log = shared_log(services.store, entries=settings.follower_window)
            db = open_read_models(settings.effective_read_models_url)
            try:
                async with open_queue(settings, services.blobs, name=ANALYTICS_QUEUE) as queue:
                    follower = make(db, queue)
                    if isinstance(follower, Projector):
                        await asyncio.to_thread(follower.reset)
                    taken[name] = await cpu(lambda f=follower, d=db, r=log: catch_up(f, r, d))
            finally:
                db.close()
    return taken


class InlineCpu:
    """The worker's projector observing its appends (unless ``--from-log``), and the CPU
    time of the worker thread it spends doing so."""

    def __init__(self, services: Services, settings: Settings) -> None:
        self.seconds = 0.0
        self._db = open_read_models(settings.effective_read_models_url)
        self._projector = Projector(services.store, self._db)
        self._stop = (
            None if settings.project_from_log else observe_appends(services.store, self._appended)
        )

    def _appended(self, entries: Sequence[LogEntry], before: int) -> None:
        began = time.thread_time()
        self._projector.appended(entries, before=before)
        self.seconds += time.thread_time() - began

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
        self._db.close()


async def send(services: Services, details: dict[str, str], body: bytes) -> None:
    envelope = Envelope(
        ingest_id=uuid.uuid4().hex,
        tenant=details["tenant"],
        integration=details["integration"],
        source=SourceKind.ALERTMANAGER,
        received_at=int(time.time() * 1000),
        body=body,
    )
    await services.queue.send([envelope_message(envelope, correlation_id="bench")])


async def ingest(services: Services, envelopes: int) -> None:
    worker = ingest_worker(services)
    worker.wait_s = 0.05
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while worker.stats.envelopes < envelopes:
        await asyncio.sleep(0.01)
        if running.done():
            running.result()
            raise RuntimeError("the worker stopped")
    stop.set()
    await running


async def read_everything(services: Services) -> None:
    after = 0
    while True:
        page = await asyncio.to_thread(services.store.read_log, after, 1000)
        if not page:
            return
        after = page[-1].position


async def catch_up(follower: Follower, log: object, db: object) -> None:
    await follow(follower, store=log, db=db, stop=asyncio.Event(), until_caught_up=True)  # type: ignore[arg-type]


def followers(services: Services) -> list[tuple[str, Callable[..., Follower]]]:
    settings, store = services.settings, services.store
    return [
        ("projector log", lambda db, _q: Projector(store, db)),
        (
            "notifier",
            lambda db, _q: NotificationOutbox(
                store, db, public_url=settings.effective_public_url, recipients=settings.notify_to
            ),
        ),
        ("confirmations", lambda db, _q: ConfirmationRequests(store, db, services.queue)),
        ("fan-out", lambda db, queue: DecisionFanout(store, db, queue)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--per-body", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--from-log", action="store_true", help="no inline projection (HELIOS_PROJECT_FROM_LOG)"
    )
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith("HELIOS_")]:
        del os.environ[name]  # the embedded default as shipped
    if args.from_log:
        os.environ["HELIOS_PROJECT_FROM_LOG"] = "true"
    os.environ["HELIOS_LOG_LEVEL"] = "warning"
    configure_logging(log_format="json", level="warning")
    load = os.getloadavg()[0]
    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="helios-bench-stages-") as tmp:
            rounds.append(asyncio.run(one_round(args, Path(tmp))))
    per = 10_000 / args.alerts
    print(
        f"{args.alerts} alerts in {args.alerts // args.per_body} bodies, {args.rounds} round(s),"
        f" medians; load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"  {'stage':<16} {'CPU s/10k':>9} {'us/alert':>9}")
    total = 0.0
    for stage in rounds[0]:
        seconds = statistics.median(r[stage] for r in rounds) * per
        # Projected inline, the log's pages are not the worker's to project (a rebuild's).
        left_out = stage == "enqueue" or (stage == "projector log" and not args.from_log)
        total += 0.0 if left_out else seconds
        print(f"  {stage:<16} {seconds:>9.2f} {seconds * 100:>9.0f}")
    left = "enqueue" if args.from_log else "enqueue, projector log"
    print(f"  {'worker total':<16} {total:>9.2f} {total * 100:>9.0f}  (all but {left})")


if __name__ == "__main__":
    main()
