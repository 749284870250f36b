"""A real Alertmanager 0.25 delivers to a real uvicorn server running the ingestion API.

One webhook receiver (key in the path) and one PagerDuty receiver (``url`` pointed at
``/v2/enqueue``). The test posts an alert to Alertmanager's API v2, and both notifications must
be answered 2xx and arrive on the queue as envelopes. The binary is ``prometheus-alertmanager``
(Debian package); without it the test skips locally and fails in CI.
"""

from __future__ import annotations

import datetime
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn

from helios.adapters.queue_codec import decode_envelope
from helios.apps.api.app import create_app
from helios.apps.api.config import ApiConfig
from helios.apps.bootstrap import open_services
from helios.apps.settings import Settings
from helios.apps.tenancy import TenancyService
from helios.domain.values import SourceKind
from services import REQUIRE_SERVICES_VAR, services_required

BINARY = "prometheus-alertmanager"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def alertmanager_binary() -> str:
    found = shutil.which(BINARY)
    if found:
        return found
    reason = f"{BINARY} not installed (apt-get install prometheus-alertmanager)"
    if services_required():
        pytest.fail(f"{reason} and {REQUIRE_SERVICES_VAR}=1")
    pytest.skip(reason)


def alertmanager_config(api_port: int, webhook_key: str, pagerduty_key: str) -> str:
    base = f"http://127.0.0.1:{api_port}"
    config = {
        "route": {
            "receiver": "both",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "2s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "both",
                "webhook_configs": [
                    {"url": f"{base}/v1/ingest/alertmanager/{webhook_key}", "send_resolved": True}
                ],
                "pagerduty_configs": [
                    {
                        "routing_key": pagerduty_key,
                        "url": f"{base}/v2/enqueue",
                        "send_resolved": True,
                    }
                ],
            }
        ],
    }
    return json.dumps(config)  # JSON is YAML


@pytest.fixture
def run_alertmanager(alertmanager_binary: str, tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start(config: str) -> str:
        config_file = tmp_path / "alertmanager.yml"
        config_file.write_text(config)
        port = free_port()
        log = (tmp_path / "alertmanager.log").open("wb")
        process = subprocess.Popen(
            [
                alertmanager_binary,
                f"--config.file={config_file}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


WAIT_S = 60.0
"""How long a condition may take on a loaded CI machine; a passing run waits only as long
as the condition takes."""
ANSWERED_202 = (
    'route="/v2/enqueue",status="202"',
    'route="/v1/ingest/alertmanager/{key}",status="202"',
)


async def wait_ready(url: str, *, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready after {timeout_s} s")
            await anyio.sleep(0.1)


async def metrics_once_recorded(
    client: httpx.AsyncClient, url: str, *, timeout_s: float = WAIT_S
) -> str:
    """The API's metrics, once they show both notifications answered 202 (or the deadline).

    A request is counted when its handler returns, after the envelope is on the queue: a
    test that found the envelope can read the metrics before that request was counted.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        metrics = (await client.get(url)).text
        if all(line in metrics for line in ANSWERED_202) or time.monotonic() > deadline:
            return metrics
        await anyio.sleep(0.1)


@pytest.mark.parametrize("one_key", [False, True], ids=["two-integrations", "webhook-key-for-both"])
async def test_alertmanager_webhook_and_pagerduty_notifications_reach_the_queue(
    run_alertmanager: object, tmp_path: Path, one_key: bool
) -> None:
    """Both receivers get 2xx from the API; two envelopes (one per receiver) are queued. With
    ``one_key`` the PagerDuty receiver is given the webhook integration's key (what ``helios up``
    printed first), which must work too."""
    settings = Settings(data_dir=tmp_path / "helios", store_url="memory://")
    async with open_services(settings) as services:
        tenancy = TenancyService(services.store)
        tenant = tenancy.create_tenant("acme").tenant_id
        webhook = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.ALERTMANAGER)
        pagerduty = (
            webhook
            if one_key
            else tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY)
        )
        api_port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(services, config=ApiConfig()),
                host="127.0.0.1",
                port=api_port,
                log_level="warning",
                lifespan="on",
            )
        )
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve)
            await wait_ready(f"http://127.0.0.1:{api_port}/healthz")
            assert callable(run_alertmanager)
            am_url = run_alertmanager(
                alertmanager_config(api_port, webhook.routing_key, pagerduty.routing_key)
            )
            await wait_ready(f"{am_url}/-/ready")
            now = datetime.datetime.now(datetime.UTC).isoformat()
            alert = {
                "labels": {
                    "alertname": "DiskFilling",
                    "service": "storage",
                    "instance": "db-1:9100",
                    "severity": "warning",
                },
                "annotations": {"summary": "Disk on db-1 will fill within 4h"},
                "startsAt": now,
            }
            async with httpx.AsyncClient() as client:
                posted = await client.post(f"{am_url}/api/v2/alerts", json=[alert])
                assert posted.status_code == 200, posted.text
                envelopes = []
                deadline = time.monotonic() + WAIT_S
                while len(envelopes) < 2 and time.monotonic() < deadline:
                    batch = await services.queue.receive(max_messages=10, wait_seconds=0.5)
                    envelopes.extend(decode_envelope(m.body) for m in batch)
                    await services.queue.delete(batch)
                metrics = await metrics_once_recorded(
                    client, f"http://127.0.0.1:{api_port}/metrics"
                )
            server.should_exit = True

    by_source = {e.source: e for e in envelopes}
    assert set(by_source) == {SourceKind.ALERTMANAGER, SourceKind.PAGERDUTY}, metrics
    webhook_body = json.loads(by_source[SourceKind.ALERTMANAGER].body)
    assert webhook_body["alerts"][0]["labels"]["alertname"] == "DiskFilling"
    pagerduty_body = json.loads(by_source[SourceKind.PAGERDUTY].body)
    assert pagerduty_body["event_action"] == "trigger"
    assert all(e.tenant == tenant for e in envelopes)
    assert by_source[SourceKind.PAGERDUTY].integration == pagerduty.integration.integration_id
    for line in ANSWERED_202:
        assert line in metrics
