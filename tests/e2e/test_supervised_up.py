"""``helios up`` as supervised processes, killed with ``kill -9`` during a burst of webhooks.

A real ``helios up`` (parent supervisor, API child, worker child) over a temporary data
directory receives Alertmanager webhooks (10 distinct alerts each) from a few concurrent
clients while the API child, then the worker child, then the parent are SIGKILLed; the killed
children are restarted by the supervisor, the killed parent by the test. Every alert of a
request answered 202 must be decided exactly once and listed by the query API; SIGTERM at the
end stops everything with exit status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from pathlib import Path
from typing import IO

import httpx
import pytest
from threaded import free_port

from helios.apps.library import open_store

pytestmark = pytest.mark.anyio

ALERTS_PER_REQUEST = 10
SENDERS = 4
PER_PHASE = 400
"""Alerts let in around each kill: about 2,000 in all for the worker to decide."""
STARTS_WITHIN_S = 60.0
VISIBLE_WITHIN_S = 120.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Up:
    """One ``helios up`` process: its log lines (the supervisor's and its children's, JSON)."""

    def __init__(self, data_dir: Path, port: int, **settings: str) -> None:
        env = {
            **os.environ,
            **settings,
            "HELIOS_DATA_DIR": str(data_dir),
            "HELIOS_LOG_FORMAT": "json",
            "HELIOS_LOG_LEVEL": "info",
            "HELIOS_WORKER_WAIT_S": "0.2",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "helios.apps.cli", "up", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.lines: deque[str] = deque(maxlen=400)
        self.events: list[dict[str, object]] = []
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stderr,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    self.events.append(event)

    def starts(self, child: str) -> list[int]:
        """The pids the supervisor started ``child`` with, in order."""
        return [
            int(str(event["pid"]))
            for event in list(self.events)
            if event.get("event") == "supervisor.child_started" and event.get("child") == child
        ]

    def named(self, name: str) -> list[dict[str, object]]:
        return [event for event in list(self.events) if event.get("event") == name]

    def log(self) -> str:
        return "\n".join(self.lines)


def _body(first: int) -> bytes:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "Burst", "service": f"svc-{n % 7}", "n": str(n)},
            "annotations": {"summary": f"alert {n}"},
            "startsAt": "2030-01-01T00:00:00Z",
            "fingerprint": f"fp-{n:06d}",
        }
        for n in range(first, first + ALERTS_PER_REQUEST)
    ]
    body = {"version": "4", "status": "firing", "receiver": "helios", "groupKey": f"g{first}"}
    return json.dumps({**body, "alerts": alerts}).encode()


class Burst:
    """Concurrent webhook posts of distinct alerts; remembers the alerts of each 202. Senders
    pause once ``limit`` alerts were accepted, so that the backlog the worker must decide
    stays the same on a fast machine and a slow one."""

    def __init__(self, url: str, key: str) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self._next = 0
        self.accepted: set[str] = set()
        self.refused = 0
        self.limit = 0

    def allow(self, alerts: int) -> int:
        """Let ``alerts`` more be accepted; returns how many were accepted so far."""
        self.limit = len(self.accepted) + alerts
        return len(self.accepted)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            await asyncio.gather(*(self._send(client, stop) for _ in range(SENDERS)))

    async def _send(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if len(self.accepted) >= self.limit:
                await asyncio.sleep(0.02)
                continue
            first, self._next = self._next, self._next + ALERTS_PER_REQUEST
            try:
                answer = await client.post(self._url, content=_body(first), headers=self._headers)
            except httpx.TransportError:  # the API is down or was killed mid-request
                self.refused += 1
                await asyncio.sleep(0.05)
                continue
            if answer.status_code == 202:
                self.accepted.update(
                    f"fp-{n:06d}" for n in range(first, first + ALERTS_PER_REQUEST)
                )
            else:
                self.refused += 1
                await asyncio.sleep(0.05)


async def _until(condition: object, within_s: float, what: str, up: Up) -> None:
    assert callable(condition)
    deadline = time.monotonic() + within_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {within_s} s\n{up.log()}")
        await asyncio.sleep(0.1)


async def _serving(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def _accepted_more(burst: Burst, than: int) -> bool:
    return len(burst.accepted) > than


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie of a reaped-late parent still answers kill 0: look at its state.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    return True


async def _listed(port: int, token: str) -> set[str]:
    listed: set[str] = set()
    cursor: str | None = None
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            page = await client.get(
                f"http://127.0.0.1:{port}/v1/alerts",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
            page.raise_for_status()
            document = page.json()
            listed.update(item["dedup_key"] for item in document["items"])
            cursor = document["next_cursor"]
            if not cursor:
                return listed


async def _mid_burst(up: Up, burst: Burst) -> None:
    """Let a wave of alerts in and return once it is under way."""
    seen = burst.allow(PER_PHASE)
    await _until(lambda: _accepted_more(burst, seen + 50), STARTS_WITHIN_S, "a wave of 202s", up)


async def _kill_child_and_see_it_back(up: Up, child: str, port: int, burst: Burst) -> None:
    await _mid_burst(up, burst)
    before = up.starts(child)
    os.kill(before[-1], signal.SIGKILL)

    async def restarted() -> bool:
        return len(up.starts(child)) > len(before)

    await _until(restarted, STARTS_WITHIN_S, f"a restart of the {child}", up)
    await _until(lambda: _serving(port), STARTS_WITHIN_S, "the API back", up)
    seen = burst.allow(PER_PHASE)
    await _until(lambda: _accepted_more(burst, seen), STARTS_WITHIN_S, "new 202s", up)


async def test_every_alert_answered_202_is_decided_once_through_kill_9_of_each_process(
    tmp_path: Path,
) -> None:
    """kill -9 of the API, the worker and the supervisor mid-burst: nothing 202'd is lost or
    decided twice; killed children come back; SIGTERM then exits 0."""
    data, port = tmp_path / "data", free_port()
    up = Up(data, port)
    try:
        await _until(lambda: _serving(port), STARTS_WITHIN_S, "helios up serving", up)
        key = json.loads((data / "integration.json").read_text())["routing_key"]
        token = json.loads((data / "access.json").read_text())["token"]
        burst = Burst(f"http://127.0.0.1:{port}/v1/ingest/alertmanager", key)
        stop_burst = asyncio.Event()
        sending = asyncio.create_task(burst.run(stop_burst))
        await _kill_child_and_see_it_back(up, "api", port, burst)
        await _kill_child_and_see_it_back(up, "worker", port, burst)
        assert up.named("supervisor.child_restarting"), up.log()

        children = [up.starts("api")[-1], up.starts("worker")[-1]]
        await _mid_burst(up, burst)
        up.process.kill()
        up.process.wait()

        async def orphans_gone() -> bool:
            return all(_gone(pid) for pid in children)

        await _until(orphans_gone, 30, "the children of the killed supervisor exiting", up)
        up = Up(data, port)
        await _until(lambda: _serving(port), STARTS_WITHIN_S, "helios up serving again", up)
        seen = burst.allow(PER_PHASE)
        await _until(lambda: _accepted_more(burst, seen + 100), STARTS_WITHIN_S, "202s", up)
        stop_burst.set()
        await sending

        async def all_listed() -> bool:
            return burst.accepted <= await _listed(port, token)

        await _until(all_listed, VISIBLE_WITHIN_S, "every accepted alert listed", up)
        children = [up.starts("api")[-1], up.starts("worker")[-1]]
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(timeout=60) == 0, up.log()
        assert all(_gone(pid) for pid in children)
        assert up.named("supervisor.stopped")[-1]["clean"] is True
    finally:
        if up.process.poll() is None:
            up.process.kill()

    accepted_per_key: Counter[str] = Counter()
    with open_store(f"sqlite:{data / 'helios.db'}") as helios:
        after = 0
        while page := helios.store.read_log(after, 1000):
            accepted_per_key.update(
                entry.event.signal.dedup_key
                for entry in page
                if entry.name == "helios.alert.signal_accepted.v1"
            )
            after = page[-1].position
    missing = burst.accepted - set(accepted_per_key)
    assert not missing, f"{len(missing)} alerts answered 202 were never decided"
    twice = {key: count for key, count in accepted_per_key.items() if count > 1}
    assert not twice, f"decided more than once: {twice}"
    assert len(burst.accepted) >= 300


def _niceness(pid: int) -> int:
    # Field 19 of stat(5); the fields are counted after the command name's last ")".
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def _autogroup(pid: int) -> str | None:
    """The process's autogroup and its niceness ("/autogroup-123 nice 0"), None without."""
    try:
        return Path(f"/proc/{pid}/autogroup").read_text().strip()
    except OSError:
        return None


async def test_the_worker_child_can_run_at_a_lower_cpu_priority_than_the_api_child_only(
    tmp_path: Path,
) -> None:
    """With HELIOS_UP_WORKER_NICENESS=10 the worker child is niced 10 below the API child, so
    that requests are answered first; both stay in the supervisor's session (one autogroup,
    its niceness untouched), so the worker yields to the API and not to the rest of the host,
    and each child has a process group of its own, out of reach of a terminal's Ctrl-C."""
    data, port = tmp_path / "data", free_port()
    up = Up(data, port, HELIOS_UP_WORKER_NICENESS="10")
    try:

        async def both_running() -> bool:
            started = {str(event.get("role")) for event in up.named("up.child_started")}
            return {"api", "worker"} <= started and await _serving(port)

        await _until(both_running, STARTS_WITHIN_S, "both children running", up)
        parent, api, worker = up.process.pid, up.starts("api")[-1], up.starts("worker")[-1]
        assert _niceness(worker) == _niceness(api) + 10
        assert _niceness(api) == _niceness(parent)
        for child in (api, worker):
            assert os.getsid(child) == os.getsid(parent)
            assert os.getpgid(child) == child != os.getpgid(parent)
            assert _autogroup(child) == _autogroup(parent)
        up.process.send_signal(signal.SIGTERM)
        assert up.process.wait(timeout=60) == 0, up.log()
    finally:
        if up.process.poll() is None:
            up.process.kill()
