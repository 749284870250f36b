"""Running a follower of the event log: read a page after the committed position, apply it,
repeat; wait when caught up; back off while a store is down.

A follower's ``apply`` commits its writes together with its new position, so a crash at any
point replays at most the page in flight and its effect stays exactly-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable, Sequence
from typing import Protocol

import anyio.to_thread
import structlog

from helios.apps.views.positions import committed_position
from helios.ports.event_store import ConcurrencyConflict, LogEntry, LogReader, StoreUnavailable
from helios.ports.queue import QueueUnavailable
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)

PAGE_SIZE = 500


class Follower(Protocol):
    """A reader of the log. One may also say which entries it has no use for, by their
    stored name, with a ``left_encoded(name) -> bool`` attribute: those come with ``event``
    None, undecoded (decoding is most of the cost of reading a page)."""

    name: str

    def apply(self, page: Sequence[LogEntry], *, after: int) -> None:
        """Apply a page and commit the position of its last entry with the writes.

        Raises:
            StoreUnavailable: a store cannot be reached; nothing was committed.
            ConcurrencyConflict: another instance moved the position.
        """
        ...


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
) -> int:
    """Run ``follower`` until ``stop`` is set (or the log's end, with ``until_caught_up``);
    ``on_page()`` after each page applied.

    Returns the position reached.
    """
    log = _log.bind(follower=follower.name)
    read = functools.partial(store.read_log, encoded=getattr(follower, "left_encoded", None))
    position: int | None = None
    failures = 0
    while not stop.is_set():
        try:
            if position is None:
                position = await anyio.to_thread.run_sync(committed_position, db, follower.name)
            after = position
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
        if len(page) < page_size:
            if until_caught_up:
                break
            await wait_or_stop(stop, poll_s)
    return position or 0


def backoff_delay(failures: int, *, base_s: float = 0.2, cap_s: float = 10.0) -> float:
    """Exponential backoff with full jitter: many workers must not retry in lock-step."""
    return random.uniform(base_s / 2, min(cap_s, base_s * 2 ** min(failures, 10)))


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
