"""The children of ``helios up`` start lean: the API and the worker import neither the command
line's modules nor rich, which only the interactive commands use."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from threaded import free_port

from helios.apps.embedded.child import CONFIG_ERROR, command

STARTS_WITHIN_S = 60.0


def _imported(stderr: str) -> set[str]:
    """Every module named by ``-X importtime`` on ``stderr``."""
    return {
        line.rpartition("|")[2].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _run_until_started(role: str, data_dir: Path) -> str:
    """Start ``role`` as the supervisor would (with ``-X importtime``), wait for it to say it
    started, stop it with SIGTERM; its stderr."""
    port = free_port()
    argv = list(command(port=port, supervisor=os.getpid(), role=role))
    argv[1:1] = ["-X", "importtime"]
    env = {
        **os.environ,
        "HELIOS_DATA_DIR": str(data_dir),
        "HELIOS_LOG_FORMAT": "json",
        "HELIOS_LOG_LEVEL": "info",
    }
    log = data_dir.parent / f"{role}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=sink)
        try:
            deadline = time.monotonic() + STARTS_WITHIN_S
            while b"up.child_started" not in log.read_bytes():
                assert process.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, f"{role} did not start"
                time.sleep(0.2)
            if role == "api":
                time.sleep(2)  # the app is built once the services are open
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    assert code == 0, log.read_text()[-2000:]
    return log.read_text()


@pytest.mark.parametrize("role", ["api", "worker"])
def test_a_child_runs_its_role_without_the_command_line_or_rich(role: str, tmp_path: Path) -> None:
    stderr = _run_until_started(role, tmp_path / "data")
    imported = _imported(stderr)
    assert "helios.apps.embedded.runner" in imported
    # A refused ``import rich`` is still listed, alone: none of its modules may load.
    assert not {m for m in imported if m.startswith(("rich.", "pygments"))}
    assert not {m for m in imported if m.startswith("helios.apps.cli")}


def test_a_child_with_an_invalid_setting_says_which_in_one_line(tmp_path: Path) -> None:
    argv = command(port=free_port(), supervisor=os.getpid(), role="worker")
    env = {**os.environ, "HELIOS_DATA_DIR": str(tmp_path), "HELIOS_WORKER_BATCH": "many"}
    done = subprocess.run(argv, check=False, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == CONFIG_ERROR
    assert "HELIOS_WORKER_BATCH" in done.stderr
    assert "Traceback" not in done.stderr
