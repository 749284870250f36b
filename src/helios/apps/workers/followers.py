"""Running a follower of the event log: read a page after the committed position, apply it,
repeat; wait when caught up; back off while a store is down.

A follower's ``apply`` commits its writes together with its new position, so a crash at any
point replays at most the page in flight and its effect stays exactly-once.

Within one process, two things shorten the time from a decision to its rows:

* ``Appended``: the ingest worker of the process says when it committed, and followers
  waiting for more wake at once rather than at their next poll (``poll_s`` stays the bound
  for what other processes append).
* ``Lead``: followers that may lag (the notifier's outbox, the analytics fan-out) wait, before
  each page, for the one responders look at first (the projector) to have caught up with the
  log, at most ``most_s``. They all share one interpreter lock: during a burst the read models
  get the CPU first instead of a fifth of it, and the others catch up right after (or at
  least one page per ``most_s`` while the lead stays behind, so none ever stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import anyio.to_thread
import structlog

from helios.apps.views.positions import committed_position
from helios.ports.event_store import ConcurrencyConflict, LogEntry, LogReader, StoreUnavailable
from helios.ports.queue import QueueUnavailable
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

PAGE_SIZE = 500
LEAD_WAIT_S = 1.0
"""The longest a follower waits for its lead before each page (``Lead``)."""


class Appended:
    """Wakes the followers of a process when its ingest worker committed to the log.

    Used from the event loop only. Each ``appended`` sets the event waiters hold and starts a
    new one, so a follower that wakes, reads and waits again is not woken by the same commit.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def appended(self) -> None:
        """Something was committed to the log: wake every follower waiting for more."""
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, stop: asyncio.Event, seconds: float) -> None:
        """Until the next ``appended``, ``stop``, or ``seconds``, whichever comes first."""
        await _first_of(stop, self._event, seconds)


class QueueDrained:
    """Whether the ingest queue of the process has been drained: a wait for the followers
    that let the ingest worker go first while it holds messages (asked once per
    ``every_s`` for all of them; a queue that cannot answer counts as drained). Used from
    the event loop only."""

    def __init__(
        self, depth: Callable[[], Awaitable[int]], *, most_s: float, every_s: float = 0.1
    ) -> None:
        self.most_s = most_s
        self._depth = depth
        self._every_s = every_s
        self._asked_at = -math.inf
        self._pending = False

    async def wait(
        self,
        stop: asyncio.Event,
        *,
        most_s: float | None = None,
        unless: Callable[[], bool] = lambda: False,
    ) -> None:
        """Until the queue holds no message, ``stop``, ``unless()``, or ``most_s`` (the
        instance's)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.most_s if most_s is None else most_s)
        while not stop.is_set() and not unless() and await self._waiting(loop.time()):
            left = deadline - loop.time()
            if left <= 0:
                return
            await wait_or_stop(stop, min(self._every_s, left))

    async def _waiting(self, now: float) -> bool:
        if now - self._asked_at >= self._every_s:
            self._asked_at = now
            try:
                self._pending = await self._depth() > 0
            except QueueUnavailable:
                self._pending = False
        return self._pending


class Lead:
    """Whether a leading follower is caught up with the log, for the followers that let it go
    first (see the module's docstring). Used from the event loop only.

    ``drained``: when the lead projects the ingest worker's batches as they commit (see
    ``Projector.appended``), it is caught up with the log after every batch, burst or not;
    the followers then also wait for the ingest queue to be drained, at most ``most_s``."""

    def __init__(self, *, most_s: float = LEAD_WAIT_S, drained: QueueDrained | None = None) -> None:
        self.most_s = most_s
        self.caught_up = False
        self._event = asyncio.Event()
        self._drained = drained

    def read(self, *, caught_up: bool) -> None:
        """The lead applied a page (``caught_up``: it was the end of the log) or is behind."""
        self.caught_up = caught_up
        if caught_up:
            event, self._event = self._event, asyncio.Event()
            event.set()

    async def wait(self, stop: asyncio.Event) -> None:
        """Until the lead is caught up (and the ingest queue drained), ``stop``, or
        ``most_s``."""
        if not self.caught_up:
            await _first_of(stop, self._event, self.most_s)
        elif self._drained is not None:
            await self._drained.wait(stop, most_s=self.most_s)


class LeadItself:
    """What the lead waits on before each page when the ingest worker's batches are
    projected inline, as they commit: nothing while it is behind the log (it catches up as
    any follower), else the ingest queue drained, so that it does not race the inline path
    for a batch just committed, projecting it page by page from the log. A batch the inline
    path left to it (``left_to_follower``: the projector too far behind, a failure) ends the
    wait: it is in the log, and only the follower will project it."""

    def __init__(self, lead: Lead, drained: QueueDrained) -> None:
        self._lead = lead
        self._drained = drained
        self._left = False

    def left_to_follower(self) -> None:
        """A batch was not projected inline (callable from any thread)."""
        self._left = True

    async def wait(self, stop: asyncio.Event) -> None:
        if self._lead.caught_up:
            await self._drained.wait(stop, unless=lambda: self._left)
        self._left = False


class Follower(Protocol):
    """A reader of the log. One may also say which entries it has no use for, by their
    stored name, with a ``left_encoded(name) -> bool`` attribute: those come with ``event``
    None, undecoded (decoding is most of the cost of reading a page); and one that also
    applies entries by other means (the projector, from batches just appended in its
    process) says how far it got with a ``reached() -> int | None`` attribute, after which
    ``follow`` reads on."""

    name: str

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        """Apply a page and commit the position of its last entry with the writes.

        Raises:
            StoreUnavailable: a store cannot be reached; nothing was committed.
            ConcurrencyConflict: another instance moved the position.
        """
        ...


class LeadWait(Protocol):
    """What a follower that lets another go first waits on before each page."""

    async def wait(self, stop: asyncio.Event) -> None:
        """Until the lead is caught up, ``stop``, or the most a follower waits for it."""
        ...


class LeadElsewhere:
    """A lead in another process (``helios up``'s projector child): caught up when
    ``caught_up()`` — a query, run in a thread — says so, asked every ``every_s``."""

    def __init__(
        self,
        caught_up: Callable[[], bool],
        *,
        most_s: float = LEAD_WAIT_S,
        every_s: float = 0.1,
    ) -> None:
        self._caught_up = caught_up
        self.most_s = most_s
        self._every_s = every_s

    async def wait(self, stop: asyncio.Event) -> None:
        """Until the lead is caught up, ``stop``, or ``most_s``; at once when the question
        cannot be answered (the follower's own read then meets the outage)."""
        deadline = asyncio.get_running_loop().time() + self.most_s
        while not stop.is_set():
            try:
                if await anyio.to_thread.run_sync(self._caught_up):
                    return
            except StoreUnavailable:
                return
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await wait_or_stop(stop, min(self._every_s, left))


async def follow(
    follower: Follower,
    *,
    store: LogReader,
    db: ReadModels,
    stop: asyncio.Event,
    poll_s: float = 0.5,
    page_size: int = PAGE_SIZE,
    until_caught_up: bool = False,
    on_page: Callable[[], None] | None = None,
    appended: Appended | None = None,
    leads: Lead | None = None,
    after_lead: LeadWait | None = None,
) -> int:
    """Run ``follower`` until ``stop`` is set (or the log's end, with ``until_caught_up``);
    ``on_page()`` after each page applied. Caught up, it waits ``poll_s`` or until
    ``appended`` says there is more. It tells ``leads`` how far it is, and waits for
    ``after_lead`` before each page.

    Returns the position reached.
    """
    log = _log.bind(follower=follower.name)
    read = functools.partial(store.read_log, encoded=getattr(follower, "left_encoded", None))
    reached: Callable[[], int | None] = getattr(follower, "reached", lambda: None)
    position: int | None = None
    failures = 0
    while not stop.is_set():
        try:
            if after_lead is not None:
                await after_lead.wait(stop)
            if position is None:
                position = await anyio.to_thread.run_sync(committed_position, db, follower.name)
            # Where to read from is known once the wait is over: meanwhile the projector may
            # have projected the worker's batches inline (``reached``), and a page read from
            # before them would be read and decoded for nothing.
            after = position = max(position, reached() or 0)
            page = await anyio.to_thread.run_sync(read, after, page_size)
            if page:
                await anyio.to_thread.run_sync(functools.partial(follower.apply, page, after=after))
                position = page[-1].position
                if on_page is not None:
                    on_page()
            failures = 0
        except (StoreUnavailable, QueueUnavailable) as error:
            failures += 1
            delay = backoff_delay(failures)
            log.warning("follower.store_unavailable", error=str(error), retry_in_s=delay)
            await wait_or_stop(stop, delay)
            continue
        except ConcurrencyConflict:
            # Another instance moved the position: start again from what it committed.
            log.warning("follower.position_moved")
            position = None
            await wait_or_stop(stop, poll_s)
            continue
        caught_up = len(page) < page_size
        if leads is not None:
            leads.read(caught_up=caught_up)
        if caught_up:
            if until_caught_up:
                break
            if appended is not None:
                await appended.wait(stop, poll_s)
            else:
                await wait_or_stop(stop, poll_s)
    return position or 0


def backoff_delay(failures: int, *, base_s: float = 0.2, cap_s: float = 10.0) -> float:
    """Exponential backoff with full jitter: many workers must not retry in lock-step."""
    return random.uniform(base_s / 2, min(cap_s, base_s * 2 ** min(failures, 10)))


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _first_of(stop: asyncio.Event, event: asyncio.Event, seconds: float) -> None:
    """Until ``stop`` or ``event`` is set, or ``seconds`` have passed."""
    if stop.is_set() or event.is_set():
        return
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(event.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
