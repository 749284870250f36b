"""Scheduler ticks through the real ingest worker, on the embedded queue and on SQS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from queues import QUEUE_KINDS, open_test_queue

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.store.factory import open_event_store
from helios.apps.application.envelopes import envelope_message
from helios.apps.application.ingest import Ingestor
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.workers.ingest import IngestWorker
from helios.apps.workers.messages import TickCommand, tick_message
from helios.domain import intake
from helios.ports.queue import Queue

START = 1_700_000_000_000
VISIBILITY_S = 1

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=QUEUE_KINDS)
async def queue(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Queue]:
    async with open_test_queue(request, tmp_path, monkeypatch) as opened:
        yield opened


async def _run_until_settled(worker: IngestWorker, queue: Queue, *, settle_s: float) -> None:
    """Run the worker until the queue is empty and has stayed so for ``settle_s`` (longer than
    several visibility timeouts: an undeleted message would have come back meanwhile)."""
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(60):
            empty_since: float | None = None
            while empty_since is None or time.monotonic() - empty_since < settle_s:
                await asyncio.sleep(0.1)
                if await queue.depth() > 0:
                    empty_since = None
                elif empty_since is None:
                    empty_since = time.monotonic()
    finally:
        stop.set()
        await running


async def test_ticks_that_decide_nothing_are_acknowledged_and_never_dead_lettered(
    queue: Queue,
) -> None:
    """An idle tick (nothing due, or a tick already recorded) is done, not a failure."""
    store = open_event_store("memory://")
    try:
        envelopes = list(TrafficGenerator(tenant="acme", start=START, seed=5).envelopes(1))
        await queue.send([envelope_message(e, correlation_id="t") for e in envelopes])
        worker = IngestWorker(
            queue=queue, store=store, concurrency=1, wait_s=0.2, visibility_s=VISIBILITY_S
        )
        await _run_until_settled(worker, queue, settle_s=0.5)
        open_keys = tuple(
            sorted(
                {
                    entry.event.signal.dedup_key
                    for entry in store.read_log(0, 1000)
                    if entry.name == "helios.alert.signal_accepted.v1"
                }
            )
        )
        assert open_keys
        # A second after the signal: no escalation, no flapping to clear, nothing expires.
        ticks = [
            TickCommand(tenant="acme", at=START + 1_000 + n, dedup_keys=open_keys) for n in range(3)
        ]
        messages = [tick_message(tick) for tick in ticks]
        # The same tick once more, past the queue's deduplication: recorded once, no-op again.
        repeat = attrs.evolve(tick_message(ticks[0]), deduplication_id=None)
        await queue.send([*messages, repeat])

        await _run_until_settled(worker, queue, settle_s=4 * VISIBILITY_S)

        assert await queue.dead_letters(limit=10) == []
        assert worker.stats.failed_messages == 0
        assert worker.stats.ticks == 4
        recorded = [e for e in store.read_log(0, 10_000) if e.name == "helios.intake.tick.v1"]
        assert len(recorded) == 3
    finally:
        store.close()


async def test_a_batch_is_decided_in_each_tenants_order_of_envelopes_and_ticks(
    tmp_path: Path,
) -> None:
    """A batch from a FIFO queue holds a tenant's messages in order: an envelope after a tick
    is decided after it (other tenants' envelopes still share one transaction)."""
    store = open_event_store("memory://")
    acme = list(TrafficGenerator(tenant="acme", start=START, seed=5).envelopes(2))[:2]
    other = list(TrafficGenerator(tenant="other", start=START, seed=6).envelopes(1))[:1]
    tick = TickCommand(tenant="acme", at=acme[0].received_at + 1, dedup_keys=())
    try:
        async with EmbeddedQueue(path=tmp_path / "queue.db") as queue:
            await queue.send(
                [
                    envelope_message(acme[0], correlation_id="a1"),
                    tick_message(tick),
                    envelope_message(other[0], correlation_id="o1"),
                    envelope_message(acme[1], correlation_id="a2"),
                ]
            )
            received = await queue.receive(max_messages=10, wait_seconds=1)
            assert [m.attributes.correlation_id for m in received] == [
                "a1",
                f"tick-{tick.at}",
                "o1",
                "a2",
            ]
            worker = IngestWorker(queue=queue, store=store, concurrency=1)
            await worker.process(Ingestor(store), received, asyncio.Event())

            assert await queue.depth() == 0
        inputs = [
            e.event
            for e in store.read_log(0, 10_000)
            if isinstance(e.event, intake.EnvelopeReceived | intake.TickReceived)
        ]
        assert [
            ("tick", i.tenant)
            if isinstance(i, intake.TickReceived)
            else (i.envelope.ingest_id, i.envelope.tenant)
            for i in inputs
        ] == [
            (acme[0].ingest_id, "acme"),
            (other[0].ingest_id, "other"),
            ("tick", "acme"),
            (acme[1].ingest_id, "acme"),
        ]
    finally:
        store.close()
