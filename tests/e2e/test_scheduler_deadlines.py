"""The scheduler ticks only the open alerts that are due, through the real worker, projector
and embedded queue: an escalation still happens on time, and nothing due sends nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from workers import catch_up, drain

from helios.apps.application.envelopes import envelope_message
from helios.apps.application.rules import publish_rules
from helios.apps.composition import Services, open_read_models, open_services
from helios.apps.settings import Settings
from helios.apps.views.projector import Projector
from helios.apps.workers.scheduler import Scheduler
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope, Priority, SourceKind

START = 1_700_000_000_000
MINUTE = 60_000


def _trigger(n: int) -> Envelope:
    body = {"action": "trigger", "summary": "disk full", "dedup_key": f"k-{n}"}
    return Envelope(
        ingest_id=f"in-{n}",
        tenant="acme",
        integration="gen-1",
        source=SourceKind.GENERIC,
        received_at=START + n,
        body=json.dumps(body).encode(),
    )


async def _open_alerts(services: Services, count: int) -> None:
    """``count`` triggered alerts, every one escalating 15 minutes after it started."""
    rules = Ruleset(version=1, escalate_after_ms=15 * MINUTE, escalate_priorities=tuple(Priority))
    publish_rules(services.store, tenant="acme", ruleset=rules, by="u-1", at=START)
    envelopes = [_trigger(n) for n in range(count)]
    await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
    await drain(services)


def _decisions(services: Services, name: str) -> int:
    return sum(e.name == name for e in services.store.read_log(0, 100_000))


def test_an_alert_due_for_escalation_escalates_through_the_scheduler(tmp_path: Path) -> None:
    async def run() -> None:
        async with open_services(Settings(data_dir=tmp_path / "data")) as services:
            await _open_alerts(services, 1)
            db = open_read_models(services.settings.effective_read_models_url)
            projector = Projector(services.store, db)
            await catch_up(projector, services, db)
            scheduler = Scheduler(queue=services.queue, db=db, interval_s=30)
            assert await scheduler.tick_once(START + 5 * MINUTE) == 0  # not due yet

            assert await scheduler.tick_once(START + 16 * MINUTE) == 1
            await drain(services)
            assert _decisions(services, "helios.alert.escalation_due.v1") == 1
            await catch_up(projector, services, db)
            assert await scheduler.tick_once(START + 17 * MINUTE) == 0  # done: nothing due
            db.close()

    asyncio.run(run())


def test_with_many_open_alerts_and_nothing_due_the_scheduler_sends_no_tick(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        async with open_services(Settings(data_dir=tmp_path / "data")) as services:
            await _open_alerts(services, 300)
            db = open_read_models(services.settings.effective_read_models_url)
            await catch_up(Projector(services.store, db), services, db)
            open_alerts = db.query("SELECT COUNT(*) FROM alerts WHERE status = 'triggered'")
            assert open_alerts[0][0] == 300
            scheduler = Scheduler(queue=services.queue, db=db, interval_s=30)
            assert await scheduler.tick_once(START + 10 * MINUTE) == 0
            assert await services.queue.depth() == 0
            assert _decisions(services, "helios.intake.tick.v1") == 0

            # Once due, all of them are ticked, 500 keys a message at most.
            assert await scheduler.tick_once(START + 16 * MINUTE) == 1
            db.close()

    asyncio.run(run())
