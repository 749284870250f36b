"""The analytics worker at rest: once caught up and idle it closes its DuckDB file, giving its
buffers back, publishes nothing that would come out the same, and opens the file again for the
next decisions, losing none of them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from workers import catch_up, drain

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.application.analytics.rebuild import rebuild_analytics
from helios.apps.application.envelopes import envelope_message
from helios.apps.composition import Services, open_queue, open_read_models, open_services
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.settings import Settings
from helios.apps.views import insights
from helios.apps.workers.analytics import AnalyticsWorker
from helios.apps.workers.fanout import DecisionFanout
from helios.apps.workers.runtime import ANALYTICS_QUEUE
from helios.domain.values import Envelope
from helios.ports.queue import Queue

START = 1_700_000_000_000
ALL_FACTS = "SELECT * FROM facts ORDER BY position"


class _Counted(DuckDbAnalytics):
    """The DuckDB store, counting how often the worker asks how far it has loaded."""

    asked = 0

    def loaded_through(self) -> int:
        self.asked += 1
        return super().loaded_through()


async def _decide_and_fan_out(
    services: Services, db: Any, queue: Queue, envelopes: list[Envelope]
) -> None:
    await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
    await drain(services)
    await catch_up(DecisionFanout(services.store, db, queue), services, db)


async def _until(condition: Any, *, within_s: float = 20.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():
            await asyncio.sleep(0.02)


def test_an_idle_worker_closes_its_store_and_opens_it_again_for_new_decisions(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with open_services(Settings(data_dir=tmp_path / "data")) as services:
            envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=5).envelopes(200))
            db = open_read_models(services.settings.effective_read_models_url)
            async with open_queue(services.settings, services.blobs, name=ANALYTICS_QUEUE) as q:
                await _decide_and_fan_out(services, db, q, envelopes[:100])
                store = _Counted(tmp_path / "analytics.duckdb")
                worker = AnalyticsWorker(
                    queue=q,
                    analytics=store,
                    db=db,
                    log=services.store,
                    wait_s=0.02,
                    publish_s=3600,
                    release_s=0.3,
                )
                stop = asyncio.Event()
                running = asyncio.create_task(worker.run(stop))
                try:
                    await _until(lambda: worker.loaded > 0 and store.released)
                    first = worker.loaded
                    asked = store.asked
                    await asyncio.sleep(0.5)  # idle, nothing new: nothing to publish again
                    assert store.released
                    assert store.asked == asked

                    await _decide_and_fan_out(services, db, q, envelopes[100:])
                    await _until(lambda: worker.loaded > first and store.released)
                finally:
                    stop.set()
                    await running
                loaded = store.query(ALL_FACTS)
                store.close()
            rebuilt = DuckDbAnalytics(":memory:")
            rebuild_analytics(services.store, rebuilt, db, page_size=97)
            assert loaded == rebuilt.query(ALL_FACTS)
            assert len(loaded) == worker.loaded
            db.close()

    asyncio.run(run())


def test_a_publication_due_after_the_store_was_closed_opens_it_and_counts_every_fact(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with open_services(Settings(data_dir=tmp_path / "data")) as services:
            envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=5).envelopes(80))
            db = open_read_models(services.settings.effective_read_models_url)
            async with open_queue(services.settings, services.blobs, name=ANALYTICS_QUEUE) as q:
                await _decide_and_fan_out(services, db, q, envelopes)
                store = DuckDbAnalytics(tmp_path / "analytics.duckdb")
                worker = AnalyticsWorker(
                    queue=q,
                    analytics=store,
                    db=db,
                    log=services.store,
                    wait_s=0.02,
                    publish_s=3600,
                    release_s=0.2,
                )
                # As after a burst: it published a moment ago and that took 1 s, so the next
                # publication waits 3 s, more than the store stays open once idle.
                worker._published_at = time.monotonic()
                worker._publish_took = 1.0
                stop = asyncio.Event()
                running = asyncio.create_task(worker.run(stop))
                try:
                    await _until(lambda: worker.loaded > 0 and store.released)
                    assert insights.document(db, tenant="acme", name="overview") is None
                    await _until(
                        lambda: (
                            insights.document(db, tenant="acme", name="overview") is not None
                            and store.released
                        )
                    )
                finally:
                    stop.set()
                    await running
                published = insights.document(db, tenant="acme", name="overview")
                assert published is not None
                assert published.loaded_through == store.loaded_through() > 0
                store.close()
            db.close()

    asyncio.run(run())


def test_a_worker_told_to_keep_its_store_open_never_closes_it(tmp_path: Path) -> None:
    async def run() -> None:
        async with open_services(Settings(data_dir=tmp_path / "data")) as services:
            envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=5).envelopes(50))
            db = open_read_models(services.settings.effective_read_models_url)
            async with open_queue(services.settings, services.blobs, name=ANALYTICS_QUEUE) as q:
                await _decide_and_fan_out(services, db, q, envelopes)
                store = DuckDbAnalytics(tmp_path / "analytics.duckdb")
                worker = AnalyticsWorker(
                    queue=q, analytics=store, db=db, log=services.store, wait_s=0.02, release_s=0
                )
                stop = asyncio.Event()
                running = asyncio.create_task(worker.run(stop))
                await _until(lambda: worker.loaded > 0)
                await asyncio.sleep(0.5)
                stop.set()
                await running
                assert not store.released
                store.close()
            db.close()

    asyncio.run(run())


def test_the_release_setting_defaults_to_ten_seconds_and_reads_the_environment() -> None:
    assert Settings.from_env({}).analytics_release_s == 10.0
    assert Settings.from_env({"HELIOS_ANALYTICS_RELEASE_S": "0"}).analytics_release_s == 0.0
