"""Analytics never touches the core: with its store unopenable, ingest, decisions and
notifications are what they are with analytics healthy; once it can open its store, the
backlog drains and the facts equal a run that never stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
from workers import outcome

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.adapters.memory.mailer import InMemoryMailer
from helios.apps.application.analytics.rebuild import rebuild_analytics
from helios.apps.application.envelopes import envelope_message
from helios.apps.composition import Services, open_queue, open_read_models, open_services
from helios.apps.embedded.runner import run_everything
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.settings import Settings
from helios.apps.views.positions import committed_position
from helios.apps.workers.analytics import run_analytics
from helios.apps.workers.runtime import ANALYTICS_QUEUE

START = 1_700_000_000_000
ALL_FACTS = "SELECT * FROM facts ORDER BY position"


def _settings(data_dir: Path, analytics_path: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        analytics_path=str(analytics_path),
        follower_poll_s=0.05,
        worker_wait_s=0.2,
        tick_interval_s=3600,
    )


async def _until(check: Any, timeout_s: float = 90) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.1)


async def _core_run(settings: Settings) -> tuple[Any, list[str], int]:
    """Everything ``helios up`` runs (no API) until the traffic is decided and notified;
    returns the decisions, the subjects mailed and the analytics backlog."""
    envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=11).envelopes(300))
    mailer = InMemoryMailer()
    async with open_services(settings) as services:
        db = open_read_models(settings.effective_read_models_url)
        stop = asyncio.Event()
        running = asyncio.create_task(run_everything(services, stop, api=False, mailer=mailer))
        await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])

        async def settled() -> bool:
            end = services.store.max_position()
            followers = [committed_position(db, name) for name in ("fanout", "notifier")]
            pending = db.query("SELECT count(*) FROM notification_outbox WHERE status = 'pending'")[
                0
            ][0]
            return await services.queue.depth() == 0 and followers == [end] * 2 and not pending

        await _until(settled)
        stop.set()
        await running
        async with open_queue(settings, services.blobs, name=ANALYTICS_QUEUE) as analytics:
            backlog = await analytics.depth()
        db.close()
        # Notifications only: the weekly report analytics mails is its own output, not the core's.
        notified = sorted(m.subject for m in mailer.sent if not m.message_id.startswith("report-"))
        return outcome(services.store), notified, backlog


def test_a_broken_analytics_store_changes_nothing_in_the_core_and_its_backlog_drains_after(
    tmp_path: Path,
) -> None:
    healthy = _settings(tmp_path / "healthy", tmp_path / "healthy" / "analytics.duckdb")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the analytics store's directory should be")
    broken = _settings(tmp_path / "broken", blocker / "analytics.duckdb")

    decided, mailed, _ = asyncio.run(_core_run(healthy))
    decided_broken, mailed_broken, backlog = asyncio.run(_core_run(broken))

    assert decided_broken == decided
    assert mailed_broken == mailed
    assert mailed
    assert backlog > 0  # every decision waits on the queue for analytics

    async def restart() -> None:
        fixed = attrs.evolve(broken, analytics_path=str(tmp_path / "fixed.duckdb"))
        async with open_services(fixed) as services:
            stop = asyncio.Event()
            running = asyncio.create_task(run_analytics(services, stop))
            async with open_queue(fixed, services.blobs, name=ANALYTICS_QUEUE) as queue:
                await _until(_empty(queue, services))
            stop.set()
            await running
            store = DuckDbAnalytics(tmp_path / "fixed.duckdb")
            never_stopped = DuckDbAnalytics(":memory:")
            db = open_read_models(fixed.effective_read_models_url)
            rebuild_analytics(services.store, never_stopped, db)
            assert store.query(ALL_FACTS) == never_stopped.query(ALL_FACTS)
            assert store.query("SELECT count(*) FROM facts")[0][0] > 0
            db.close()
            store.close()

    asyncio.run(restart())


def _empty(queue: Any, services: Services) -> Any:
    async def check() -> bool:
        return bool(await queue.depth() == 0)

    return check
