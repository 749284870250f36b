"""What the drills share: runbook pages read as scripts, and Helios run as its real processes.

A runbook marks the commands a drill runs with an HTML comment right before a fenced block:

    <!-- drill: recover -->
    ```sh
    helios projections rebuild
    ```

``Runbook(name).run("recover", env)`` runs that block with bash (``-euo pipefail``), in an
environment where ``helios`` is this checkout's command line. So a runbook whose commands drift
from the product fails its drill.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import httpx

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO / "docs" / "runbooks"
_BLOCK = re.compile(r"<!-- drill: ([a-z0-9-]+) -->\s*\n```(?:sh|bash|console)\n(.*?)```", re.DOTALL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Runbook:
    """One page of docs/runbooks/, its drill-tagged blocks runnable."""

    def __init__(self, name: str) -> None:
        self.path = RUNBOOKS / f"{name}.md"
        self.text = self.path.read_text(encoding="utf-8")
        self.blocks: dict[str, str] = {}
        for tag, code in _BLOCK.findall(self.text):
            assert tag not in self.blocks, f"{self.path}: two blocks tagged {tag}"
            self.blocks[tag] = code

    def run(
        self,
        tag: str,
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        timeout_s: float = 120,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run the block tagged ``tag`` (in ``cwd``); with ``check``, a failing command fails
        the drill."""
        assert tag in self.blocks, f"{self.path} has no block tagged 'drill: {tag}'"
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", self.blocks[tag]],
            env=dict(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if check:
            assert result.returncode == 0, (
                f"{self.path.name} [{tag}] exited {result.returncode}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
            )
        return result

    def start(self, tag: str, env: Mapping[str, str], *, log: Path) -> subprocess.Popen[bytes]:
        """Start the block tagged ``tag`` in the background (a long-running command such as a
        worker); the caller stops it."""
        assert tag in self.blocks, f"{self.path} has no block tagged 'drill: {tag}'"
        with log.open("ab") as out:
            return subprocess.Popen(
                ["bash", "-euo", "pipefail", "-c", f"exec {self.blocks[tag].strip()}"],
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
            )


@attrs.define
class Helios:
    """Helios over one data directory, run as the processes an operator runs."""

    root: Path
    env: dict[str, str]
    port: int
    processes: dict[str, subprocess.Popen[bytes]] = attrs.field(factory=dict)

    @classmethod
    def create(cls, root: Path, **settings: str) -> Helios:
        shim = root / "bin"
        shim.mkdir(parents=True, exist_ok=True)
        command = shim / "helios"
        command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m helios.apps.cli "$@"\n')
        command.chmod(0o755)
        port = free_port()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("HELIOS_") or key == "HELIOS_REQUIRE_SERVICES"
        }
        env.update(
            {
                "PATH": f"{shim}:{os.environ.get('PATH', '')}",
                "PYTHONPATH": str(REPO / "src"),
                "HELIOS_DATA_DIR": str(root / "data"),
                "HELIOS_HTTP_PORT": str(port),
                "HELIOS_URL": f"http://127.0.0.1:{port}",
                "HELIOS_LOG_FORMAT": "json",
                "HELIOS_WORKER_WAIT_S": "0.5",
                "HELIOS_FOLLOWER_POLL_S": "0.2",
                # One key for every process: a drill over PostgreSQL needs it to start.
                "HELIOS_SECRETS_KEK": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                **settings,
            }
        )
        return cls(root=root, env=env, port=port)

    @property
    def url(self) -> str:
        return self.env["HELIOS_URL"]

    def cli(self, *args: str, check: bool = True) -> Any:
        """Run ``helios ARGS`` and decode its JSON output (or return its text)."""
        result = subprocess.run(
            ["helios", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert result.returncode == 0, (
                f"helios {' '.join(args)}: {result.stdout}{result.stderr}"
            )
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError:
            return result.stdout

    def start(self, kind: str) -> None:
        """Start ``api``, ``worker`` (ingest), ``followers`` or ``analytics`` in the background."""
        argv = {
            "api": ["api"],
            "worker": ["worker", "ingest"],
            "followers": ["worker", "followers"],
            "analytics": ["analytics"],
        }
        log = (self.root / f"{kind}.log").open("ab")
        self.processes[kind] = subprocess.Popen(
            ["helios", *argv[kind]], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        if kind == "api":
            self.wait_until(lambda: self._answers("/healthz"), what="the API to answer /healthz")

    def stop(self, kind: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(kind, None)
        if process is None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for kind in list(self.processes):
            self.stop(kind)

    def _answers(self, path: str) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(self.url + path, timeout=2).status_code < 500
        return False

    def wait_until(self, check: Any, *, what: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                logs = {p.name: p.read_text()[-2000:] for p in self.root.glob("*.log")}
                raise AssertionError(f"timed out waiting for {what}; logs: {logs}")
            time.sleep(0.2)

    def wait_until_decided(self, what: str = "the worker to decide every alert") -> None:
        """Wait until the ingest queue is empty (every accepted envelope decided)."""
        self.wait_until(lambda: self.metric('helios_queue_depth{queue="ingest"}') == 0, what=what)

    def provision(self, kind: str = "alertmanager") -> dict[str, str]:
        """A tenant with one integration; returns the CLI's JSON (tenant_id, routing_key, ...)."""
        tenant = self.cli("tenants", "create", "drill")
        issued: dict[str, str] = self.cli(
            "integrations", "create", "--tenant", tenant["tenant_id"], "--kind", kind
        )
        return issued

    def post_alerts(self, routing_key: str, names: list[str]) -> list[int]:
        """POST one Alertmanager webhook per name; returns the status codes."""
        codes = []
        for name in names:
            body = alertmanager_webhook(name)
            response = httpx.post(
                f"{self.url}/v1/ingest/alertmanager/{routing_key}", json=body, timeout=10
            )
            codes.append(response.status_code)
        return codes

    def metric(self, line_prefix: str) -> float | None:
        text = httpx.get(self.url + "/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(line_prefix + " "):
                return float(line.rsplit(" ", 1)[1])
        return None


def alertmanager_webhook(name: str, status: str = "firing") -> dict[str, Any]:
    labels = {"alertname": name, "service": "checkout", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "helios",
        "groupLabels": {"alertname": name},
        "commonLabels": labels,
        "commonAnnotations": {"summary": f"{name} is failing"},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": f"{name} is failing"},
                "startsAt": "2026-12-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph",
                "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
            }
        ],
    }


@contextlib.contextmanager
def running(helios: Helios) -> Iterator[Helios]:
    try:
        yield helios
    finally:
        helios.stop_all()


class PrivateServer:
    """A server process of one drill alone (moto, redis-server, an SMTP sink), on a free port,
    that the drill can kill and start again on the same port."""

    def __init__(self, argv: list[str], *, port: int, log: Path) -> None:
        self.argv = argv
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            assert self.process.poll() is None, f"{self.argv[0]} exited: {self.log.read_text()}"
            assert time.monotonic() < deadline, f"{self.argv[0]} did not listen on {self.port}"
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
