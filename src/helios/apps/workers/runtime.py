"""Running the workers from ``Services``: what ``helios worker``, ``scheduler`` and ``up`` share."""

from __future__ import annotations

import asyncio
import functools
import signal
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack

import anyio.to_thread
import structlog

from helios.apps.application.ingest import Snapshotting
from helios.apps.composition import (
    Services,
    observe_appends,
    open_checkpointer,
    open_fetcher,
    open_mailer,
    open_queue,
    open_read_models,
    shared_log,
)
from helios.apps.views.positions import committed_position
from helios.apps.views.projector import FOLLOWER as PROJECTOR
from helios.apps.views.projector import Projector
from helios.apps.workers.fanout import DecisionFanout
from helios.apps.workers.followers import (
    LEAD_WAIT_S,
    Appended,
    Lead,
    LeadElsewhere,
    LeadItself,
    LeadWait,
    QueueDrained,
    follow,
)
from helios.apps.workers.ingest import Committed, IngestWorker
from helios.apps.workers.notifier import Dispatcher, NotificationOutbox
from helios.apps.workers.scheduler import Scheduler
from helios.apps.workers.subscriptions import ConfirmationRequests, SubscriptionConfirmer
from helios.apps.workers.trim import IdleTrim, release_freed_memory
from helios.ports.event_store import LogEntry
from helios.ports.http import HttpAnswer, HttpFetcher
from helios.ports.mailer import Mailer
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

ANALYTICS_QUEUE = "analytics"
TRIM_EVERY_S = 30.0
INLINE_WAIT_S = 30.0
"""The longest the projector's follower waits for the ingest queue to be drained when the
worker's batches are projected inline (what others appended waits that long at most)."""
"""The least time between two trims of the worker's memory (each collects the whole heap)."""


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set ``stop``: work in flight drains, then the process exits."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


async def read_models(services: Services) -> ReadModels:
    """A new connection to the read-model database named by the settings.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    url = services.settings.effective_read_models_url
    return await anyio.to_thread.run_sync(open_read_models, url)


def ingest_worker(
    services: Services,
    *,
    on_committed: Committed | None = None,
    fetcher: HttpFetcher | None = None,
) -> IngestWorker:
    """The ingest worker of the settings; ``fetcher`` visits SNS subscription URLs (HTTPS
    with the system's CAs by default, made at the first URL to visit)."""
    settings = services.settings
    if fetcher is None:
        fetcher = FetcherWhenNeeded(open_fetcher)
    return IngestWorker(
        queue=services.queue,
        store=services.store,
        concurrency=settings.worker_concurrency,
        batch=settings.worker_batch,
        wait_s=settings.worker_wait_s,
        visibility_s=settings.worker_visibility_s,
        snapshotting=Snapshotting(every=settings.snapshot_every),
        state_cache=settings.state_cache,
        batch_bytes=settings.worker_batch_bytes,
        on_committed=on_committed,
        confirmer=SubscriptionConfirmer(services.store, fetcher),
    )


class FetcherWhenNeeded:
    """An ``HttpFetcher`` made by ``make`` at the first URL to visit, then kept.

    Most ingest workers never see an SNS subscription: making the HTTPS client (importing it,
    loading the system's CAs) costs about 0.2 s of CPU and its memory, which a worker would
    otherwise pay at every start.
    """

    def __init__(self, make: Callable[[], HttpFetcher]) -> None:
        self._make = make
        self._fetcher: HttpFetcher | None = None

    async def get(self, url: str, *, timeout_s: float, max_bytes: int) -> HttpAnswer:
        """The made fetcher's ``get``.

        Raises:
            FetchUnavailable: as the made fetcher's ``get``.
        """
        if self._fetcher is None:
            self._fetcher = self._make()
        return await self._fetcher.get(url, timeout_s=timeout_s, max_bytes=max_bytes)


async def run_followers(
    services: Services,
    stop: asyncio.Event,
    *,
    mailer: Mailer | None = None,
    fanout: bool = True,
    appended: Appended | None = None,
    projector: bool = True,
) -> None:
    """Projector, notifier (outbox + dispatcher), SNS confirmation requests and fan-out until
    ``stop`` is set; freed memory is given back once they have all been caught up for
    ``HELIOS_IDLE_TRIM_S``. ``appended``: the commits of an ingest worker in this process,
    which wake the followers waiting for more.

    The projector leads: the others let it catch up with the log before each of their pages
    (``Lead``), so that a burst's alerts are listed before the CPU goes to what can lag.
    Without ``projector`` (it runs in a process of its own, ``run_projector``), they ask the
    read models how far it is instead (``LeadElsewhere``).
    """
    settings = services.settings
    poll = settings.follower_poll_s
    kept = settings.follower_cache
    # An entry read and decoded once serves every follower below.
    log = shared_log(services.store, entries=settings.follower_window)
    # Every decision the ingest worker commits reaches the followers as a page: when no
    # follower has had a page for a while, this process as a whole has gone quiet.
    release = functools.partial(_release, log)
    idle = IdleTrim(quiet_s=settings.idle_trim_s, every_s=TRIM_EVERY_S, release=release)
    worked = idle.worked
    inline = projector and not settings.project_from_log
    lead, projector_waits = _leads(services, inline=inline and appended is not None)
    each = functools.partial(
        follow, store=log, stop=stop, poll_s=poll, on_page=worked, appended=appended
    )
    async with AsyncExitStack() as stack:
        projector_db = await read_models(services)
        stack.callback(projector_db.close)
        ahead: LeadWait = lead if projector else _projector_elsewhere(services, projector_db)
        behind = functools.partial(each, after_lead=ahead)
        notifier_db = await read_models(services)
        stack.callback(notifier_db.close)
        dispatcher_db = await read_models(services)
        stack.callback(dispatcher_db.close)
        outbox = NotificationOutbox(
            services.store,
            notifier_db,
            public_url=settings.effective_public_url,
            recipients=settings.notify_to,
            kept=kept,
        )
        dispatcher = Dispatcher(
            dispatcher_db, mailer or open_mailer(settings), sender=settings.smtp_from
        )
        confirmations_db = await read_models(services)
        stack.callback(confirmations_db.close)
        tasks = [
            behind(outbox, db=notifier_db),
            dispatcher.run(stop, poll_s=poll),
            behind(
                ConfirmationRequests(services.store, confirmations_db, services.queue),
                db=confirmations_db,
            ),
            idle.run(stop),
        ]
        if fanout:
            analytics = await stack.enter_async_context(
                open_queue(settings, services.blobs, name=ANALYTICS_QUEUE)
            )
            fanout_db = await read_models(services)
            stack.callback(fanout_db.close)
            decisions = DecisionFanout(services.store, fanout_db, analytics, kept=kept)
            tasks.append(behind(decisions, db=fanout_db))
        if projector:
            projecting = Projector(services.store, projector_db, kept=kept)
            if inline:
                stop_inline = observe_appends(services.store, _inline(projecting, projector_waits))
                if stop_inline is not None:
                    stack.callback(stop_inline)
            tasks.append(each(projecting, db=projector_db, leads=lead, after_lead=projector_waits))
        await asyncio.gather(*tasks)


def _leads(services: Services, *, inline: bool) -> tuple[Lead, LeadItself | None]:
    """The projector's ``Lead`` for the others, and what it waits on itself. Projected
    ``inline`` (with the ingest worker in this process), the projector is current after every
    batch, and the worker goes first while its queue holds a burst: the others wait for the
    queue to be drained (a second at most per page, as for the lead), and so does the
    projector's own follower once caught up (``LeadItself``)."""
    if not inline:
        return Lead(), None
    depth = services.queue.depth
    lead = Lead(drained=QueueDrained(depth, most_s=LEAD_WAIT_S))
    return lead, LeadItself(lead, QueueDrained(depth, most_s=INLINE_WAIT_S))


def _inline(
    projector: Projector, itself: LeadItself | None
) -> Callable[[Sequence[LogEntry], int], None]:
    """What projects each batch this process appends as it commits (``Projector.appended``):
    the read models are current before the worker takes its next batch, without the
    follower reading and decoding the log. Whatever it does not project (a failure, or the
    position elsewhere) the follower reads from the log as before, told so at once."""

    def appended(entries: Sequence[LogEntry], before: int) -> None:
        try:
            projected = projector.appended(entries, before=before)
        except Exception as error:  # the batch is committed: never fail the append for this
            _log.warning("projector.inline_skipped", error=repr(error), before=before)
            projected = False
        if not projected and itself is not None:
            itself.left_to_follower()

    return appended


def _projector_elsewhere(services: Services, db: ReadModels) -> LeadElsewhere:
    """The projector of another process, caught up once its committed position is the log's
    last (the last entry of every append is a domain event, which it reaches)."""

    def caught_up() -> bool:
        return committed_position(db, PROJECTOR) >= services.store.max_position()

    return LeadElsewhere(caught_up)


async def run_projector(services: Services, stop: asyncio.Event) -> None:
    """The projector alone until ``stop`` is set: ``helios up``'s projector child
    (``HELIOS_UP_PROJECTOR_CHILD``), the read models on a core of their own."""
    settings = services.settings
    db = await read_models(services)
    try:
        await follow(
            Projector(services.store, db, kept=settings.follower_cache),
            store=services.store,
            db=db,
            stop=stop,
            poll_s=settings.follower_poll_s,
        )
    finally:
        db.close()


def _release(log: object) -> dict[str, object]:
    """What a quiet worker gives back: the shared window of entries every follower has read
    (``forget``, when the log keeps one), then Python's and the allocator's free memory."""
    return release_freed_memory(first=getattr(log, "forget", None))


async def keep_checkpointed(services: Services, stop: asyncio.Event) -> None:
    """Checkpoint the store's and read models' SQLite WALs from a thread of their own until
    ``stop`` is set (``sqlite_checkpoints``): the worker's commits, which wrote most of them,
    no longer copy and sync them. Nothing to do on PostgreSQL."""
    checkpointer = open_checkpointer(services.settings)
    if checkpointer is None:
        return
    checkpointer.start()
    try:
        await stop.wait()
    finally:
        await anyio.to_thread.run_sync(checkpointer.stop)


async def run_scheduler(services: Services, stop: asyncio.Event) -> None:
    """Ticks and periodic jobs until ``stop`` is set."""
    db = await read_models(services)
    try:
        await Scheduler(
            queue=services.queue, db=db, interval_s=services.settings.tick_interval_s
        ).run(stop)
    finally:
        db.close()
