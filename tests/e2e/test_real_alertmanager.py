"""A real Alertmanager 0.25 delivers to a real uvicorn server running the ingestion API.

One webhook receiver (key in the path) and one PagerDuty receiver (``url`` pointed at
``/v2/enqueue``). The test posts an alert to Alertmanager's API v2, and both notifications must
be answered 2xx and arrive on the queue as envelopes. The binary is ``prometheus-alertmanager``
(Debian package); without it the test skips locally and fails in CI.

A second test runs two Alertmanagers with pagerduty receivers, as an HA pair whose members both
deliver, and lets the worker decide what they sent. How each copy is recorded depends on timing;
a third test, without Alertmanager, pins down the interleavings a loaded machine produces.
"""

from __future__ import annotations

import datetime
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from workers import drain, outcome

from helios.apps.application.envelopes import decode_envelope
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import open_services
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.settings import Settings
from helios.domain import alert, intake
from helios.domain.values import SourceKind
from helios.ports.event_store import LogEntry
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
        member = len(started)  # several may run at once, as an HA pair does
        config_file = tmp_path / f"alertmanager-{member}.yml"
        config_file.write_text(config)
        port = free_port()
        log = (tmp_path / f"alertmanager-{member}.log").open("wb")
        process = subprocess.Popen(
            [
                alertmanager_binary,
                f"--config.file={config_file}",
                f"--storage.path={tmp_path / f'am-data-{member}'}",
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


async def wait_ready(url: str, *, timeout_s: float = 15.0) -> None:
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


async def metrics_showing(
    client: httpx.AsyncClient, url: str, samples: Sequence[str], *, timeout_s: float = 10.0
) -> str:
    """The API's /metrics once it shows every one of ``samples``, or as it is at the deadline.

    A request's sample is recorded when the request ends: after its envelope is on the queue
    and its body remembered as seen, so a test that has just taken the envelope off the queue
    can read /metrics before the request that sent it is over.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        text = (await client.get(url)).text
        if all(sample in text for sample in samples) or time.monotonic() > deadline:
            return text
        await anyio.sleep(0.05)


EXPECTED_SAMPLES = (
    'route="/v2/enqueue",status="202"',
    'route="/v1/ingest/alertmanager/{key}",status="202"',
)
"""The request duration samples of both receivers' deliveries, answered 202."""


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
                deadline = time.monotonic() + 20
                while len(envelopes) < 2 and time.monotonic() < deadline:
                    batch = await services.queue.receive(max_messages=10, wait_seconds=0.5)
                    envelopes.extend(decode_envelope(m.body) for m in batch)
                    await services.queue.delete(batch)
                metrics = await metrics_showing(
                    client, f"http://127.0.0.1:{api_port}/metrics", EXPECTED_SAMPLES
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
    for sample in EXPECTED_SAMPLES:
        assert sample in metrics


def outcomes_by_alert(entries: Sequence[LogEntry]) -> dict[str, list[tuple[str, int]]]:
    """Per alert (named by its service), the outcome recorded for each notification the worker
    took, in log order, with the time the notification was received.

    ``accepted``: it triggered the alert; ``repeated``: a copy received at another time;
    ``deduplicated``: a copy received in the same millisecond as one already kept (content and
    time alike: the same delivery); ``late``: a copy received before the episode's start (the
    worker took a later copy first), which moves the start back and adds no occurrence.
    """
    service_of: dict[uuid.UUID, str] = {}
    outcomes: dict[uuid.UUID, list[tuple[str, int]]] = {}
    for entry in entries:
        match entry.event:
            case alert.SignalAccepted(signal=signal, late=late):
                service_of[entry.stream_id] = signal.service
                found = ("late" if late else "accepted", signal.received_at)
            case alert.SignalRepeated(signal=signal):
                found = ("repeated", signal.received_at)
            case alert.SignalDeduplicated(received_at=received_at):
                found = ("deduplicated", received_at)
            case _:
                continue
        outcomes.setdefault(entry.stream_id, []).append(found)
    return {service_of[stream]: found for stream, found in outcomes.items()}


def assert_one_signal_per_alert(entries: Sequence[LogEntry]) -> dict[str, list[tuple[str, int]]]:
    """Each notification is recorded once, on its alert: the first triggers it and pages; every
    other one is a copy, which adds no occurrence and pages nobody. Returns the outcomes."""
    notifications = Counter(
        signal.service
        for entry in entries
        if isinstance(entry.event, intake.EnvelopeNormalized)
        for signal in entry.event.signals
    )
    outcomes = outcomes_by_alert(entries)
    assert set(outcomes) == set(notifications), (outcomes, notifications)
    pages: dict[uuid.UUID, list[str]] = {}
    for entry in entries:
        if isinstance(
            entry.event, alert.AlertTriggered | alert.AlertReopened | alert.NotificationRequested
        ):
            pages.setdefault(entry.stream_id, []).append(type(entry.event).__name__)
    # one trigger and one page per alert, however many copies followed
    assert sorted(pages.values()) == [["AlertTriggered", "NotificationRequested"]] * len(
        outcomes
    ), pages
    for service, found in outcomes.items():
        assert len(found) == notifications[service], (service, found)
        (first, _), *copies = found
        assert first == "accepted", (service, found)
        assert {kind for kind, _ in copies} <= {"repeated", "deduplicated", "late"}
        kept: set[int] = set()
        for kind, at in found:
            # deduplicated only as a copy of one kept before, received in the same millisecond
            assert kind != "deduplicated" or at in kept, (service, found)
            if kind != "deduplicated":
                kept.add(at)
    return outcomes


def pagerduty_only_config(api_port: int, pagerduty_key: str) -> str:
    config = {
        "route": {
            "receiver": "pagerduty",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "2s",
            # Resend every group interval: each notification arrives again, as it would every
            # repeat_interval (4 h by default) in production.
            "repeat_interval": "2s",
        },
        "receivers": [
            {
                "name": "pagerduty",
                "pagerduty_configs": [
                    {
                        "routing_key": pagerduty_key,
                        "url": f"http://127.0.0.1:{api_port}/v2/enqueue",
                        "send_resolved": True,
                    }
                ],
            }
        ],
    }
    return json.dumps(config)


async def test_an_alertmanager_ha_pairs_pagerduty_notifications_are_one_signal_per_service(
    run_alertmanager: object, tmp_path: Path
) -> None:
    """Two Alertmanagers that both deliver (members of an HA pair that do not see each other)
    get the same two alerts, and resend them; their pagerduty receivers send no timestamp and
    source "Alertmanager". Helios counts each alert once and gives each its own service."""
    settings = Settings(data_dir=tmp_path / "helios", store_url="memory://")
    async with open_services(settings) as services:
        tenancy = TenancyService(services.store)
        tenant = tenancy.create_tenant("acme").tenant_id
        pagerduty = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY)
        api_port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                # The API drops a body it accepted less than dedup_window_s ago: a short
                # window lets the 2 s resends through, as 4 h ones always get through.
                create_app(services, config=ApiConfig(dedup_window_s=1.0)),
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
            pair = [
                run_alertmanager(pagerduty_only_config(api_port, pagerduty.routing_key))
                for _ in range(2)
            ]
            for url in pair:
                await wait_ready(f"{url}/-/ready")
            now = datetime.datetime.now(datetime.UTC).isoformat()
            alerts = [
                {
                    "labels": {
                        "alertname": name,
                        "service": service,
                        "instance": instance,
                        "severity": "warning",
                    },
                    "annotations": {"summary": f"{name} on {instance}"},
                    "startsAt": now,
                }
                for name, service, instance in (
                    ("DiskFilling", "storage", "db-1:9100"),
                    ("CheckoutLatency", "checkout", "checkout-1:8080"),
                )
            ]
            async with httpx.AsyncClient() as client:
                for url in pair:  # Prometheus sends its alerts to every member
                    posted = await client.post(f"{url}/api/v2/alerts", json=alerts)
                    assert posted.status_code == 200, posted.text
                # 2 alerts x 2 members, then at least one resend each
                deadline = time.monotonic() + 30
                while await services.queue.depth() < 8 and time.monotonic() < deadline:
                    await anyio.sleep(0.2)
                queued = await services.queue.depth()
            server.should_exit = True
        assert queued >= 8, f"{queued} notifications queued, 8 expected (2 alerts x 2 members x 2)"
        await drain(services)
        folds, _ = outcome(services.store)
        entries = services.store.read_log(0, 10_000)

    assert len(folds) == 2, folds
    by_service = {fold.episode.service: fold.episode for fold, _, _ in folds.values()}
    assert set(by_service) == {"storage", "checkout"}
    for episode in by_service.values():
        assert episode.occurrences == 1
        assert episode.sources == ("pagerduty",)
    # Counted from what the worker recorded, not from the depth read above: the members go on
    # resending until the server has stopped, and what came in meanwhile was processed too.
    taken = [e.event.envelope for e in entries if isinstance(e.event, intake.EnvelopeReceived)]
    assert len(taken) >= queued
    members = {json.loads(envelope.body)["client_url"] for envelope in taken}
    assert len(members) == 2, members
    # Every notification but the first of each alert was a copy. Which record a copy gets
    # depends on timing: the members deliver at once, and copies received in one millisecond
    # are one delivery; a loaded API may enqueue a copy after one received later.
    outcomes = assert_one_signal_per_alert(entries)
    assert sum(len(found) for found in outcomes.values()) == len(taken)


CAPTURED_TRIGGER = (
    Path(__file__).resolve().parents[1]
    / "fixtures/payloads/alertmanager-0.25-captured/pagerduty_v2_trigger_from_alertmanager.json"
)


async def test_copies_received_in_one_millisecond_or_out_of_order_are_counted_as_copies(
    tmp_path: Path,
) -> None:
    """What the HA test counts, with the interleavings a loaded machine produces made
    deterministic by the API's clock: members' copies received in the same millisecond, and a
    copy received earlier than the one the worker took first."""
    settings = Settings(data_dir=tmp_path / "helios", store_url="memory://")
    async with open_services(settings) as services:
        tenancy = TenancyService(services.store)
        tenant = tenancy.create_tenant("acme").tenant_id
        pagerduty = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY)
        t0 = int(time.time() * 1000)
        now = [t0]
        app = create_app(services, config=ApiConfig(dedup_window_s=1.0), clock=lambda: now[0])
        captured = json.loads(CAPTURED_TRIGGER.read_text())

        def member_copy(port: int) -> bytes:
            # Members differ only by the address they give as client_url.
            copy = captured | {
                "routing_key": pagerduty.routing_key,
                "client_url": f"http://127.0.0.1:{port}/#/alerts?receiver=pagerduty",
            }
            return json.dumps(copy).encode()

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://helios.test") as client:
            # (received at, member): stamped in one order, enqueued in this one
            for at, port in ((t0 + 1, 9093), (t0, 9094), (t0, 9095), (t0 + 2000, 9093)):
                now[0] = at
                answer = await client.post("/v2/enqueue", content=member_copy(port))
                assert answer.status_code == 202, answer.text
        queued = await services.queue.depth()
        await drain(services)
        folds, _ = outcome(services.store)
        entries = services.store.read_log(0, 10_000)

    assert queued == 4
    [(fold, _, _)] = folds.values()
    assert fold.episode.occurrences == 1
    assert fold.episode.started_at == t0
    assert assert_one_signal_per_alert(entries) == {
        fold.episode.service: [
            ("accepted", t0 + 1),
            ("late", t0),
            ("deduplicated", t0),
            ("repeated", t0 + 2000),
        ]
    }
