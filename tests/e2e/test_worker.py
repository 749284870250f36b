"""The ingest worker and the followers, end to end over the embedded queue and SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import pytest
from workers import catch_up, drain, outcome

from helios.adapters.memory.mailer import InMemoryMailer
from helios.apps.application.envelopes import envelope_message
from helios.apps.composition import open_read_models, open_services
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.library import open_store
from helios.apps.settings import Settings
from helios.apps.views.projector import Projector
from helios.apps.workers.notifier import Dispatcher, NotificationOutbox
from helios.ports.queue import MessageAttributes, OutgoingMessage

START = 1_700_000_000_000
COUNT = 600


def _envelopes(count: int = COUNT) -> list:
    return list(TrafficGenerator(tenant="acme", start=START, seed=3).envelopes(count))


def _reference(envelopes: list) -> tuple:
    with open_store("memory://") as helios:
        for start in range(0, len(envelopes), 97):
            helios.ingest(envelopes[start : start + 97])
        return outcome(helios.store)


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


def test_worker_records_every_envelope_as_an_uninterrupted_batch_run_would(tmp_path: Path) -> None:
    """Batched, concurrent consumers reach the same folds and decisions as a reference run."""
    envelopes = _envelopes()

    async def run() -> tuple:
        async with open_services(_settings(tmp_path)) as services:
            await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
            worker = await drain(services)
            assert worker.stats.envelopes == len(envelopes)
            return outcome(services.store)

    assert asyncio.run(run()) == _reference(envelopes)


def test_every_message_delivered_twice_changes_nothing(tmp_path: Path) -> None:
    """Each envelope sent twice (no queue-level dedup) gives the state of one delivery."""
    envelopes = _envelopes(300)

    async def run() -> tuple:
        async with open_services(_settings(tmp_path)) as services:
            messages = [
                attrs.evolve(envelope_message(e, correlation_id="t"), deduplication_id=None)
                for e in envelopes
            ]
            await services.queue.send(messages + messages[::-1])
            worker = await drain(services)
            assert worker.stats.redelivered == len(envelopes)
            return outcome(services.store)

    assert asyncio.run(run()) == _reference(envelopes)


def test_a_poison_message_is_dead_lettered_after_three_receives_while_the_rest_flows(
    tmp_path: Path,
) -> None:
    """An undecodable message lands in the DLQ; every good envelope is recorded."""
    envelopes = _envelopes(100)
    poison = OutgoingMessage(
        body=b"not an envelope",
        attributes=MessageAttributes(tenant="acme", correlation_id="bad", kind="envelope.v1"),
    )

    async def run() -> None:
        async with open_services(_settings(tmp_path)) as services:
            good = [envelope_message(e, correlation_id="t") for e in envelopes]
            await services.queue.send([*good[:50], poison, *good[50:]])
            worker = await drain(services, visibility_s=1, timeout_s=30)
            dead = await services.queue.dead_letters(limit=10)
            assert [m.body for m in dead] == [b"not an envelope"]
            assert worker.stats.envelopes == len(envelopes)

    asyncio.run(run())


def test_followers_project_alerts_and_the_notifier_never_sends_twice(tmp_path: Path) -> None:
    """Projections match the fold; a restarted notifier re-reads the log but sends nothing new."""
    envelopes = _envelopes(300)

    async def run() -> None:
        async with open_services(_settings(tmp_path)) as services:
            await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
            await drain(services)
            url = services.settings.effective_read_models_url
            db = open_read_models(url)
            await catch_up(Projector(services.store, db), services, db)
            folds, _ = outcome(services.store)
            rows = dict(db.query("SELECT dedup_key, status FROM alerts"))
            assert rows == {
                key: fold.episode.status.value if fold.episode else "none"
                for key, (fold, _, _) in folds.items()
            }
            assert db.query("SELECT COUNT(*) FROM incidents")[0][0] > 0
            mailer = InMemoryMailer()
            for _restart in range(2):
                outbox = NotificationOutbox(
                    services.store, db, public_url="http://h", recipients="oncall@x"
                )
                await catch_up(outbox, services, db)
                await Dispatcher(db, mailer, sender="helios@x").send_due(limit=10_000)
                db.query("DELETE FROM follower_positions WHERE follower = 'notifier'")
            total = db.query("SELECT COUNT(*) FROM notification_outbox")[0][0]
            assert total > 0
            assert len(mailer.sent) == total
            assert len({m.message_id for m in mailer.sent}) == total
            subject = mailer.sent[0].subject
            assert subject.startswith("[P") and subject.endswith(")")
            db.close()

    asyncio.run(run())


@pytest.mark.parametrize("interval_s", [30.0])
def test_scheduler_ticks_open_alerts_once_per_interval(tmp_path: Path, interval_s: float) -> None:
    """Two scheduler rounds in one interval record a single tick per tenant."""
    from helios.apps.workers.scheduler import Scheduler

    envelopes = _envelopes(100)

    async def run() -> None:
        async with open_services(_settings(tmp_path)) as services:
            await services.queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
            await drain(services)
            db = open_read_models(services.settings.effective_read_models_url)
            await catch_up(Projector(services.store, db), services, db)
            scheduler = Scheduler(queue=services.queue, db=db, interval_s=interval_s)
            now = START + 3_600_000
            assert await scheduler.tick_once(now) == 1
            await scheduler.tick_once(now + 1)  # same interval: deduplicated
            worker = await drain(services)
            assert worker.stats.ticks <= 2
            ticks = [
                e for e in services.store.read_log(0, 100_000) if e.name == "helios.intake.tick.v1"
            ]
            assert len(ticks) == 1
            db.close()

    asyncio.run(run())
