"""Helpers for worker tests: run the pipeline in-process until the queue is drained."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from helios.apps.composition import Services
from helios.apps.views.positions import committed_position
from helios.apps.workers.followers import follow
from helios.apps.workers.ingest import IngestWorker
from helios.domain import alert
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels


async def drain(
    services: Services, *, visibility_s: int = 30, timeout_s: float = 60, concurrency: int = 1
) -> IngestWorker:
    """Run an ingest worker until the queue holds nothing but dead letters.

    One consumer by default: decisions depend on arrival order, and tests compare them with a
    reference run in the same order.
    """
    stop = asyncio.Event()
    worker = IngestWorker(
        queue=services.queue,
        store=services.store,
        concurrency=concurrency,
        batch=200,
        wait_s=0.2,
        visibility_s=visibility_s,
    )
    task = asyncio.create_task(worker.run(stop))
    try:
        async with asyncio.timeout(timeout_s):
            while await services.queue.depth() > 0:
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task
    return worker


async def catch_up(follower: Any, services: Services, db: Any) -> int:
    return await follow(
        follower, store=services.store, db=db, stop=asyncio.Event(), until_caught_up=True
    )


def outcome(store: EventStore) -> tuple[dict[str, Any], Counter[tuple[str, str]]]:
    """Every alert's fold, and the multiset of decision events per stream (by name)."""
    folds: dict[str, Any] = {}
    decisions: Counter[tuple[str, str]] = Counter()
    states: dict[Any, alert.AlertState] = {}
    after = 0
    while True:
        page = store.read_log(after, 1000)
        for entry in page:
            if entry.name.startswith(("helios.alert.", "helios.incident.")):
                decisions[(str(entry.stream_id), _decision(entry.event))] += 1
            if isinstance(entry.event, alert.SignalAccepted | alert.SignalIgnored):
                signal = entry.event.signal
                states.setdefault(
                    entry.stream_id, alert.initial_state(signal.tenant, signal.dedup_key)
                )
            if entry.stream_id in states:
                states[entry.stream_id] = alert.evolve(states[entry.stream_id], entry.event)
        if len(page) < 1000:
            break
        after = page[-1].position
    for state in states.values():
        folds[state.dedup_key] = (state.fold, state.priority, state.score)
    return folds, decisions


def _decision(event: Any) -> str:
    return repr(event)


async def settle(services: Services, db: ReadModels, *, timeout_s: float = 120) -> int:
    """Wait (at most ``timeout_s``) until the queue is empty, the projector has reached the end
    of the log and every notification the log requests is in the outbox; returns how many the
    log requests, for the caller to compare with what it finds."""
    requested = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        log = services.store.read_log(0, 1_000_000)
        requested = sum(isinstance(e.event, alert.NotificationRequested) for e in log)
        queued = db.query("SELECT COUNT(*) FROM notification_outbox")[0][0]
        projected = committed_position(db, "projector")
        drained = await services.queue.depth() == 0
        if drained and queued == requested > 0 and projected >= log[-1].position:
            break
    return requested
