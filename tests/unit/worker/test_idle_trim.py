"""The worker gives freed memory back once quiet after work: not in a busy loop, not twice
without work in between, and never more often than its rate limit."""

from __future__ import annotations

import asyncio
import ctypes.util
import gc

import pytest

from helios.apps.settings import Settings
from helios.apps.workers.trim import IdleTrim, release_freed_memory


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _trim(clock: _Clock, calls: list[int], *, quiet_s: float = 5.0, every_s: float = 30.0):
    def release() -> dict[str, object]:
        calls.append(1)
        return {}

    return IdleTrim(quiet_s=quiet_s, every_s=every_s, release=release, clock=clock)


def test_no_trim_runs_before_any_work() -> None:
    clock, calls = _Clock(), []  # type: ignore[var-annotated]
    idle = _trim(clock, calls)
    clock.now += 3600
    assert asyncio.run(idle.trim_if_due()) is False
    assert calls == []


def test_a_trim_runs_once_quiet_for_the_set_time_after_work() -> None:
    clock, calls = _Clock(), []  # type: ignore[var-annotated]
    idle = _trim(clock, calls)
    idle.worked()
    clock.now += 4.9
    assert asyncio.run(idle.trim_if_due()) is False
    clock.now += 0.1
    assert asyncio.run(idle.trim_if_due()) is True
    assert calls == [1]


def test_no_trim_runs_while_work_keeps_coming() -> None:
    clock, calls = _Clock(), []  # type: ignore[var-annotated]
    idle = _trim(clock, calls)
    for _ in range(1000):  # a page every second for a quarter of an hour
        idle.worked()
        clock.now += 1.0
        assert asyncio.run(idle.trim_if_due()) is False
    assert calls == []


def test_an_idle_process_is_trimmed_once_not_again_and_again() -> None:
    clock, calls = _Clock(), []  # type: ignore[var-annotated]
    idle = _trim(clock, calls)
    idle.worked()
    for _ in range(100):
        clock.now += 10.0
        asyncio.run(idle.trim_if_due())
    assert calls == [1]


def test_trims_after_separate_bursts_are_rate_limited() -> None:
    clock, calls = _Clock(), []  # type: ignore[var-annotated]
    idle = _trim(clock, calls, quiet_s=5.0, every_s=30.0)
    idle.worked()
    clock.now += 5
    assert asyncio.run(idle.trim_if_due()) is True
    idle.worked()
    clock.now += 5  # quiet again, but only 5 s after the last trim
    assert asyncio.run(idle.trim_if_due()) is False
    clock.now += 25
    assert asyncio.run(idle.trim_if_due()) is True
    assert len(calls) == 2


def test_the_running_loop_trims_after_work_and_stops_with_the_process() -> None:
    calls: list[int] = []

    def release() -> dict[str, object]:
        calls.append(1)
        return {}

    async def scenario() -> None:
        idle = IdleTrim(quiet_s=0.05, every_s=0.0, release=release)
        stop = asyncio.Event()
        runner = asyncio.create_task(idle.run(stop))
        idle.worked()
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(runner, timeout=2)

    asyncio.run(scenario())
    assert calls == [1]


def test_zero_turns_the_trim_off() -> None:
    async def scenario() -> None:
        idle = IdleTrim(quiet_s=0.0, every_s=0.0)
        await asyncio.wait_for(idle.run(asyncio.Event()), timeout=1)

    asyncio.run(scenario())
    assert Settings.from_env({"HELIOS_IDLE_TRIM_S": "0"}).idle_trim_s == 0.0
    assert Settings.from_env({}).idle_trim_s == 5.0


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library to call")
def test_releasing_collects_cycles_and_trims_the_c_heap() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    dropped: list[int] = []
    gc.disable()  # or an allocation-triggered collection takes them first
    try:
        for _ in range(1000):
            Node()
        report = release_freed_memory(first=lambda: dropped.append(1))
    finally:
        gc.enable()
    assert dropped == [1]
    assert isinstance(report["collected"], int) and report["collected"] >= 1000
    assert isinstance(report["released"], bool)
    assert report["rss_after_trim_mib"] is None or isinstance(report["rss_after_trim_mib"], float)
