"""``helios up``'s API child keeps its threads to the CPUs ``HELIOS_UP_API_CPUS`` names.

The child is started with the command line the supervisor gives it, as in
``test_api_child_loop``; what each of its threads may run on is read back from the system
once it answers, granian's and the intake's threads started by then."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from threaded import free_port

from helios.apps.cli import CONFIG_ERROR
from helios.apps.cli.up import children
from helios.apps.settings import Settings

ALLOWED = frozenset(os.sched_getaffinity(0))


def _threads_cpus(pid: int) -> dict[int, frozenset[int]]:
    """What each thread of ``pid`` may run on."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(task.name)] = frozenset(os.sched_getaffinity(int(task.name)))
        except ProcessLookupError:
            continue
    return found


def _api_child(tmp_path: Path, **settings: str) -> tuple[dict[int, frozenset[int]], list[dict]]:
    """Start the API child, wait for it to answer, read its threads' CPUs; stop it."""
    data_dir, port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
    env.update(HELIOS_DATA_DIR=str(data_dir), HELIOS_LOG_FORMAT="json", **settings)
    started = children(argparse.Namespace(no_api=False), Settings(http_port=port))
    (api,) = [role for role in started if role.name == "api"]
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        child = subprocess.Popen(list(api.argv), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").is_success:
                    break
            except httpx.TransportError:
                pass
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        threads = _threads_cpus(child.pid)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0, log.read_text()
    finally:
        if child.poll() is None:
            child.kill()
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return threads, [e for e in events if e.get("event") == "up.child_started"]


def test_by_default_every_thread_of_the_api_runs_on_one_cpu_it_may_use(tmp_path: Path) -> None:
    threads, started = _api_child(tmp_path)
    # granian's threads and the intake's commit thread as well as the event loop's
    assert len(threads) > 2
    if len(ALLOWED) >= 2:
        (kept,) = set(threads.values())
        assert len(kept) == 1
        assert kept <= ALLOWED
        assert started[0]["cpus"] == sorted(kept)
    else:  # one CPU: nothing to choose
        assert set(threads.values()) == {ALLOWED}
        assert started[0]["cpus"] == "any"


def test_any_leaves_the_api_threads_on_every_cpu_it_may_use(tmp_path: Path) -> None:
    threads, started = _api_child(tmp_path, HELIOS_UP_API_CPUS="any")
    assert set(threads.values()) == {ALLOWED}
    assert started[0]["cpus"] == "any"


def _up_with(tmp_path: Path, cpus: str) -> subprocess.CompletedProcess[str]:
    """``helios up`` over a fresh data directory with ``HELIOS_UP_API_CPUS=cpus``, to its end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
    env.update(HELIOS_DATA_DIR=str(tmp_path / "data"), HELIOS_UP_API_CPUS=cpus)
    return subprocess.run(
        [sys.executable, "-m", "helios.apps.cli", "up", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_helios_up_refuses_a_list_of_cpus_it_may_not_run_on_before_it_starts(
    tmp_path: Path,
) -> None:
    beyond = max(ALLOWED) + 1
    done = _up_with(tmp_path, str(beyond))
    assert done.returncode == CONFIG_ERROR, done.stderr
    assert f"HELIOS_UP_API_CPUS={beyond} names none of the CPUs" in " ".join(done.stderr.split())
    assert not (tmp_path / "data" / "helios.db").exists()  # nothing started


@pytest.mark.parametrize("value", ["first", "0-"])
def test_helios_up_refuses_a_setting_that_is_not_one_any_or_a_cpu_list(
    tmp_path: Path, value: str
) -> None:
    done = _up_with(tmp_path, value)
    assert done.returncode == CONFIG_ERROR, done.stderr
    assert "HELIOS_UP_API_CPUS must be 'one', 'any' or a CPU list" in " ".join(done.stderr.split())
