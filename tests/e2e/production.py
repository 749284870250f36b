"""Helios as production runs it, on loopback: separate processes over PostgreSQL, Redis and SQS.

``Deployment`` holds the settings every process shares (a private database and private queue
names on the shared servers), runs operator commands and starts long-running processes whose
last log lines it keeps, to explain a failure.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

LOG_LINES = 60
STARTED_WITHIN_S = 60
"""Start-up imports take a few seconds on a busy 2-core machine."""


@contextlib.contextmanager
def private_database(server_url: str) -> Iterator[str]:
    """A database of one test alone on the shared server, dropped afterwards."""
    name = f"helios_prod_{secrets.token_hex(5)}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Process:
    """A long-running ``helios`` process; its output (JSON logs) read by a thread into a
    bounded deque, so a full pipe never blocks it."""

    def __init__(self, name: str, popen: subprocess.Popen[bytes]) -> None:
        self.name = name
        self.popen = popen
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self._lines = 0
        self._seen: list[str] = []
        self._lock = threading.Lock()
        assert popen.stdout is not None
        threading.Thread(target=self._read, args=(popen.stdout,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            with self._lock:
                self.log.append(line)
                # Start-up lines are what callers wait for: keep the first ones whole.
                if len(self._seen) < 200:
                    self._seen.append(line)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait_for(self, marker: bytes, timeout_s: float = STARTED_WITHIN_S) -> None:
        """Wait until a log line (among its first 200) holds ``marker``.

        Raises:
            AssertionError: the process exited, or no such line came within ``timeout_s``.
        """
        text = marker.decode()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if any(text in line for line in self._seen):
                    return
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.popen.returncode})\n{self.tail()}")
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no {marker!r} in {timeout_s} s\n{self.tail()}")

    def kill(self) -> None:
        """kill -9, as a crashed host or an OOM kill would."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM, as ECS stops a task; the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                return self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
                raise
        return int(self.popen.returncode)

    def tail(self) -> str:
        with self._lock:
            lines = list(self.log)
        return f"--- {self.name} (pid {self.pid}) ---\n" + "\n".join(lines)


class Deployment:
    """The shared settings of one deployment's processes, and the processes started."""

    def __init__(self, *, helios: Sequence[str], env: dict[str, str], data_root: Path) -> None:
        self.helios = list(helios)
        self.env = env
        self.data_root = data_root
        self.processes: list[Process] = []

    def run(self, *args: str) -> Any:
        """An operator command (``helios tenants create …``); its JSON output.

        Raises:
            AssertionError: the command failed.
        """
        result = subprocess.run(
            [*self.helios, *args],
            check=False,
            env=self._env("cli"),
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, (args, result.stderr.decode()[-3000:])
        out = result.stdout.decode().strip()
        return json.loads(out) if out.startswith(("{", "[")) else out

    def start(
        self,
        name: str,
        *args: str,
        ready: bytes = b"",
        wait: bool = True,
        extra: dict[str, str] | None = None,
    ) -> Process:
        """Start ``helios ARGS…``; with ``wait``, wait for its log line ``ready`` (if any;
        without ``wait`` the caller calls ``wait_for(ready)`` itself)."""
        popen = subprocess.Popen(
            [*self.helios, *args],
            env={**self._env(name), **(extra or {})},
            # Logs (stderr) and anything printed, in one stream.
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        process = Process(name, popen)
        self.processes.append(process)
        if ready and wait:
            process.wait_for(ready)
        return process

    def _env(self, name: str) -> dict[str, str]:
        # Each process its own data dir, as each ECS task has its own disk.
        data_dir = self.data_root / name
        data_dir.mkdir(parents=True, exist_ok=True)
        return {**self.env, "HELIOS_DATA_DIR": str(data_dir)}

    def stop_all(self) -> None:
        for process in self.processes:
            with contextlib.suppress(Exception):
                process.stop(timeout_s=15)

    def tails(self) -> str:
        return "\n".join(p.tail() for p in self.processes)


def base_env(
    *, store_url: str, redis_url: str, sqs_endpoint: str, prefix: str, log_level: str = "info"
) -> dict[str, str]:
    """The environment of every process: the production settings, pointed at loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
    return {
        **env,
        "HELIOS_STORE_URL": store_url,
        # Shared by every process of the deployment, as the secret of the ECS task definitions.
        "HELIOS_SECRETS_KEK": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "HELIOS_REDIS_URL": redis_url,
        "HELIOS_QUEUE": "sqs",
        "HELIOS_SQS_ENDPOINT_URL": sqs_endpoint,
        "HELIOS_SQS_PREFIX": prefix,
        "HELIOS_LOG_FORMAT": "json",
        "HELIOS_LOG_LEVEL": log_level,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def wait_healthy(url: str, process: Process, timeout_s: float = STARTED_WITHIN_S) -> None:
    """Poll ``GET /healthz`` until it answers 200.

    Raises:
        AssertionError: the process exited or the API did not answer in time.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.name} exited\n{process.tail()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{url}/healthz never answered 200\n{process.tail()}")


def delete_queues(endpoint: str, prefix: str) -> None:
    """Delete every queue whose name starts with ``prefix`` (the shared server stays light)."""
    import boto3

    client = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    for url in client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
        with contextlib.suppress(Exception):
            client.delete_queue(QueueUrl=url)
