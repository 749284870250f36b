"""Followers of one process: the ingest worker's commits wake them at once, and those that may
lag let the projector catch up with the log first — waiting at most a bounded time per page."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from helios.apps.composition import open_read_models
from helios.apps.workers.followers import (
    Appended,
    Lead,
    LeadElsewhere,
    LeadItself,
    QueueDrained,
    follow,
)
from helios.ports.event_store import LogEntry, StoreUnavailable
from helios.ports.read_models import ReadModels

STREAM = uuid.UUID(int=7)


class Log:
    """A log in memory that followers read as they read the store's."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []

    def add(self, count: int) -> None:
        for _ in range(count):
            position = len(self.entries) + 1
            self.entries.append(
                LogEntry(position=position, stream_id=STREAM, version=position, name="e", event=1)
            )

    def read_log(
        self, after: int, limit: int, *, encoded: Callable[[str], bool] | None = None
    ) -> Sequence[LogEntry]:
        return [e for e in self.entries if e.position > after][:limit]


class Keeping:
    """A follower keeping the positions it was given (its position is kept in memory)."""

    name = "keeping"

    def __init__(self) -> None:
        self.positions: list[int] = []

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        self.positions += [entry.position for entry in page]


@pytest.fixture(name="db")
def db_fixture(tmp_path: Path) -> Iterator[ReadModels]:
    db = open_read_models(f"sqlite:{tmp_path / 'readmodels.db'}")
    try:
        yield db
    finally:
        db.close()


async def _until(check: Callable[[], bool], within_s: float) -> float:
    """Seconds until ``check()`` holds; fails after ``within_s``."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > within_s:
            raise AssertionError(f"not within {within_s} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


def test_a_caught_up_follower_wakes_when_the_worker_commits_not_at_its_next_poll(
    db: ReadModels,
) -> None:
    async def run() -> None:
        log, follower, stop, appended = Log(), Keeping(), asyncio.Event(), Appended()
        task = asyncio.create_task(
            follow(follower, store=log, db=db, stop=stop, poll_s=60.0, appended=appended)
        )
        await asyncio.sleep(0.2)  # caught up with the empty log, waiting
        log.add(3)
        appended.appended()
        await _until(lambda: follower.positions == [1, 2, 3], within_s=5.0)
        stop.set()
        await asyncio.wait_for(task, 5.0)

    asyncio.run(run())


def test_a_follower_after_the_lead_reads_nothing_until_the_lead_has_caught_up(
    db: ReadModels,
) -> None:
    async def run() -> None:
        log, follower, stop, lead = Log(), Keeping(), asyncio.Event(), Lead(most_s=60.0)
        log.add(5)
        task = asyncio.create_task(
            follow(follower, store=log, db=db, stop=stop, poll_s=0.05, after_lead=lead)
        )
        await asyncio.sleep(0.3)
        assert follower.positions == []
        lead.read(caught_up=True)
        await _until(lambda: follower.positions == [1, 2, 3, 4, 5], within_s=5.0)
        stop.set()
        await asyncio.wait_for(task, 5.0)

    asyncio.run(run())


def test_a_follower_after_a_lead_that_stays_behind_still_reads_a_page_per_wait(
    db: ReadModels,
) -> None:
    async def run() -> None:
        log, follower, stop, lead = Log(), Keeping(), asyncio.Event(), Lead(most_s=0.1)
        log.add(10)
        task = asyncio.create_task(
            follow(follower, store=log, db=db, stop=stop, poll_s=0.05, page_size=4, after_lead=lead)
        )
        took = await _until(lambda: len(follower.positions) == 10, within_s=5.0)
        assert took >= 0.25  # three pages, each after a wait for the lead
        stop.set()
        await asyncio.wait_for(task, 5.0)

    asyncio.run(run())


def test_the_lead_says_it_is_behind_after_a_full_page_and_caught_up_after_a_short_one(
    db: ReadModels,
) -> None:
    async def run() -> None:
        log, stop, lead = Log(), asyncio.Event(), Lead()
        log.add(4)
        seen: list[bool] = []
        follower = Keeping()
        original = follower.apply

        def apply(page: Sequence[LogEntry], *, after: int) -> None:
            seen.append(lead.caught_up)
            original(page, after=after)

        follower.apply = apply  # type: ignore[method-assign]
        task = asyncio.create_task(
            follow(follower, store=log, db=db, stop=stop, poll_s=0.05, page_size=2, leads=lead)
        )
        await _until(lambda: lead.caught_up, within_s=5.0)
        # Before the second page, the first (full) one had said: behind.
        assert seen == [False, False]
        assert follower.positions == [1, 2, 3, 4]
        stop.set()
        await asyncio.wait_for(task, 5.0)

    asyncio.run(run())


def test_a_stopped_follower_does_not_wait_for_its_lead(db: ReadModels) -> None:
    async def run() -> None:
        log, stop, lead = Log(), asyncio.Event(), Lead(most_s=60.0)
        log.add(1)
        task = asyncio.create_task(
            follow(Keeping(), store=log, db=db, stop=stop, poll_s=60.0, after_lead=lead)
        )
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, 2.0)

    asyncio.run(run())


def test_a_lead_in_another_process_is_asked_until_it_says_it_has_caught_up() -> None:
    answers = iter([False, False, True])
    asked: list[int] = []

    def caught_up() -> bool:
        asked.append(1)
        return next(answers)

    async def run() -> float:
        began = time.monotonic()
        await LeadElsewhere(caught_up, most_s=30.0, every_s=0.01).wait(asyncio.Event())
        return time.monotonic() - began

    assert asyncio.run(run()) < 5.0
    assert len(asked) == 3


def test_a_lead_in_another_process_holds_a_follower_at_most_its_longest_wait() -> None:
    async def run() -> float:
        began = time.monotonic()
        await LeadElsewhere(lambda: False, most_s=0.2, every_s=0.05).wait(asyncio.Event())
        return time.monotonic() - began

    assert 0.15 <= asyncio.run(run()) < 5.0


def test_a_lead_that_cannot_be_asked_holds_no_follower() -> None:
    def unreachable() -> bool:
        raise StoreUnavailable("read models down")

    async def run() -> None:
        await asyncio.wait_for(LeadElsewhere(unreachable, most_s=30.0).wait(asyncio.Event()), 5)

    asyncio.run(run())


def test_a_follower_after_a_lead_projecting_inline_waits_while_the_ingest_queue_holds_a_burst(
    db: ReadModels,
) -> None:
    """Caught up after every batch, the lead still goes first while messages wait; the
    follower reads once the queue is empty, and the queue is asked at most every ``every_s``."""

    async def run() -> None:
        waiting = [3]
        asked: list[float] = []

        async def backlog() -> int:
            asked.append(time.monotonic())
            return waiting[0]

        log, follower, stop = Log(), Keeping(), asyncio.Event()
        lead = Lead(most_s=60.0, drained=QueueDrained(backlog, most_s=60.0, every_s=0.05))
        lead.read(caught_up=True)
        log.add(5)
        task = asyncio.create_task(
            follow(follower, store=log, db=db, stop=stop, poll_s=0.05, after_lead=lead)
        )
        await asyncio.sleep(0.4)
        assert follower.positions == []
        assert 3 <= len(asked) <= 10
        waiting[0] = 0
        await _until(lambda: follower.positions == [1, 2, 3, 4, 5], within_s=5.0)
        stop.set()
        await asyncio.wait_for(task, 5.0)

    asyncio.run(run())


def test_the_lead_itself_waits_for_the_queue_only_once_caught_up_with_the_log() -> None:
    """Behind, it reads on (nothing else projects what it is behind on); caught up, it
    leaves the batches being decided to the inline path until the queue is drained."""

    async def run() -> None:
        async def busy() -> int:
            return 1

        lead, stop = Lead(), asyncio.Event()
        itself = LeadItself(lead, QueueDrained(busy, most_s=0.3, every_s=0.05))
        began = time.monotonic()
        await itself.wait(stop)
        assert time.monotonic() - began < 0.1
        lead.read(caught_up=True)
        began = time.monotonic()
        await itself.wait(stop)
        assert time.monotonic() - began >= 0.25

    asyncio.run(run())


def test_the_lead_itself_stops_waiting_when_a_batch_was_left_to_it() -> None:
    """A batch the inline path did not project is in the log for the follower alone: the
    wait for the queue to be drained ends at once rather than after its most."""

    async def run() -> None:
        async def busy() -> int:
            return 1

        lead, stop = Lead(), asyncio.Event()
        lead.read(caught_up=True)
        itself = LeadItself(lead, QueueDrained(busy, most_s=30.0, every_s=0.05))
        waiting = asyncio.create_task(itself.wait(stop))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        began = time.monotonic()
        await asyncio.to_thread(itself.left_to_follower)
        await asyncio.wait_for(waiting, 5.0)
        assert time.monotonic() - began < 1.0

    asyncio.run(run())
