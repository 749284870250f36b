"""The analytics worker end to end: traffic through ingest and the fan-out, decisions into
the analytics store, documents published to the read models for the API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
import orjson
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
from helios.ports.analytics import AnalyticsStore
from helios.ports.queue import Queue

START = 1_700_000_000_000
ALL_FACTS = "SELECT * FROM facts ORDER BY position"


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


async def _record_and_fan_out(services: Services, count: int) -> Any:
    envelopes = TrafficGenerator(tenant="acme", start=START, seed=5).envelopes(count)
    await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
    await drain(services)
    db = open_read_models(services.settings.effective_read_models_url)
    return db


async def _fan_out(services: Services, db: Any, queue: Queue) -> None:
    await catch_up(DecisionFanout(services.store, db, queue), services, db)


async def _consume(worker: AnalyticsWorker, queue: Queue) -> None:
    while await queue.depth() > 0:
        await worker.step()
    await worker.publish()


def _worker(services: Services, queue: Queue, store: AnalyticsStore, db: Any) -> AnalyticsWorker:
    return AnalyticsWorker(
        queue=queue,
        analytics=store,
        db=db,
        log=services.store,
        wait_s=0.05,
        clock=lambda: START + 3 * 24 * 3600 * 1000,
    )


def test_every_decision_is_loaded_once_and_a_redelivery_changes_nothing(tmp_path: Path) -> None:
    """Facts equal a rebuild from the log; every message sent again adds no fact."""

    async def run() -> None:
        async with open_services(_settings(tmp_path)) as services:
            db = await _record_and_fan_out(services, 300)
            async with open_queue(services.settings, services.blobs, name=ANALYTICS_QUEUE) as q:
                await _fan_out(services, db, q)
                store = DuckDbAnalytics(tmp_path / "analytics.duckdb")
                worker = _worker(services, q, store, db)
                await _consume(worker, q)
                loaded = store.query(ALL_FACTS)
                kinds = {row[2] for row in loaded}
                assert {"signal", "triggered", "scored", "notified", "resolved"} <= kinds
                assert store.loaded_through() == max(row[0] for row in loaded)

                # The fan-out runs again from the start, its messages without queue-level
                # deduplication: the worker receives every decision a second time.
                sent: list[Any] = []
                original = q.send

                async def send_undeduplicated(messages: Any) -> None:
                    again = [attrs.evolve(m, deduplication_id=None) for m in messages]
                    sent.extend(again)
                    await original(again)

                q.send = send_undeduplicated  # type: ignore[method-assign]
                db.query("DELETE FROM follower_positions WHERE follower = 'fanout'")
                await _fan_out(services, db, q)
                assert len(sent) >= len(loaded)
                await _consume(worker, q)
                assert store.query(ALL_FACTS) == loaded

                rebuilt = DuckDbAnalytics(":memory:")
                rebuild_analytics(services.store, rebuilt, db, page_size=97)
                assert rebuilt.query(ALL_FACTS) == loaded
                store.close()
            db.close()

    asyncio.run(run())


def test_the_worker_publishes_the_overview_the_api_reads(tmp_path: Path) -> None:
    """The published overview counts the tenant's signals and alerts as the facts do."""

    async def run() -> None:
        async with open_services(_settings(tmp_path)) as services:
            db = await _record_and_fan_out(services, 300)
            async with open_queue(services.settings, services.blobs, name=ANALYTICS_QUEUE) as q:
                await _fan_out(services, db, q)
                store = DuckDbAnalytics(":memory:")
                await _consume(_worker(services, q, store, db), q)
                signals = store.query("SELECT count(*) FROM facts WHERE kind = 'signal'")[0][0]
                alerts = store.query(
                    "SELECT count(*) FROM facts WHERE kind IN ('triggered', 'reopened')"
                )[0][0]
            published = insights.document(db, tenant="acme", name="overview")
            assert published is not None
            body = orjson.loads(published.body)
            assert body["totals"]["signals"] == signals > 0
            assert body["totals"]["alerts"] == alerts > 0
            assert {row["value"] for row in body["by"]["source"]} >= {"alertmanager"}
            assert published.loaded_through == store.loaded_through()
            for name in ("trends", "suggestions"):
                assert insights.document(db, tenant="acme", name=name) is not None
            assert insights.document(db, tenant="other", name="overview") is None
            db.close()

    asyncio.run(run())


def test_the_worker_loads_as_many_decisions_at_a_time_as_its_batch_says(tmp_path: Path) -> None:
    """One DuckDB insert per receive: a larger batch (2,000 by default) pays its fixed cost
    fewer times while the worker catches up after a burst."""

    async def run() -> None:
        async with open_services(_settings(tmp_path)) as services:
            db = await _record_and_fan_out(services, 300)
            async with open_queue(services.settings, services.blobs, name=ANALYTICS_QUEUE) as q:
                await _fan_out(services, db, q)
                waiting = await q.depth()
                assert waiting > 600
                store = DuckDbAnalytics(tmp_path / "analytics.duckdb")
                taken = await AnalyticsWorker(
                    queue=q, analytics=store, db=db, log=services.store, wait_s=0.05, batch=600
                ).step()
                assert taken == 600
                assert Settings.from_env({}).analytics_batch == 2_000
                store.close()
            db.close()

    asyncio.run(run())
