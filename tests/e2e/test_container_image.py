"""What the Dockerfile installs works on its own: no Docker engine is needed to prove it.

The test builds the same artefact the image's ``build`` stage builds (the wheel, from the same
files the Dockerfile copies), installs it into a clean virtualenv (no PYTHONPATH, no source
tree: only the wheel and its dependencies), and runs that ``helios`` as the image would — the
API and the workers as separate processes over PostgreSQL, Redis and the SQS-compatible server
— then posts one alert and reads it back. The image's health check script is run against the
processes too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from production import Deployment, base_env, delete_queues, private_database, wait_healthy
from threaded import free_port

REPO = Path(__file__).resolve().parents[2]
HEALTHCHECK = REPO / "docker" / "healthcheck.py"
FIXTURES = REPO / "tests" / "fixtures" / "payloads" / "alertmanager-0.25-captured"
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.sqs, pytest.mark.slow]


def _dockerfile_sources() -> list[str]:
    """The files the Dockerfile's build stage copies (COPY lines without --from)."""
    sources: list[str] = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources.extend(words[1:-1])
    return sources


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(c) for c in command], check=False, cwd=cwd, env=env, capture_output=True, timeout=600
    )
    assert result.returncode == 0, (command, result.stderr.decode()[-4000:])
    return result.stdout.decode()


@pytest.fixture(scope="module")
def installed_helios(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``helios`` from a wheel of the Dockerfile's sources, in a virtualenv of its own."""
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    context.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for source in ("pyproject.toml", "README.md", "src"):
        assert source in _dockerfile_sources() or source == "src", source
        if (REPO / source).is_dir():
            shutil.copytree(REPO / source, context / source, ignore=ignore)
        else:
            shutil.copy2(REPO / source, context / source)
    wheels = root / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, context)
    [wheel] = wheels.glob("helios-*.whl")
    venv = root / "venv"
    # The base interpreter, as the image's python:3.11 is: not this test run's virtualenv.
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
         "--quiet", "--only-binary=:all:", wheel)  # fmt: skip
    return venv / "bin" / "helios"


@pytest.fixture
def deployment(
    installed_helios: Path, tmp_path: Path, redis_url: str, sqs_endpoint: str
) -> Iterator[Deployment]:
    server = os.environ.get("HELIOS_TEST_DATABASE_URL", "")
    if not server:
        pytest.fail("HELIOS_TEST_DATABASE_URL not set")
    prefix = f"img{uuid.uuid4().hex[:10]}-"
    with private_database(server) as store_url:
        env = base_env(
            store_url=store_url, redis_url=redis_url, sqs_endpoint=sqs_endpoint, prefix=prefix
        )
        env.pop("PYTHONPATH", None)
        deployment = Deployment(helios=[str(installed_helios)], env=env, data_root=tmp_path)
        try:
            yield deployment
        finally:
            deployment.stop_all()
            delete_queues(sqs_endpoint, prefix)


def _healthcheck(pid: int, port: int) -> int:
    """The image's HEALTHCHECK command, looking at ``pid`` instead of PID 1."""
    env = {**os.environ, "HELIOS_HEALTHCHECK_PID": str(pid), "HELIOS_HTTP_PORT": str(port)}
    return subprocess.run(
        [sys.executable, HEALTHCHECK], check=False, env=env, timeout=30
    ).returncode


def test_the_wheel_installed_alone_serves_the_api_and_a_worker_that_record_a_posted_alert(
    deployment: Deployment, installed_helios: Path
) -> None:
    """Wheel in a clean venv: migrate, provision, api + worker + followers, POST, GET back."""
    python = installed_helios.parent / "python"
    where = _run(python, "-c", "import helios; print(helios.__file__)")
    assert where.startswith(str(installed_helios.parents[1])), where
    deployment.run("db", "migrate")
    deployment.run("queues", "create", "--name", "ingest", "--name", "analytics")
    tenant = deployment.run("tenants", "create", "acme")["tenant_id"]
    key = deployment.run("integrations", "create", "--tenant", tenant, "--kind", "alertmanager")[
        "routing_key"
    ]
    user = deployment.run(
        "users", "create", "--tenant", tenant, "--email", "ana@acme.example", "--role", "viewer"
    )["user_id"]
    token = deployment.run("tokens", "create", "--user", user, "--name", "test")["token"]

    port = free_port()
    # Started together (each takes seconds to import), then waited for.
    api = deployment.start("api", "api", extra={"HELIOS_HTTP_PORT": str(port)})
    worker = deployment.start(
        "worker",
        "worker",
        "ingest",
        ready=b"worker.started",
        wait=False,
        extra={"HELIOS_WORKER_WAIT_S": "1"},
    )
    followers = deployment.start(
        "followers",
        "worker",
        "followers",
        ready=b"followers.started",
        wait=False,
        extra={"HELIOS_FOLLOWER_POLL_S": "0.2"},
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, api)
    worker.wait_for(b"worker.started")
    followers.wait_for(b"followers.started")
    assert _healthcheck(api.pid, port) == 0
    assert _healthcheck(worker.pid, port) == 0

    body = json.loads((FIXTURES / "webhook_v4_firing.json").read_text())
    posted = httpx.post(f"{url}/v1/ingest/alertmanager/{key}", json=body, timeout=10)
    assert posted.status_code == 202, posted.text
    alerts = _until_listed(url, token, deployment)
    assert {a["status"] for a in alerts} == {"triggered"}
    names = {a["labels"].get("alertname") for a in alerts}
    assert names == {a["labels"]["alertname"] for a in body["alerts"]}

    # uvicorn drains, then re-raises the SIGTERM it caught: killed by it, after a clean stop.
    assert api.stop() in (0, -signal.SIGTERM), api.tail()
    assert _healthcheck(api.pid, port) == 1


def _until_listed(url: str, token: str, deployment: Deployment) -> list[dict]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{url}/v1/alerts", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        if items:
            return list(items)
        time.sleep(0.2)
    raise AssertionError(f"the posted alert never showed on /v1/alerts\n{deployment.tails()}")
