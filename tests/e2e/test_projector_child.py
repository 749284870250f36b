"""``helios up`` with ``HELIOS_UP_PROJECTOR_CHILD``: the projector runs beside the worker (here
on services of its own, as its child process has), every alert is listed, and the followers
left in the worker — which let the projector go first — still write every notification."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import attrs
from workers import outcome, settle

from helios.apps.application.envelopes import envelope_message
from helios.apps.cli.up import children
from helios.apps.composition import open_read_models, open_services
from helios.apps.embedded.runner import run_workers
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.settings import Settings
from helios.apps.workers.runtime import run_projector

START = 1_700_000_000_000


def test_the_projector_has_a_child_of_its_own_only_when_the_setting_asks(tmp_path: Path) -> None:
    args = argparse.Namespace(no_api=False)
    plain = Settings(data_dir=tmp_path)
    assert [c.name for c in children(args, plain)] == ["api", "worker"]
    split = attrs.evolve(plain, up_projector_child=True)
    assert [c.name for c in children(args, split)] == ["api", "worker", "projector"]
    assert children(args, split)[-1].argv[-2:] == ("--child", "projector")


def test_a_projector_beside_the_worker_lists_every_alert_and_every_email_is_queued(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", up_projector_child=True, follower_poll_s=0.1)
    envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=11).envelopes(300))

    async def run() -> tuple[dict[str, str], int, int]:
        stop = asyncio.Event()
        async with open_services(settings) as worker, open_services(settings) as projector:
            tasks = [
                asyncio.create_task(run_workers(worker, stop)),
                asyncio.create_task(run_projector(projector, stop)),
            ]
            await worker.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
            db = open_read_models(settings.effective_read_models_url)
            try:
                requested = await settle(worker, db)
                rows = dict(db.query("SELECT dedup_key, status FROM alerts WHERE status <> 'none'"))
                queued = int(db.query("SELECT COUNT(*) FROM notification_outbox")[0][0])
            finally:
                db.close()
            folds, _ = outcome(worker.store)
            stop.set()
            await asyncio.gather(*tasks)
            expected = {
                key: fold.episode.status.value
                for key, (fold, _, _) in folds.items()
                if fold.episode is not None
            }
            assert rows == expected
            return rows, requested, queued

    rows, requested, queued = asyncio.run(run())
    assert rows and requested and queued == requested
