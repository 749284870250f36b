"""``helios up``'s API child on its own, started with the command line the supervisor gives
it (so that whatever starts the children is what is tested), for tests of what the child
does at start."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from threaded import free_port

from helios.apps.cli.up import children
from helios.apps.settings import Settings


@contextmanager
def api_child(
    tmp_path: Path, data_dir: Path, *, answering: str = "/healthz", **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The API child over ``data_dir`` with ``settings`` (``HELIOS_*`` of the environment
    left out), once ``answering`` answers: yields it and its base URL; stops it with SIGTERM
    afterwards (exit status 0 checked). Its log is ``tmp_path / "api.log"``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
    env.update(HELIOS_DATA_DIR=str(data_dir), HELIOS_LOG_FORMAT="json", **settings)
    started = children(argparse.Namespace(no_api=False), Settings(http_port=port))
    (api,) = [role for role in started if role.name == "api"]
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        child = subprocess.Popen(list(api.argv), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}{answering}").is_success:
                    break
            except httpx.TransportError:
                pass
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield child, base
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0, log.read_text()
    finally:
        if child.poll() is None:
            child.kill()


def child_started(tmp_path: Path) -> list[dict[str, object]]:
    """The ``up.child_started`` lines of the log ``api_child`` wrote."""
    lines = (tmp_path / "api.log").read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    return [e for e in events if e.get("event") == "up.child_started"]
