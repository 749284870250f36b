"""The supervisor of ``helios up`` is a small process: it loads neither rich (structlog's
console renderer would) nor ssl and OpenSSL (asyncio would), which it never uses."""

from __future__ import annotations

import signal
import subprocess
import sys

from helios.apps.embedded.supervisor import Child, spec


def _imported_by_a_running_supervisor(log_format: str) -> set[str]:
    sleeper = Child(name="sleeper", argv=(sys.executable, "-c", "import time; time.sleep(60)"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "helios.apps.embedded.supervisor",
            spec([sleeper], log_format=log_format, log_level="info"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = []
    try:
        for line in process.stderr:  # until the child is started: every import is done
            lines.append(line)
            if "supervisor.child_started" in line:
                break
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    lines += rest.splitlines()
    return {line.rpartition("|")[2].strip() for line in lines if line.startswith("import time:")}


def test_a_supervisor_logging_json_loads_neither_rich_nor_ssl() -> None:
    imported = _imported_by_a_running_supervisor("json")
    assert {"asyncio", "structlog"} <= imported
    assert not {"rich.console", "_ssl"} & imported


def test_a_supervisor_logging_for_a_terminal_loads_neither_rich_nor_ssl() -> None:
    imported = _imported_by_a_running_supervisor("console")
    assert "structlog" in imported
    assert not {"rich.console", "_ssl"} & imported
