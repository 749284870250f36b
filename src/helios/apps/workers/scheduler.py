"""The scheduler: sends ``Tick`` commands for open alerts, and runs periodic jobs.

Ticks travel on the ingest queue like envelopes (``kind=tick.v1``) so that one worker pool
applies both, with the same batching, retries and dead-lettering. ``at`` is the wall clock
rounded down to the interval: a scheduler restarted (or run twice) sends the same ``at``, and
``Ingestor.tick`` records a ``(tenant, at)`` once, so a tick never runs twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import anyio.to_thread
import structlog

from helios.apps.views import alerts
from helios.apps.workers.followers import backoff_delay, wait_or_stop
from helios.apps.workers.messages import TickCommand, tick_message
from helios.ports.event_store import StoreUnavailable
from helios.ports.queue import Queue, QueueUnavailable
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

MAX_KEYS_PER_TICK = 500
"""Open alerts per tick message (bounded so one tick stays one small transaction)."""


class Scheduler:
    """Ticks every ``interval_s`` for each tenant's open alerts, and reports DLQ depth."""

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
        rows = await anyio.to_thread.run_sync(alerts.open_keys, self._db)
        open_alerts: dict[str, list[str]] = defaultdict(list)
        for tenant, key in rows:
            open_alerts[tenant].append(key)
        messages = []
        for tenant, keys in open_alerts.items():
            for start in range(0, len(keys), MAX_KEYS_PER_TICK):
                chunk = tuple(keys[start : start + MAX_KEYS_PER_TICK])
                # Chunks of one tenant need distinct ``at``s: a tick is recorded once per
                # (tenant, at). One millisecond apart keeps time practically the same.
                messages.append(
                    tick_message(
                        TickCommand(
                            tenant=tenant, at=at + start // MAX_KEYS_PER_TICK, dedup_keys=chunk
                        )
                    )
                )
        if messages:
            await self._queue.send(messages)
            self.ticks_sent += len(messages)
            _log.info("scheduler.ticks", at=at, tenants=len(open_alerts), messages=len(messages))
        return len(messages)

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
