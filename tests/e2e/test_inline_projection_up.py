"""``helios up``'s worker side projects the batches it decides inline: every alert is listed
with the rows a rebuild from the log gives, the projector's follower read none of the
worker's batches back from the log, and every email is still queued after the burst."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from workers import settle

from helios.apps.application.envelopes import envelope_message
from helios.apps.composition import open_read_models, open_services
from helios.apps.embedded.runner import run_workers
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.settings import Settings
from helios.apps.views import projector as projection
from helios.apps.views.schema import REBUILT_TABLES
from helios.ports.event_store import LogEntry
from helios.ports.read_models import ReadModels

START = 1_700_000_000_000


def _tables(db: ReadModels) -> dict[str, list[Any]]:
    return {table: sorted(db.query(f"SELECT * FROM {table}"), key=repr) for table in REBUILT_TABLES}


@pytest.mark.parametrize("consumers", [1, 2])
def test_the_worker_s_batches_are_listed_as_a_rebuild_lists_them_without_a_log_read(
    tmp_path: Path, monkeypatch: Any, consumers: int
) -> None:
    """With two consumers, batches commit and reach the inline path in either order: those
    it leaves behind, the follower projects (read from the log), as a rebuild would."""
    settings = Settings(
        data_dir=tmp_path / "data",
        follower_poll_s=0.1,
        worker_concurrency=consumers,
        worker_batch=40 if consumers > 1 else 500,
    )
    envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=13).envelopes(300))
    from_log: list[int] = []
    apply = projection.Projector.apply

    def counted(self: projection.Projector, page: list[LogEntry], *, after: int) -> None:
        from_log.extend(e.position for e in page if e.name.startswith("helios.alert."))
        apply(self, page, after=after)

    monkeypatch.setattr(projection.Projector, "apply", counted)

    async def run() -> tuple[dict[str, list[Any]], int, int]:
        stop = asyncio.Event()
        async with open_services(settings) as worker:
            task = asyncio.create_task(run_workers(worker, stop))
            await worker.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
            db = open_read_models(settings.effective_read_models_url)
            try:
                requested = await settle(worker, db)
                queued = int(db.query("SELECT COUNT(*) FROM notification_outbox")[0][0])
                live = _tables(db)
            finally:
                db.close()
            stop.set()
            await task
            return live, requested, queued

    live, requested, queued = asyncio.run(run())
    assert live["alerts"] and requested and queued == requested
    if consumers == 1:
        assert from_log == []
    monkeypatch.setattr(projection.Projector, "apply", apply)
    db = open_read_models(settings.effective_read_models_url)
    store_settings = settings

    async def rebuilt() -> dict[str, list[Any]]:
        async with open_services(store_settings) as services:
            projector = projection.Projector(services.store, db)
            projector.reset()
            projector.apply(services.store.read_log(0, 1_000_000), after=0)
            return _tables(db)

    try:
        assert asyncio.run(rebuilt()) == live
    finally:
        db.close()
