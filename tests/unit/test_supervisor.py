"""The supervisor of ``helios up`` with small Python children: restarts with backoff, gives up
on a crash loop, stops its children on the way out."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from helios.apps.embedded.supervisor import (
    Backoff,
    Child,
    CrashLoop,
    Supervisor,
    spec,
    watch_parent,
)

pytestmark = pytest.mark.anyio

QUICK = Backoff(first_s=0.05, longest_s=0.2, stable_s=30)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def python(code: str, name: str = "child") -> Child:
    return Child(name=name, argv=(sys.executable, "-c", code))


def draining(marker: Path) -> Child:
    """A child that writes its pid, then on SIGTERM writes "drained" and exits 0."""
    return python(
        "import os, signal, sys, time\n"
        f"marker = {str(marker)!r}\n"
        "def drain(*_):\n"
        "    open(marker, 'a').write('drained\\n'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, drain)\n"
        "open(marker, 'a').write(f'{os.getpid()}\\n')\n"
        "while True: time.sleep(0.05)\n"
    )


async def _until(condition: object, within_s: float = 20) -> None:
    assert callable(condition)
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def test_a_stop_sends_sigterm_lets_children_drain_and_exits_0(tmp_path: Path) -> None:
    """Both children hear SIGTERM, drain and exit 0; the supervisor says it stopped cleanly."""
    first, second = tmp_path / "a", tmp_path / "b"
    supervisor = Supervisor([draining(first), draining(second)], backoff=QUICK)
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(supervisor.run(stop))
        await _until(lambda: _lines(first) and _lines(second))
        stop.set()
        assert await running == 0
    assert _lines(first)[-1] == "drained"
    assert _lines(second)[-1] == "drained"
    assert [log for log in logs if log["event"] == "supervisor.stopped"] == [
        {"event": "supervisor.stopped", "clean": True, "log_level": "info"}
    ]


async def test_a_killed_child_is_restarted_after_a_pause_and_logged(tmp_path: Path) -> None:
    """kill -9 of a child: a new process runs it again; exit, pause and start are logged."""
    marker = tmp_path / "pids"
    supervisor = Supervisor([draining(marker)], backoff=QUICK)
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(supervisor.run(stop))
        await _until(lambda: len(_lines(marker)) == 1)
        killed = int(_lines(marker)[0])
        assert supervisor.pids() == {"child": killed}
        os.kill(killed, signal.SIGKILL)
        await _until(lambda: len(_lines(marker)) == 2)
        assert supervisor.pids() == {"child": int(_lines(marker)[1])}
        stop.set()
        # What each child wrote and what the supervisor logged, should it ever not stop clean.
        assert await running == 0, (_lines(marker), logs)
    exited = [log for log in logs if log["event"] == "supervisor.child_exited"]
    assert [(log["pid"], log["exit_code"]) for log in exited] == [(killed, -signal.SIGKILL)]
    restarting = [log for log in logs if log["event"] == "supervisor.child_restarting"]
    assert [(log["child"], log["in_s"]) for log in restarting] == [("child", QUICK.first_s)]


async def test_a_crash_looping_child_stops_everything_and_exits_1(tmp_path: Path) -> None:
    """A child failing at once, again and again: pauses double, then the supervisor gives up
    and stops the healthy child too."""
    healthy = tmp_path / "healthy"
    supervisor = Supervisor(
        [python("raise SystemExit(3)", name="broken"), draining(healthy)],
        backoff=QUICK,
        crash_loop=CrashLoop(restarts=3, within_s=60),
    )
    with capture_logs() as logs:
        assert await asyncio.wait_for(supervisor.run(asyncio.Event()), 60) == 1
    pauses = [log["in_s"] for log in logs if log["event"] == "supervisor.child_restarting"]
    assert pauses == [0.05, 0.1, 0.2]
    assert [log["child"] for log in logs if log["event"] == "supervisor.crash_loop"] == ["broken"]
    assert _lines(healthy)[-1] == "drained"


async def test_a_child_deaf_to_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    """A child that ignores SIGTERM is SIGKILLed once ``grace_s`` has passed; exit status 1."""
    marker = tmp_path / "deaf"
    deaf = python(
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"open({str(marker)!r}, 'w').write('up')\n"
        "while True: time.sleep(0.05)\n"
    )
    supervisor = Supervisor([deaf], backoff=QUICK, grace_s=0.5)
    stop = asyncio.Event()
    with capture_logs() as logs:
        running = asyncio.create_task(supervisor.run(stop))
        await _until(marker.exists)
        stop.set()
        assert await running == 1
    assert [log["event"] for log in logs if log["event"] == "supervisor.child_killed"] == [
        "supervisor.child_killed"
    ]
    assert supervisor.pids() == {}


async def test_a_child_stops_when_its_supervisor_is_not_its_parent() -> None:
    """``watch_parent`` sets stop when the given supervisor is not (or no longer) the parent."""
    stop = asyncio.Event()
    await asyncio.wait_for(watch_parent(stop, os.getppid() + 1_000_000, poll_s=0.01), 5)
    assert stop.is_set()
    still = asyncio.Event()
    watching = asyncio.create_task(watch_parent(still, os.getppid(), poll_s=0.01))
    await asyncio.sleep(0.1)
    assert not still.is_set()
    still.set()
    await watching


async def test_the_supervisor_module_runs_a_spec_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    """``python -m helios.apps.embedded.supervisor SPEC`` (what ``helios up`` execs into)
    starts the children of the spec and, on SIGTERM, drains them and exits 0."""
    marker = tmp_path / "pids"
    wanted = spec([draining(marker)], log_format="json", log_level="info")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "helios.apps.embedded.supervisor",
        wanted,
        stderr=asyncio.subprocess.PIPE,
    )
    await _until(lambda: _lines(marker))
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr
    assert _lines(marker)[-1] == "drained"
    assert b'"event":"supervisor.stopped"' in stderr


@pytest.mark.parametrize(("inherited", "seen"), [(None, "2"), ("8", "8")])
async def test_the_children_of_the_supervisor_module_use_two_malloc_arenas_unless_told(
    tmp_path: Path, inherited: str | None, seen: str
) -> None:
    """glibc's default of eight arenas per core keeps much freed memory in a threaded child;
    an operator's own ``MALLOC_ARENA_MAX`` wins."""
    marker = tmp_path / "arenas"
    child = python(
        "import os, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        f"open({str(marker)!r}, 'w').write(os.environ.get('MALLOC_ARENA_MAX', '-') + '\\n')\n"
        "while True: time.sleep(0.05)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    if inherited is not None:
        env["MALLOC_ARENA_MAX"] = inherited
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "helios.apps.embedded.supervisor",
        spec([child], log_format="json", log_level="info"),
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    await _until(lambda: _lines(marker))
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr
    assert _lines(marker) == [seen]
