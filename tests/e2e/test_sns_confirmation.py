"""SNS subscription confirmations, end to end: a signed ``SubscriptionConfirmation`` reaches the
API, the worker records it, and the worker visits its ``SubscribeURL`` on a local HTTPS server
that plays SNS (a certificate for ``sns.eu-west-1.amazonaws.com`` from a test CA; the fetcher
trusts that CA and pins the host name to loopback). The outcome is read back from the
integration, as an operator sees it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import structlog
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from embedded_api import (  # noqa: F401  (fixtures are registered by being imported here)
    asyncio_backend,
    local_ca,
)
from queues import QUEUE_KINDS, open_test_queue
from test_ingest_api import TOPIC, Ca, make_api, payload

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.https_fetcher import HttpsFetcher
from helios.adapters.memory.mailer import InMemoryMailer
from helios.adapters.store.factory import open_event_store
from helios.apps.application.envelopes import envelope_message
from helios.apps.application.tenancy import TenancyService
from helios.apps.cli.integrations import integration_json
from helios.apps.composition import open_read_models, open_services
from helios.apps.embedded.runner import run_everything
from helios.apps.settings import Settings
from helios.apps.workers.followers import follow
from helios.apps.workers.ingest import IngestWorker
from helios.apps.workers.subscriptions import ConfirmationRequests, SubscriptionConfirmer
from helios.domain.tenancy import SubscriptionStatus
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import EventStore
from helios.ports.http import HttpAnswer
from helios.ports.queue import Queue

SNS_HOST = "sns.eu-west-1.amazonaws.com"
SUBSCRIPTION_ARN = f"{TOPIC}:0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
CONFIRMED_XML = (
    '<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
    f"<ConfirmSubscriptionResult><SubscriptionArn>{SUBSCRIPTION_ARN}</SubscriptionArn>"
    "</ConfirmSubscriptionResult><ResponseMetadata><RequestId>r-1</RequestId>"
    "</ResponseMetadata></ConfirmSubscriptionResponse>"
)

pytestmark = pytest.mark.anyio


@attrs.define
class FakeSns:
    """An HTTPS server answering ``ConfirmSubscription`` with scripted answers (the last one
    repeats), remembering every request it received and when."""

    answers: list[tuple[int, str]]
    requests: list[tuple[float, str, dict[str, str]]] = attrs.Factory(list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((time.monotonic(), request.host, dict(request.query)))
        status, body = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return web.Response(status=status, text=body, content_type="text/xml")


@pytest.fixture
async def sns(ca: Ca, tmp_path: Path) -> AsyncIterator[FakeSns]:
    cert, key = tmp_path / "sns.pem", tmp_path / "sns.key"
    cert.write_bytes(ca.leaf_pem)
    key.write_bytes(
        ca.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    fake = FakeSns(answers=[(200, CONFIRMED_XML)])
    app = web.Application()
    app.router.add_get("/", fake.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    fake.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake
    await runner.cleanup()


def fetcher_for(ca: Ca, sns: FakeSns) -> HttpsFetcher:
    """The production adapter, trusting the test CA and reaching SNS's name on loopback."""
    trust = ssl.create_default_context(
        cadata=ca.ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    )
    return HttpsFetcher(ssl_context=trust, addresses={SNS_HOST: ("127.0.0.1", sns.port)})


@attrs.define
class Recording:
    """A fetcher that remembers what it was asked before passing the request on."""

    inner: Any
    urls: list[str] = attrs.Factory(list)

    async def get(self, url: str, *, timeout_s: float, max_bytes: int) -> HttpAnswer:
        self.urls.append(url)
        answer: HttpAnswer = await self.inner.get(url, timeout_s=timeout_s, max_bytes=max_bytes)
        return answer


def signed_confirmation(ca: Ca, **changes: str) -> bytes:
    message = json.loads(payload("sns_subscription_confirmation.json"))
    for field in ("Signature", "SigningCertURL", "SignatureVersion"):
        message.pop(field)
    message.update(changes)
    return json.dumps(ca.sign(message)).encode()


async def run_until(
    store: EventStore,
    queue: Queue,
    confirmer: SubscriptionConfirmer,
    tmp_path: Path,
    done: Callable[[], bool],
    *,
    timeout_s: float = 60,
) -> IngestWorker:
    """The ingest worker and the confirmation follower, until ``done()`` holds."""
    stop = asyncio.Event()
    db = open_read_models(f"sqlite:{tmp_path / 'readmodels.db'}")
    worker = IngestWorker(
        queue=queue, store=store, concurrency=1, wait_s=0.2, visibility_s=5, confirmer=confirmer
    )
    tasks = [
        asyncio.create_task(worker.run(stop)),
        asyncio.create_task(
            follow(
                ConfirmationRequests(store, db, queue), store=store, db=db, stop=stop, poll_s=0.05
            )
        ),
    ]
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                await asyncio.sleep(0.05)
                for task in tasks:
                    if task.done():
                        task.result()
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        db.close()
    return worker


def subscription_of(store: EventStore, tenant: str, integration: str) -> Any:
    found = TenancyService(store).tenant(tenant).integration(integration)
    assert found is not None
    return found.subscription(TOPIC)


def status_is(store: EventStore, tenant: str, integration: str, *wanted: SubscriptionStatus):
    def check() -> bool:
        current = subscription_of(store, tenant, integration)
        return current is not None and current.status in wanted

    return check


# --- through the API -----------------------------------------------------------------------------


async def test_a_signed_confirmation_for_an_allowed_topic_is_confirmed_by_the_worker(
    tmp_path: Path, ca: Ca, sns: FakeSns
) -> None:
    """API (signature, topic) → queue → worker records it → the worker visits SubscribeURL on
    SNS's host → the integration shows the subscription confirmed, with its ARN."""
    async with EmbeddedQueue(path=tmp_path / "queue.db", poll_interval_s=0.02) as queue:
        async for api in make_api(queue, ca):
            issued = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
            integration_id = issued.integration.integration_id
            fresh = format_rfc3339(api.clock())  # within the API's replay window
            accepted = await api.client.post(
                f"/v1/ingest/cloudwatch/{issued.routing_key}",
                content=signed_confirmation(ca, Timestamp=fresh),
            )
            assert accepted.status_code == 202, accepted.text
            store = api.services.store
            confirmer = SubscriptionConfirmer(store, fetcher_for(ca, sns))
            with structlog.testing.capture_logs() as logs:
                worker = await run_until(
                    store,
                    queue,
                    confirmer,
                    tmp_path,
                    status_is(store, api.tenant, integration_id, SubscriptionStatus.CONFIRMED),
                )
            [(_, host, query)] = sns.requests
            assert host == SNS_HOST
            assert query["Action"] == "ConfirmSubscription" and query["TopicArn"] == TOPIC
            assert query["Token"].startswith("2336412f37fb687f")
            shown = integration_json(
                TenancyService(store).tenant(api.tenant).integration(integration_id)
            )
            assert shown["sns_subscriptions"] == [
                {
                    "topic_arn": TOPIC,
                    "status": "confirmed",
                    "subscription_arn": SUBSCRIPTION_ARN,
                    "attempts": 1,
                    "last_error": None,
                    "updated_at_ms": shown["sns_subscriptions"][0]["updated_at_ms"],
                }
            ]
            assert [e["event"] for e in logs if e["event"].startswith("sns.")] == [
                "sns.subscription_confirmed"
            ]
            assert worker.stats.confirmations == 1
            assert await queue.depth() == 0
            assert await queue.dead_letters(limit=5) == []


# --- retries, refusals and checks, from the recorded request --------------------------------------


@attrs.define
class World:
    store: EventStore
    queue: Queue
    tenant: str
    integration: str

    async def send_confirmation(self, body: bytes) -> None:
        envelope = Envelope(
            ingest_id=f"in-{time.monotonic_ns()}",
            tenant=self.tenant,
            integration=self.integration,
            source=SourceKind.CLOUDWATCH,
            received_at=int(time.time() * 1000),
            body=body,
        )
        await self.queue.send([envelope_message(envelope, correlation_id="t")])

    def subscription(self) -> Any:
        return subscription_of(self.store, self.tenant, self.integration)

    def status_is(self, *wanted: SubscriptionStatus) -> Callable[[], bool]:
        return status_is(self.store, self.tenant, self.integration, *wanted)


@pytest.fixture(params=QUEUE_KINDS)
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    store = open_event_store("memory://")
    tenancy = TenancyService(store)
    tenant = tenancy.create_tenant("acme").tenant_id
    issued = tenancy.create_integration(
        tenant_id=tenant, kind=SourceKind.CLOUDWATCH, allowed_topics=[TOPIC]
    )
    async with open_test_queue(request, tmp_path, monkeypatch) as queue:
        yield World(store, queue, tenant, issued.integration.integration_id)
    store.close()


async def test_a_failed_attempt_is_retried_after_a_delay_through_the_queue_and_then_confirmed(
    world: World, ca: Ca, sns: FakeSns, tmp_path: Path
) -> None:
    """SNS down once (503): recorded as retrying, the command comes back after the backoff
    delay (not at once), the second attempt confirms."""
    sns.answers = [(503, "<Error><Code>ServiceUnavailable</Code></Error>"), (200, CONFIRMED_XML)]
    confirmer = SubscriptionConfirmer(world.store, fetcher_for(ca, sns), retry_base_s=2)
    await world.send_confirmation(signed_confirmation(ca))
    seen: list[Any] = []

    def confirmed() -> bool:
        current = world.subscription()
        if current is not None and (not seen or seen[-1] != current):
            seen.append(current)
        return current is not None and current.status is SubscriptionStatus.CONFIRMED

    worker = await run_until(world.store, world.queue, confirmer, tmp_path, confirmed)
    assert [(s.status, s.attempts) for s in seen] == [
        (SubscriptionStatus.RETRYING, 1),
        (SubscriptionStatus.CONFIRMED, 2),
    ]
    assert seen[0].last_error == "SNS answered HTTP 503 (ServiceUnavailable)"
    first, second = (at for at, _, _ in sns.requests)
    assert second - first >= 1.5  # the retry waited for its delay (2 s), not a redelivery at once
    assert worker.stats.confirmations == 2
    assert await world.queue.dead_letters(limit=5) == []


async def test_attempts_are_bounded_then_the_command_is_dead_lettered_and_the_failure_shown(
    world: World, ca: Ca, sns: FakeSns, tmp_path: Path
) -> None:
    """SNS unreachable three times: three attempts, the last one recorded as failed, and the
    command waits in the dead-letter queue for an operator to redrive."""
    sns.answers = [(500, "<Error><Code>InternalFailure</Code></Error>")]
    confirmer = SubscriptionConfirmer(world.store, fetcher_for(ca, sns), retry_base_s=1)
    await world.send_confirmation(signed_confirmation(ca))

    async def dead_lettered() -> bool:
        return bool(await world.queue.dead_letters(limit=5))

    await run_until(
        world.store, world.queue, confirmer, tmp_path, world.status_is(SubscriptionStatus.FAILED)
    )
    async with asyncio.timeout(30):
        while not await dead_lettered():
            await world.queue.receive(max_messages=10, wait_seconds=0.2)
    assert len(sns.requests) == 3
    failed = world.subscription()
    assert (failed.attempts, failed.last_error) == (3, "SNS answered HTTP 500 (InternalFailure)")
    [dead] = await world.queue.dead_letters(limit=5)
    assert dead.attributes.kind == "sns.confirm.v1"


async def test_a_refusal_from_sns_is_final_and_not_retried(
    world: World, ca: Ca, sns: FakeSns, tmp_path: Path
) -> None:
    """A 4xx (an expired token) will not pass: one attempt, failed, command deleted."""
    sns.answers = [(400, "<ErrorResponse><Error><Code>InvalidParameter</Code></Error>")]
    confirmer = SubscriptionConfirmer(world.store, fetcher_for(ca, sns), retry_base_s=1)
    await world.send_confirmation(signed_confirmation(ca))
    worker = await run_until(
        world.store, world.queue, confirmer, tmp_path, world.status_is(SubscriptionStatus.FAILED)
    )
    await asyncio.sleep(1.5)
    assert len(sns.requests) == 1
    assert world.subscription().last_error == "SNS answered HTTP 400 (InvalidParameter)"
    assert worker.stats.confirmations == 1
    assert await world.queue.depth() == 0
    assert await world.queue.dead_letters(limit=5) == []


@pytest.mark.parametrize("world", ["embedded"], indirect=True)
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"SubscribeURL": "https://evil.example.com/?Action=ConfirmSubscription"
                             f"&TopicArn={TOPIC}&Token=abc"},
            "SubscribeURL is not on an SNS host (sns.<region>.amazonaws.com)",
        ),
        (
            {"TopicArn": TOPIC.replace("alarms", "other"),
             "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
                             f"&TopicArn={TOPIC.replace('alarms', 'other')}&Token=abc"},
            "the topic is not allowed for the integration",
        ),
    ],
)  # fmt: skip
async def test_a_request_that_fails_a_check_is_never_fetched_and_the_refusal_is_shown(
    world: World, ca: Ca, sns: FakeSns, tmp_path: Path, *, changes: dict[str, str], reason: str
) -> None:
    """Defence in depth behind the API's checks: another host or a topic the integration does
    not allow is not visited."""
    fetcher = Recording(fetcher_for(ca, sns))
    confirmer = SubscriptionConfirmer(world.store, fetcher)
    await world.send_confirmation(signed_confirmation(ca, **changes))
    topic = changes.get("TopicArn", TOPIC)

    def refused() -> bool:
        found = TenancyService(world.store).tenant(world.tenant).integration(world.integration)
        return found is not None and found.subscription(topic) is not None

    await run_until(world.store, world.queue, confirmer, tmp_path, refused)
    integration = TenancyService(world.store).tenant(world.tenant).integration(world.integration)
    shown = integration.subscription(topic)
    assert (shown.status, shown.last_error) == (SubscriptionStatus.FAILED, reason)
    assert fetcher.urls == [] and sns.requests == []


@pytest.mark.parametrize("world", ["embedded"], indirect=True)
async def test_requests_older_than_the_token_lifetime_are_not_visited(
    world: World, ca: Ca, sns: FakeSns, tmp_path: Path
) -> None:
    """A follower reading old history (a new installation of it) skips expired requests."""
    envelope = Envelope(
        ingest_id="old",
        tenant=world.tenant,
        integration=world.integration,
        source=SourceKind.CLOUDWATCH,
        received_at=int(time.time() * 1000) - 4 * 24 * 3600 * 1000,
        body=signed_confirmation(ca),
    )
    await world.queue.send([envelope_message(envelope, correlation_id="t")])
    db = open_read_models(f"sqlite:{tmp_path / 'rm.db'}")
    worker = IngestWorker(queue=world.queue, store=world.store, wait_s=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    async with asyncio.timeout(30):
        while not worker.stats.envelopes:
            await asyncio.sleep(0.05)
    stop.set()
    await running
    requests = ConfirmationRequests(world.store, db, world.queue)
    await follow(requests, store=world.store, db=db, stop=asyncio.Event(), until_caught_up=True)
    assert await world.queue.depth() == 0
    db.close()


async def test_helios_up_wires_the_follower_and_the_confirmer_together(
    tmp_path: Path, ca: Ca, sns: FakeSns
) -> None:
    """Everything in one process (``run_everything``, as ``helios up`` runs it) confirms a
    recorded request: the follower and the worker's confirmer are both in place."""
    settings = Settings(data_dir=tmp_path / "data", tick_interval_s=3600, follower_poll_s=0.05)
    async with open_services(settings) as services:
        tenancy = TenancyService(services.store)
        tenant = tenancy.create_tenant("acme").tenant_id
        issued = tenancy.create_integration(
            tenant_id=tenant, kind=SourceKind.CLOUDWATCH, allowed_topics=[TOPIC]
        )
        world = World(services.store, services.queue, tenant, issued.integration.integration_id)
        await world.send_confirmation(signed_confirmation(ca))
        stop = asyncio.Event()
        running = asyncio.create_task(
            run_everything(
                services, stop, api=False, mailer=InMemoryMailer(), fetcher=fetcher_for(ca, sns)
            )
        )
        try:
            async with asyncio.timeout(60):
                while not world.status_is(SubscriptionStatus.CONFIRMED)():
                    assert not running.done(), running.result()
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await running
    assert len(sns.requests) == 1
