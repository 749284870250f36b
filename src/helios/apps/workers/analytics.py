"""The analytics worker: decisions from the analytics queue into the analytics store, and
what the API shows published to the read models.

Decoupled from the core: the fan-out only puts decisions on a queue, so a stopped, slow or
failing analytics worker never delays ingest, decisions or notifications; its backlog waits
on the queue (four days on SQS) and drains when it runs again. Facts are keyed by log
position, so a redelivered message, or a rebuild over what was loaded, changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import anyio.to_thread
import attrs
import structlog

from helios.apps.application.analytics import queries
from helios.apps.application.analytics.facts import BadDecision, fact_from_message
from helios.apps.application.analytics.publishing import publish_documents
from helios.apps.application.analytics.report import WeeklyReport
from helios.apps.application.analytics.reports import keep_due_reports, report_text
from helios.apps.composition import Services, open_analytics_store, open_mailer, open_queue
from helios.apps.observability import AnalyticsMetrics
from helios.apps.views.positions import committed_position
from helios.apps.workers.fanout import FOLLOWER as FANOUT
from helios.apps.workers.followers import backoff_delay, wait_or_stop
from helios.apps.workers.runtime import ANALYTICS_QUEUE, read_models
from helios.ports.analytics import AnalyticsStore, AnalyticsUnavailable, Fact
from helios.ports.event_store import EventStore, StoreUnavailable
from helios.ports.mailer import Mailer, MailerUnavailable, MailMessage, MailRejected
from helios.ports.queue import Queue, QueueUnavailable, ReceivedMessage
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

Clock = Callable[[], int]

REPORT_CHECK_S = 3600.0
"""How often the worker looks for a week without its report."""
WHAT_IF_EVERY_S = 3600.0
"""How often the best suggestions' what-ifs are replayed (each reads the log)."""


@attrs.frozen(kw_only=True)
class ReportMail:
    """Where the weekly reports go: the mailer, the sender, the subscribers."""

    mailer: Mailer
    sender: str
    recipients: tuple[str, ...]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class AnalyticsWorker:
    """Receive decisions, load them, delete them; publish touched tenants every
    ``publish_s`` (and whenever the queue runs dry)."""

    def __init__(
        self,
        *,
        queue: Queue,
        analytics: AnalyticsStore,
        db: ReadModels,
        log: EventStore,
        batch: int = 2_000,
        wait_s: float = 1.0,
        publish_s: float = 30.0,
        release_s: float = 10.0,
        metrics: AnalyticsMetrics | None = None,
        clock: Clock = wall_clock_ms,
        reports: ReportMail | None = None,
    ) -> None:
        self._queue = queue
        self._analytics = analytics
        self._db = db
        self._log_store = log
        self._batch = max(1, batch)
        self._wait_s = wait_s
        self._publish_s = publish_s
        self._release_s = release_s
        self._last_received = time.monotonic()
        self._through = 0
        self.metrics = metrics or AnalyticsMetrics()
        self._clock = clock
        self._touched: set[str] = set()
        self._published_at = 0.0
        self._publish_took = 0.0
        self._reports = reports
        self._reports_checked_at: float | None = None
        self._what_if_at: float | None = None
        self.loaded = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; back off while a store or the queue is down."""
        failures = 0
        while not stop.is_set():
            try:
                received = await self.step()
                if time.monotonic() - self._published_at >= self._publish_gap(received):
                    await self.publish()
                await self._release_when_idle(received)
                failures = 0
            except (AnalyticsUnavailable, StoreUnavailable, QueueUnavailable) as error:
                failures += 1
                delay = backoff_delay(failures)
                _log.warning("analytics.unavailable", error=str(error), retry_in_s=delay)
                await wait_or_stop(stop, delay)

    def _publish_gap(self, received: int) -> float:
        """Seconds to leave since the last publication. Busy: ``publish_s``. Idle with
        something loaded since: none, publish now. Idle with nothing new: ``publish_s`` too
        (only the lag metrics and the weekly reports' check are due; the documents would come
        out the same). Either way at least three publications' time apart, so that a large
        tenant's slow aggregation never takes more than a quarter of the worker's time."""
        fresh = not received and bool(self._touched)
        return max(0.0 if fresh else self._publish_s, 3 * self._publish_took)

    async def _release_when_idle(self, received: int) -> None:
        """Once nothing was received for ``release_s``, close the analytics store until it is
        next used (its memory goes back; a store that cannot release keeps it). A publication
        still due opens it again, for as long as it takes: after a burst that may be minutes
        away (three times the last one's duration), with nothing loaded meanwhile."""
        now = time.monotonic()
        if received:
            self._last_received = now
            return
        release = getattr(self._analytics, "release", None)
        if (
            release is None
            or self._release_s <= 0
            or now - self._last_received < self._release_s
            or getattr(self._analytics, "released", False)
        ):
            return
        await anyio.to_thread.run_sync(release)
        _log.info("analytics.released", idle_s=round(now - self._last_received, 1))

    async def step(self) -> int:
        """Receive one batch, load its facts, delete its messages; returns how many messages.

        Raises:
            AnalyticsUnavailable: the store cannot take them (they will be redelivered).
            QueueUnavailable: the queue cannot be reached.
        """
        messages = await self._queue.receive(
            max_messages=self._batch, wait_seconds=self._wait_s, visibility_timeout_s=120
        )
        if not messages:
            return 0
        facts = self._facts(messages)
        added = await anyio.to_thread.run_sync(self._analytics.load, facts)
        await self._queue.delete(messages)
        self.loaded += added
        self.metrics.loaded.inc(amount=added)
        self._touched.update(fact.tenant for fact in facts if fact.tenant)
        return len(messages)

    async def publish(self) -> None:
        """Publish the touched tenants' documents and update the lag metrics.

        Raises:
            AnalyticsUnavailable: the analytics store cannot be read.
            StoreUnavailable: the read models or the log cannot be reached.
        """
        self._published_at = time.monotonic()
        tenants = sorted(self._touched)
        started = time.perf_counter()
        head = await anyio.to_thread.run_sync(self._log_store.max_position)
        fanned = await anyio.to_thread.run_sync(committed_position, self._db, FANOUT)
        depth = await self._queue.depth()
        # What-ifs and reports wait until every decision so far is loaded: a report is made
        # once per week, and a what-if compares against the pages counted here.
        caught_up = depth == 0 and fanned >= head
        if tenants:
            now = self._clock()
            # What-ifs replay the log: at most every WHAT_IF_EVERY_S, in between kept as is.
            replay = caught_up and (
                self._what_if_at is None or started - self._what_if_at >= WHAT_IF_EVERY_S
            )
            if replay:
                self._what_if_at = started
            log = self._log_store if replay else None
            await anyio.to_thread.run_sync(
                lambda: publish_documents(
                    self._analytics, self._db, tenants=tenants, now=now, log=log
                )
            )
            self._touched.difference_update(tenants)
            self._publish_took = time.perf_counter() - started
            self.metrics.publish_latency.observe(self._publish_took)
        if tenants or not getattr(self._analytics, "released", False):
            # A released store has loaded nothing since: what it said then still holds, and
            # asking would open its file again.
            self._through = await anyio.to_thread.run_sync(self._analytics.loaded_through)
        through = self._through
        self.metrics.lag_positions.set(max(0, head - through))
        self.metrics.queue_depth.set(depth)
        if caught_up:
            await self._weekly_reports()
        if tenants:
            _log.info(
                "analytics.published",
                tenants=len(tenants),
                loaded_through=through,
                lag_positions=max(0, head - through),
                queue_depth=depth,
                caught_up=caught_up,
            )

    async def _weekly_reports(self) -> None:
        """Keep each tenant's report of the last full week (checked every
        ``REPORT_CHECK_S``) and mail the ones made now to the subscribers."""
        mail = self._reports
        now = time.monotonic()
        if mail is None or (
            self._reports_checked_at is not None and now - self._reports_checked_at < REPORT_CHECK_S
        ):
            return
        self._reports_checked_at = now
        at = self._clock()

        def keep() -> list[WeeklyReport]:
            tenants = queries.tenants(self._analytics)
            return keep_due_reports(
                self._analytics, self._db, self._log_store, tenants=tenants, at=at
            )

        for report in await anyio.to_thread.run_sync(keep):
            message = MailMessage(
                message_id=f"report-{report.tenant}-{report.report_id}@helios",
                sender=mail.sender,
                recipients=mail.recipients,
                subject=f"[Helios] weekly report {report.report_id}: "
                f"{report.summary['pages']} pages",
                text=report_text(report),
                html=report.html,
            )
            try:
                await mail.mailer.send(message)
            except (MailerUnavailable, MailRejected) as error:
                # The report stays listed in the API; only this email is lost.
                _log.warning("analytics.report_not_sent", report=report.report_id, error=str(error))
                continue
            _log.info("analytics.report_sent", tenant=report.tenant, report=report.report_id)

    def touch(self, tenants: Sequence[str]) -> None:
        """Publish these tenants at the next publication (after a rebuild, at start)."""
        self._touched.update(tenants)

    @staticmethod
    def _facts(messages: Sequence[ReceivedMessage]) -> list[Fact]:
        facts = []
        for message in messages:
            try:
                fact = fact_from_message(message.body)
            except BadDecision as error:
                # Deleted with the batch: a body no version of the fan-out sends will never
                # become readable by waiting.
                _log.error("analytics.bad_message", message_id=message.message_id, error=str(error))
                continue
            if fact is not None:
                facts.append(fact)
        return facts


async def run_analytics(
    services: Services,
    stop: asyncio.Event,
    *,
    metrics: AnalyticsMetrics | None = None,
    mailer: Mailer | None = None,
) -> AnalyticsWorker | None:
    """The analytics worker of the settings until ``stop`` is set: what ``helios analytics``
    runs, and what a supervisor starts beside ``helios up``'s other workers. Weekly reports
    are mailed through ``mailer`` (default: the settings' SMTP relay, or the log) to
    ``HELIOS_NOTIFY_TO``.

    Waits (with backoff) while the analytics store cannot be opened, e.g. held by another
    process or on an unwritable disk: the core goes on meanwhile. Returns the worker (None
    when stopped before the store could be opened).
    """
    settings = services.settings
    analytics = await _open_store(services, stop)
    if analytics is None:
        return None
    try:
        db = await read_models(services)
        try:
            async with open_queue(settings, services.blobs, name=ANALYTICS_QUEUE) as queue:
                worker = AnalyticsWorker(
                    queue=queue,
                    analytics=analytics,
                    db=db,
                    log=services.store,
                    batch=settings.analytics_batch,
                    wait_s=min(settings.worker_wait_s, 1.0),
                    publish_s=settings.analytics_publish_s,
                    release_s=settings.analytics_release_s,
                    metrics=metrics,
                    reports=ReportMail(
                        mailer=mailer or open_mailer(settings),
                        sender=settings.smtp_from,
                        recipients=tuple(
                            r.strip() for r in settings.notify_to.split(",") if r.strip()
                        ),
                    ),
                )
                # Publish every tenant once at start: documents follow the code that made them.
                worker.touch(await anyio.to_thread.run_sync(queries.tenants, analytics))
                _log.info("analytics.started", path=str(settings.effective_analytics_path))
                await worker.run(stop)
                _log.info("analytics.stopped", loaded=worker.loaded)
                return worker
        finally:
            db.close()
    finally:
        analytics.close()


async def _open_store(services: Services, stop: asyncio.Event) -> AnalyticsStore | None:
    failures = 0
    while not stop.is_set():
        try:
            return await anyio.to_thread.run_sync(open_analytics_store, services.settings)
        except AnalyticsUnavailable as error:
            failures += 1
            delay = backoff_delay(failures, cap_s=30.0)
            _log.warning("analytics.store_unavailable", error=str(error), retry_in_s=delay)
            await wait_or_stop(stop, delay)
    return None
