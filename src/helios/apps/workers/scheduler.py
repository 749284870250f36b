"""The scheduler: sends ``Tick`` commands for the open alerts that are due, and runs periodic
jobs.

An alert is due when a tick at this interval's ``at`` can change it: its ``next_due_at`` in the
read model (``views.alert_deadlines``, see ``helios.domain.deadlines``) is at or before ``at``.
Any other tick would decide nothing, so an idle interval costs one indexed query whatever the
number of open alerts.

Ticks travel on the ingest queue like envelopes (``kind=tick.v1``) so that one worker pool
applies both, with the same batching, retries and dead-lettering. ``at`` is the wall clock
rounded down to the interval: a scheduler restarted (or run twice) sends the same ``at``, and
``Ingestor.tick`` records a ``(tenant, at)`` once, so a tick never runs twice.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import defaultdict

import anyio.to_thread
import structlog

from helios.apps.views import alert_deadlines
from helios.apps.workers.followers import backoff_delay, wait_or_stop
from helios.apps.workers.messages import TickCommand, tick_message
from helios.ports.event_store import StoreUnavailable
from helios.ports.queue import Queue, QueueUnavailable
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

MAX_KEYS_PER_TICK = 500
"""Open alerts per tick message (bounded so one tick stays one small transaction)."""

DUE_PAGE = 5_000
"""Due alerts read at a time (the scheduler holds at most this many keys at once)."""


class Scheduler:
    """Ticks every ``interval_s`` for each tenant's open alerts that are due, and reports DLQ
    depth."""

    def __init__(
        self,
        *,
        queue: Queue,
        db: ReadModels,
        interval_s: float = 30.0,
        report_every_s: float = 300.0,
    ) -> None:
        self._queue = queue
        self._db = db
        self._interval_ms = max(1, int(interval_s * 1000))
        self._report_every_s = report_every_s
        self.ticks_sent = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Tick and report until ``stop`` is set."""
        next_report = 0.0
        failures = 0
        while not stop.is_set():
            now = time.time()
            try:
                await self.tick_once(int(now * 1000))
                if now >= next_report:
                    await self.report_dead_letters()
                    next_report = now + self._report_every_s
                failures = 0
            except (StoreUnavailable, QueueUnavailable) as error:
                failures += 1
                _log.warning("scheduler.unavailable", error=str(error))
                await wait_or_stop(stop, backoff_delay(failures))
                continue
            wait_ms = self._interval_ms - int(time.time() * 1000) % self._interval_ms
            await wait_or_stop(stop, wait_ms / 1000)

    async def tick_once(self, now_ms: int) -> int:
        """Send this interval's ticks; returns how many messages were sent.

        Raises:
            StoreUnavailable: the read models cannot be read.
            QueueUnavailable: the queue cannot take the ticks (the next interval retries).
        """
        at = now_ms - now_ms % self._interval_ms
        sent, tenants = 0, set[str]()
        # Each tenant's chunks need distinct ``at``s (a tick is recorded once per (tenant,
        # at)): one millisecond apart keeps time practically the same.
        chunks: dict[str, int] = defaultdict(int)
        after: tuple[int, str, str] | None = None
        while True:
            rows = await anyio.to_thread.run_sync(
                functools.partial(alert_deadlines.due, self._db, at=at, limit=DUE_PAGE, after=after)
            )
            if not rows:
                break
            after = rows[-1]
            due: dict[str, list[str]] = defaultdict(list)
            for _, tenant, key in rows:
                due[tenant].append(key)
            messages = []
            for tenant, keys in due.items():
                for start in range(0, len(keys), MAX_KEYS_PER_TICK):
                    chunk = tuple(keys[start : start + MAX_KEYS_PER_TICK])
                    messages.append(
                        tick_message(
                            TickCommand(tenant=tenant, at=at + chunks[tenant], dedup_keys=chunk)
                        )
                    )
                    chunks[tenant] += 1
            await self._queue.send(messages)
            sent += len(messages)
            tenants.update(due)
        if sent:
            self.ticks_sent += sent
            _log.info("scheduler.ticks", at=at, tenants=len(tenants), messages=sent)
        return sent

    async def report_dead_letters(self) -> int:
        """Log how many dead letters wait for an operator; returns the count (up to 1,000).

        Raises:
            QueueUnavailable: the queue cannot be reached.
        """
        dead = len(await self._queue.dead_letters(limit=1000))
        depth = await self._queue.depth()
        if dead:
            _log.warning(
                "scheduler.dead_letters", dead_letters=dead, depth=depth, hint="helios dlq list"
            )
        else:
            _log.info("scheduler.queue_depth", depth=depth, dead_letters=0)
        return dead
