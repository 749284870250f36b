"""Fixtures and helpers for tests that need a real server on loopback.

`scripts/services.sh start` runs the servers and writes their addresses to `.services/env`;
`tests/conftest.py` loads that file and re-exports the fixtures below, so any test can ask for
`postgres_url`, `redis_url`, `sqs_endpoint` or `smtp_sink` by name.

A missing server skips the test with a reason on a developer's machine. With
`HELIOS_REQUIRE_SERVICES=1` (set by `scripts/test.sh`, hence by CI) it fails instead: a test
suite that silently skipped every adapter test would pass while proving nothing.
"""

from __future__ import annotations

import contextlib
import mailbox
import os
import secrets
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import attrs
import pytest

REQUIRE_SERVICES_VAR = "HELIOS_REQUIRE_SERVICES"


def services_required() -> bool:
    """Tell whether a missing server must fail the run rather than skip."""
    return os.environ.get(REQUIRE_SERVICES_VAR, "") not in ("", "0", "false", "no")


def require_service(env_var: str, what: str) -> str:
    """Return the address of a test server from the environment.

    Raises:
        pytest.skip.Exception: the variable is unset and servers are optional.
        pytest.fail.Exception: the variable is unset and HELIOS_REQUIRE_SERVICES=1.
    """
    value = os.environ.get(env_var, "").strip()
    if value:
        return value
    reason = f"{env_var} not set: no {what}"
    if services_required():
        pytest.fail(f"{reason} (and {REQUIRE_SERVICES_VAR}=1); run scripts/services.sh start")
    pytest.skip(reason)


def _with_path(url: str, path: str) -> str:
    return urllib.parse.urlsplit(url)._replace(path=path).geturl()


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own for this test session; dropped at the end.

    Several sessions (developers, CI) may share one server, hence a random database name.
    """
    import psycopg

    server_url = require_service("HELIOS_TEST_DATABASE_URL", "PostgreSQL server")
    name = f"helios_test_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_path(server_url, f"/{name}")
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            # FORCE: a pool left open by a failing test must not keep the database alive.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Redis ------------------------------------------------------------------------------------

_REDIS_CLAIM_TTL_S = 3600
_REDIS_FIRST_TEST_DB = 1  # db 0 holds the claims; 1..15 are handed out to test sessions
_REDIS_DB_COUNT = 16


@pytest.fixture(scope="session")
def redis_session_url() -> Iterator[str]:
    """A Redis database index claimed by this test session alone.

    Two test runs against the same server each claim a different index (SET NX in db 0), so
    one run's FLUSHDB never wipes the other's keys.

    Raises:
        pytest.fail.Exception: every index is claimed by another run.
    """
    import redis

    server_url = require_service("HELIOS_TEST_REDIS_URL", "Redis server")
    token = secrets.token_hex(8)
    admin = redis.Redis.from_url(_with_path(server_url, "/0"), socket_timeout=5)
    try:
        for db in range(_REDIS_FIRST_TEST_DB, _REDIS_DB_COUNT):
            claim = f"helios:test:claim:{db}"
            if admin.set(claim, token, nx=True, ex=_REDIS_CLAIM_TTL_S):
                break
        else:
            pytest.fail("every Redis test database index is claimed by another test run")
        try:
            yield _with_path(server_url, f"/{db}")
        finally:
            if admin.get(claim) == token.encode():
                admin.delete(claim)
    finally:
        admin.close()


@pytest.fixture
def redis_url(redis_session_url: str) -> str:
    """The session's Redis database, emptied before each test."""
    import redis

    client = redis.Redis.from_url(redis_session_url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()
    return redis_session_url


# --- SQS-compatible server (moto) -------------------------------------------------------------


@pytest.fixture(scope="session")
def sqs_endpoint() -> str:
    """The SQS-compatible endpoint URL; tests should use queue names of their own."""
    return require_service("HELIOS_TEST_SQS_URL", "SQS-compatible server")


def reset_moto(endpoint: str) -> None:
    """Forget every queue and message on the moto server.

    Other test runs may share the server: prefer unique queue names, reset only when a test
    must see an empty server.
    """
    request = urllib.request.Request(_with_path(endpoint, "/moto-api/reset"), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


# --- SMTP sink --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SmtpSink:
    """An SMTP server that keeps every message it receives in a Maildir."""

    host: str
    port: int
    maildir: Path | None

    def messages(self, *, to: str | None = None) -> list[Message]:
        """The messages received so far, optionally only those addressed to `to`.

        Raises:
            RuntimeError: the sink's Maildir is not known (HELIOS_TEST_SMTP_MAILDIR unset).
        """
        if self.maildir is None:
            raise RuntimeError("HELIOS_TEST_SMTP_MAILDIR not set: cannot read received mail")
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        found: list[Message] = [box[key] for key in box.iterkeys()]
        if to is not None:
            found = [m for m in found if to in (m.get("To") or "")]
        return found


@pytest.fixture(scope="session")
def smtp_sink() -> SmtpSink:
    """The SMTP sink's address and a reader for what it received."""
    host = require_service("HELIOS_TEST_SMTP_HOST", "SMTP sink")
    port = require_service("HELIOS_TEST_SMTP_PORT", "SMTP sink")
    maildir = os.environ.get("HELIOS_TEST_SMTP_MAILDIR")
    return SmtpSink(host=host, port=int(port), maildir=Path(maildir) if maildir else None)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL server of one test alone, so the test can stop, crash and start it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.url = f"postgresql://helios@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, cwd="/tmp", capture_output=True)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            "initdb", "-D", str(self.data), "-U", "helios", "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root}"
        )
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o", options,
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A clean shutdown (``-m fast``)."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def crash(self) -> None:
        """Stop at once, as a power cut or a killed server would (``-m immediate``)."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh PostgreSQL server on a free port, removed after the test."""
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        reason = "initdb/pg_ctl not on PATH: cannot run a private PostgreSQL"
        if services_required():
            pytest.fail(reason)  # CI must run the outage tests, never skip them
        pytest.skip(reason)
    server = PrivatePostgres(Path(f"/tmp/helios-pg-{os.getpid()}-{free_port()}"))
    server.init()
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
