"""A small process supervisor for ``helios up``: one parent, a few children, kept running.

The parent starts every child, restarts one that ends on its own after a pause that doubles
on each quick failure (``Backoff``), and gives up — stopping the others and exiting non-zero —
when one keeps failing (``CrashLoop``). SIGTERM or SIGINT to the parent sends SIGTERM to every
child and waits for them to drain and exit; one still running after ``grace_s`` is killed.

Each child runs in a process group of its own, so a Ctrl-C on the terminal (sent to the
foreground group) reaches the parent only, which decides the order of things. The children
stay in the parent's session: under Linux's autogroup scheduling a session competes with the
rest of the machine as one group, so a child niced below its siblings yields to them only,
not to every other session on the host. A child notices that its parent is gone
(``watch_parent``) and stops by itself, so a ``kill -9`` of the parent leaves no orphan
serving the port.

Every start, exit, restart and give-up is one structured log line (``supervisor.*``).

``python -m helios.apps.embedded.supervisor SPEC`` runs a supervisor alone: ``helios up``
execs into it once the first start is prepared, so that the parent, which only watches,
holds none of the modules the API and the workers need (tens of MiB less in all).
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # Run as ``helios up``'s supervisor, which writes log lines and never speaks TLS: without
    # these, structlog would load rich for its console renderer and asyncio the ssl module
    # and OpenSSL (about 6 MiB of the process's PSS, for nothing). Both import without them.
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]

import asyncio
import contextlib
import json
import os
import signal
import time
from collections import deque
from collections.abc import Mapping, Sequence

import attrs
import structlog

_log = structlog.get_logger("helios.supervisor")

MALLOC_ARENAS = "2"
"""glibc malloc arenas of each child (``MALLOC_ARENA_MAX``) unless the environment sets it.
glibc's default, eight per core, lets each of the worker threads (SQLite, the followers, DuckDB)
keep freed memory in an arena of its own: with two, a worker child holding 100,000 open alerts
keeps tens of MiB less, for no measurable change in time (one GIL serialises the Python anyway)."""


@attrs.frozen(kw_only=True)
class Child:
    """One supervised process: its name (in the logs) and its command line."""

    name: str
    argv: tuple[str, ...]


@attrs.frozen(kw_only=True)
class Backoff:
    """Pause before restarting a child: ``first_s``, doubled per quick failure, at most
    ``longest_s``; a child that ran ``stable_s`` before failing starts again from ``first_s``."""

    first_s: float = 0.5
    longest_s: float = 10.0
    stable_s: float = 30.0


@attrs.frozen(kw_only=True)
class CrashLoop:
    """More than ``restarts`` restarts of one child within ``within_s`` seconds: give up."""

    restarts: int = 5
    within_s: float = 60.0


@attrs.define
class _Running:
    child: Child
    process: asyncio.subprocess.Process | None = None
    restarts: deque[float] = attrs.field(factory=deque)
    pause_s: float = 0.0


class Supervisor:
    """Runs ``children`` until ``stop`` is set or one of them crash-loops."""

    def __init__(
        self,
        children: Sequence[Child],
        *,
        backoff: Backoff | None = None,
        crash_loop: CrashLoop | None = None,
        grace_s: float = 30.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._children = [_Running(child) for child in children]
        self._backoff = backoff or Backoff()
        self._crash_loop = crash_loop or CrashLoop()
        self._grace_s = grace_s
        self._env = dict(env) if env is not None else None
        self._gave_up: str | None = None

    def pids(self) -> dict[str, int]:
        """The process id of each child running now, by name."""
        return {
            running.child.name: running.process.pid
            for running in self._children
            if running.process is not None and running.process.returncode is None
        }

    async def run(self, stop: asyncio.Event) -> int:
        """Start the children and keep them running; return the parent's exit status: 0 after
        a clean stop, 1 when a child crash-looped or had to be killed on the way out."""
        keepers = [asyncio.create_task(self._keep(running, stop)) for running in self._children]
        try:
            await stop.wait()
        finally:
            stop.set()
            clean = await self._terminate_all()
            # A keeper that was starting a child when stop came ends it itself (see _keep).
            _done, late = await asyncio.wait(keepers, timeout=self._grace_s)
            for keeper in late:
                keeper.cancel()
        if self._gave_up is not None:
            return 1
        _log.info("supervisor.stopped", clean=clean)
        return 0 if clean else 1

    async def _keep(self, running: _Running, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                # Not a session of its own: see the module's docstring. Out of the terminal's
                # foreground group, a child reading it would be stopped: it reads nothing.
                *running.child.argv,
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                process_group=0,
            )
            running.process = process
            if stop.is_set():  # stop came while it was starting, after the others were told
                process.terminate()
                await process.wait()
                return
            _log.info("supervisor.child_started", child=running.child.name, pid=process.pid)
            code = await process.wait()
            if stop.is_set():
                return
            ran_s = time.monotonic() - started
            _log.warning(
                "supervisor.child_exited",
                child=running.child.name,
                pid=process.pid,
                exit_code=code,
                ran_s=round(ran_s, 3),
            )
            if self._crash_looping(running, ran_s):
                self._gave_up = running.child.name
                _log.error(
                    "supervisor.crash_loop",
                    child=running.child.name,
                    restarts=len(running.restarts),
                    within_s=self._crash_loop.within_s,
                )
                stop.set()
                return
            _log.info(
                "supervisor.child_restarting",
                child=running.child.name,
                in_s=running.pause_s,
                restart=len(running.restarts),
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=running.pause_s)

    def _crash_looping(self, running: _Running, ran_s: float) -> bool:
        """Record one more restart; True when there are too many in the window. Sets the
        pause before the next start."""
        now = time.monotonic()
        if ran_s >= self._backoff.stable_s:
            running.pause_s = 0.0
        running.pause_s = (
            self._backoff.first_s
            if running.pause_s == 0.0
            else min(running.pause_s * 2, self._backoff.longest_s)
        )
        running.restarts.append(now)
        while running.restarts and running.restarts[0] < now - self._crash_loop.within_s:
            running.restarts.popleft()
        return len(running.restarts) > self._crash_loop.restarts

    async def _terminate_all(self) -> bool:
        """SIGTERM every running child, wait ``grace_s`` for all, then SIGKILL the rest.
        Returns whether every child ended by itself with status 0."""
        alive = [
            running.process
            for running in self._children
            if running.process is not None and running.process.returncode is None
        ]
        for process in alive:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        clean = True
        waits = [asyncio.ensure_future(process.wait()) for process in alive]
        if waits:
            _done, late = await asyncio.wait(waits, timeout=self._grace_s)
            if late:
                clean = False
                for process in alive:
                    if process.returncode is None:
                        _log.error("supervisor.child_killed", pid=process.pid)
                        with contextlib.suppress(ProcessLookupError):
                            process.kill()
                await asyncio.gather(*late)
        for running in self._children:
            ended = running.process
            if ended is not None and ended in alive and ended.returncode != 0:
                clean = False
                _log.warning(
                    "supervisor.child_unclean_exit",
                    child=running.child.name,
                    exit_code=ended.returncode,
                )
        return clean


async def watch_parent(stop: asyncio.Event, parent: int, *, poll_s: float = 0.25) -> None:
    """Set ``stop`` when ``parent``, the supervisor that started this process, has ended (a
    child of a killed supervisor is re-parented: its parent id changes). The id is given, not
    read at start: the supervisor may have died while this process was still importing."""
    while not stop.is_set():
        if os.getppid() != parent:
            _log.warning("supervisor.parent_gone", parent=parent)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_s)


def spec(children: Sequence[Child], *, log_format: str, log_level: str) -> str:
    """The argument of ``python -m helios.apps.embedded.supervisor`` for ``children``."""
    return json.dumps(
        {
            "children": [{"name": c.name, "argv": list(c.argv)} for c in children],
            "log_format": log_format,
            "log_level": log_level,
        }
    )


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the children run with: ``env``, and ``MALLOC_ARENA_MAX`` unless it is
    set (glibc reads it when a process starts, hence here rather than in the child)."""
    return {"MALLOC_ARENA_MAX": MALLOC_ARENAS, **env}


def main(argv: Sequence[str]) -> int:
    """Supervise the children of ``argv[0]`` (see ``spec``) until SIGTERM or SIGINT; the exit
    status of ``Supervisor.run``."""
    from helios.apps.observability import configure_logging

    wanted = json.loads(argv[0])
    configure_logging(log_format=wanted["log_format"], level=wanted["log_level"])
    children = [Child(name=c["name"], argv=tuple(c["argv"])) for c in wanted["children"]]

    async def supervise() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        return await Supervisor(children, env=child_environment(os.environ)).run(stop)

    return asyncio.run(supervise())


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
