"""The ingestion routes answered ahead of the router (``hot_ingest``) answer as the router did.

Two apps over the same services, one with the hot path and one without, get the same
requests: every answer (status, content type, body with its fresh ids left out, the headers
that matter) must be the same, accepted or refused, and the hot path must be the one that
answered the ingestion requests of the first app.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.memory.limits import InMemoryIdempotencyStore, InMemoryRateLimiter
from helios.adapters.sqs import MemoryBlobStore
from helios.adapters.store.factory import open_event_store
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import Services
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.http.hot_ingest import HotIngest
from helios.apps.settings import Settings
from helios.domain.values import SourceKind

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples"
FRESH = ("request_id", "ingest_id", "correlation_id", "dedup_key")
"""Body fields made anew for every request."""

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def webhook(n: int, **changes: Any) -> bytes:
    document = json.loads((FIXTURES / "alertmanager_v4_firing.json").read_bytes())
    for alert in document["alerts"]:
        alert["labels"]["instance"] = f"host-{n}"
    document.update(changes)
    return json.dumps(document).encode()


def pd_event(routing_key: str, n: int, **changes: Any) -> bytes:
    document = json.loads((FIXTURES / "pagerduty_v2_trigger.json").read_bytes())
    document.update(routing_key=routing_key, dedup_key=f"k-{n}", **changes)
    return json.dumps(document).encode()


def comparable(response: httpx.Response) -> tuple[Any, ...]:
    """What must not differ between the two paths."""
    body: Any = response.content
    if response.headers.get("content-type", "").endswith("json") and body:
        body = {k: v for k, v in response.json().items() if k not in FRESH}
    kept = ("content-type", "retry-after", "connection")
    return (
        response.status_code,
        body,
        {name: response.headers.get(name) for name in kept},
        "x-request-id" in response.headers,
    )


class Twins:
    """The same services served with and without the hot path."""

    def __init__(self, services: Services, tenancy: TenancyService, config: ApiConfig) -> None:
        self.hot_app = create_app(services, config=config, hot_ingest=True, admin=False)
        self.plain_app = create_app(services, config=config, hot_ingest=False, admin=False)
        self.tenancy = tenancy
        self.tenant = tenancy.create_tenant("acme").tenant_id
        self.n = 0

    @property
    def hot(self) -> HotIngest:
        handler = self.hot_app.asgi_handler
        assert isinstance(handler, HotIngest)
        return handler

    async def both(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[httpx.Response, httpx.Response]:
        answers = []
        for app in (self.hot_app, self.plain_app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://h.test") as client:
                self.n += 1
                content = body.replace(b"@N@", str(self.n).encode()) if body else body
                answers.append(await client.request(method, path, content=content, headers=headers))
        return answers[0], answers[1]


@pytest.fixture
async def twins(tmp_path: Path) -> AsyncIterator[Twins]:
    store = open_event_store("memory://")
    async with EmbeddedQueue(
        path=tmp_path / "queue.db", intake_path=tmp_path / "intake.db"
    ) as queue:
        services = Services(
            settings=Settings(store_url="memory://"),
            store=store,
            queue=queue,
            blobs=MemoryBlobStore(),
            limiter=InMemoryRateLimiter(),
            idempotency=InMemoryIdempotencyStore(),
        )
        tenancy = TenancyService(store, clock=lambda: int(time.time() * 1000))
        config = ApiConfig(key_miss_refresh_s=1e-9, max_body_bytes=64 * 1024)
        yield Twins(services, tenancy, config)
    store.close()


async def test_every_ingestion_answer_is_the_same_with_and_without_the_hot_path(
    twins: Twins,
) -> None:
    """Accepted, duplicate and refused requests, on each hot route and beside them."""
    am = twins.tenancy.create_integration(tenant_id=twins.tenant, kind=SourceKind.ALERTMANAGER)
    pd = twins.tenancy.create_integration(tenant_id=twins.tenant, kind=SourceKind.PAGERDUTY)
    key = am.routing_key
    distinct = webhook(0, groupKey="g-@N@")
    too_big = webhook(0, padding="x" * 70_000)
    cases: list[tuple[str, str, bytes | None, dict[str, str]]] = [
        ("POST", f"/v1/ingest/alertmanager/{key}", distinct, {}),
        ("POST", "/v1/ingest/alertmanager", distinct, {"Authorization": f"Bearer {key}"}),
        ("POST", "/v1/ingest/alertmanager", distinct, {}),
        ("POST", "/v1/ingest/alertmanager/not-a-key", distinct, {}),
        ("POST", f"/v1/ingest/nosuchsource/{key}", distinct, {}),
        ("POST", f"/v1/ingest/grafana/{key}", distinct, {}),
        ("POST", f"/v1/ingest/alertmanager/{key}", b"{not json", {}),
        ("POST", f"/v1/ingest/alertmanager/{key}", b'{"version": "4", "alerts": [{}]}', {}),
        ("POST", f"/v1/ingest/alertmanager/{key}", too_big, {}),
        ("POST", f"/v1/ingest/alertmanager/{key}", gzip.compress(distinct), {
            "Content-Encoding": "gzip"}),
        ("POST", f"/v1/ingest/alertmanager/{key}", distinct, {"Idempotency-Key": "i" * 500}),
        ("POST", "/v2/enqueue", pd_event(pd.routing_key, 1).replace(b"k-1", b"k-@N@"), {}),
        ("POST", "/v2/enqueue", pd_event("nope", 2), {}),
        ("POST", "/v2/enqueue", b"[]", {}),
        ("GET", f"/v1/ingest/alertmanager/{key}", None, {}),
        ("POST", f"/v1/ingest/alertmanager/{key}/", distinct, {}),
        ("POST", f"/v1/ingest/alertmanager/{key}/extra", distinct, {}),
    ]  # fmt: skip
    for method, path, body, headers in cases:
        hot, plain = await twins.both(method, path, body, **headers)
        assert comparable(hot) == comparable(plain), (method, path, hot.text, plain.text)
    # The same body twice on one app: the second is a duplicate on both paths.
    same = webhook(99)
    first_hot, first_plain = await twins.both("POST", f"/v1/ingest/alertmanager/{key}", same)
    again_hot, again_plain = await twins.both("POST", f"/v1/ingest/alertmanager/{key}", same)
    assert first_hot.json()["status"] == "accepted"
    assert first_plain.json()["status"] == "duplicate"  # the hot app's first is on the queue
    assert comparable(again_hot) == comparable(again_plain)


async def test_the_hot_path_answers_the_ingestion_posts_and_passes_the_rest_on(
    twins: Twins,
) -> None:
    """POSTs to the hot routes are its; other methods and paths reach the router."""
    am = twins.tenancy.create_integration(tenant_id=twins.tenant, kind=SourceKind.ALERTMANAGER)
    path = f"/v1/ingest/alertmanager/{am.routing_key}"
    hot, _ = await twins.both("POST", path, webhook(1))
    assert hot.status_code == 202
    assert twins.hot.answered == 1
    await twins.both("POST", "/v2/enqueue", b"{}")
    assert twins.hot.answered == 2
    for method, elsewhere in (("GET", path), ("GET", "/healthz"), ("POST", path + "/")):
        await twins.both(method, elsewhere)
    assert twins.hot.answered == 2


async def test_an_accepted_request_leaves_its_content_remembered_and_nothing_else(
    twins: Twins, tmp_path: Path
) -> None:
    """The intake's commit of an accepted webhook holds its message and the fingerprint of
    its content (a repeat within the window is a duplicate), not a remembered ingest id: that
    id is made for the one send, and a row of it would cost every commit a page."""
    key = twins.tenancy.create_integration(
        tenant_id=twins.tenant, kind=SourceKind.ALERTMANAGER
    ).routing_key
    transport = httpx.ASGITransport(app=twins.hot_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://h.test") as client:
        for n in range(3):
            answer = await client.post(f"/v1/ingest/alertmanager/{key}", content=webhook(n))
            assert answer.json()["status"] == "accepted"
        again = await client.post(f"/v1/ingest/alertmanager/{key}", content=webhook(0))
        assert again.json()["status"] == "duplicate"
    with sqlite3.connect(tmp_path / "intake.db") as intake:
        remembered = [row[0] for row in intake.execute("SELECT dedup_id FROM queue_dedup")]
        (messages,) = intake.execute("SELECT count(*) FROM intake_messages").fetchone()
    assert messages == 3
    assert len(remembered) == 3
    assert all(dedup_id.startswith("seen/") for dedup_id in remembered), remembered
