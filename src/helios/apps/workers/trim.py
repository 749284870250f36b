"""Giving freed memory back to the system once a worker process goes quiet after work.

A burst leaves the worker child's heap full of freed blocks: Python's reference cycles wait for
a collection that only allocations trigger, and glibc's malloc keeps what was freed on its
free lists (and in arenas a thread used) rather than returning it, so the process's PSS stays
at its peak long after the work is done. Once the log's followers have found nothing new for a
while, one ``gc.collect()`` and one ``malloc_trim(0)`` return it. Never while pages keep
coming (a collection of a large heap takes tens of milliseconds), never twice without work in
between, and at most once per ``every_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import gc
import os
import time
from collections.abc import Callable

import anyio.to_thread
import structlog

_log = structlog.get_logger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library is not glibc (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def resident_mib() -> float | None:
    """This process's resident memory in MiB (from ``/proc/self/statm``), None off Linux."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def release_freed_memory(*, first: Callable[[], object] | None = None) -> dict[str, object]:
    """Run ``first`` (dropping what a caller holds without need), collect Python's
    unreachable cycles, then hand the allocator's free memory back to the system.

    Returns what each step gave back, for the log: resident MiB before and after each,
    objects collected, and whether ``malloc_trim`` released anything (False without glibc).
    """
    report: dict[str, object] = {"rss_mib": resident_mib()}
    if first is not None:
        first()
        report["rss_after_drop_mib"] = resident_mib()
    report["collected"] = gc.collect()
    report["rss_after_gc_mib"] = resident_mib()
    trim = _malloc_trim()
    report["released"] = bool(trim(0)) if trim is not None else False
    report["rss_after_trim_mib"] = resident_mib()
    return report


class IdleTrim:
    """Runs ``release`` once the process has been quiet for ``quiet_s`` after work.

    Whoever does work calls ``worked()``; ``run`` looks every ``quiet_s / 2`` seconds. ``clock``
    and ``release`` are injectable so tests can drive it.
    """

    def __init__(
        self,
        *,
        quiet_s: float,
        every_s: float,
        release: Callable[[], dict[str, object]] = release_freed_memory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet_s = quiet_s
        self.every_s = every_s
        self.trims = 0
        self._release = release
        self._clock = clock
        self._last_work: float | None = None
        self._last_trim = float("-inf")

    def worked(self) -> None:
        """Note that work was just done (a page applied, a batch decided)."""
        self._last_work = self._clock()

    def due(self) -> bool:
        """Whether a trim should run now: work since the last one, none for ``quiet_s``, and
        ``every_s`` since the last."""
        if self._last_work is None:
            return False
        now = self._clock()
        return now - self._last_work >= self.quiet_s and now - self._last_trim >= self.every_s

    async def trim_if_due(self) -> bool:
        """Trim now if ``due()``; returns whether it did."""
        if not self.due():
            return False
        started = self._clock()
        self._last_work = None
        self._last_trim = started
        report = await anyio.to_thread.run_sync(self._release)
        self.trims += 1
        _log.info(
            "worker.memory_trimmed", took_ms=round((self._clock() - started) * 1000, 1), **report
        )
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Look for a quiet moment every ``quiet_s / 2`` seconds until ``stop`` is set."""
        if self.quiet_s <= 0:
            return  # turned off
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.quiet_s / 2)
            if not stop.is_set():
                await self.trim_if_due()
