"""``helios up``'s API child keeps its threads to the CPUs ``HELIOS_UP_API_CPUS`` names.

The child is started with the command line the supervisor gives it, as in
``test_api_child_loop``; what each of its threads may run on is read back from the system
once it answers, granian's and the intake's threads started by then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from api_child import api_child, child_started
from threaded import free_port

from helios.apps.cli import CONFIG_ERROR

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


def _api_child_threads(
    tmp_path: Path, **settings: str
) -> tuple[dict[int, frozenset[int]], list[dict[str, object]]]:
    """Start the API child, read its threads' CPUs once it is ready (its threads started),
    stop it; with its ``up.child_started`` lines."""
    with api_child(tmp_path, tmp_path / "data", answering="/readyz", **settings) as (child, _):
        threads = _threads_cpus(child.pid)
    return threads, child_started(tmp_path)


def test_by_default_every_thread_of_the_api_runs_on_one_cpu_it_may_use(tmp_path: Path) -> None:
    threads, started = _api_child_threads(tmp_path)
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
    threads, started = _api_child_threads(tmp_path, HELIOS_UP_API_CPUS="any")
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
