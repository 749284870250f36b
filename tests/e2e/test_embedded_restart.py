"""What the embedded default (``helios up``) remembers across a restart of its process.

Each "process" is the real composition root (``open_services``) over the same data directory,
opened, used through the HTTP API, and closed; the next one opens the same files.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import httpx
import pytest

from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import Services, open_services
from helios.apps.http import signatures
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.settings import Settings
from helios.domain.values import SourceKind

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@attrs.define
class Clock:
    now_ms: int = attrs.field(factory=lambda: int(time.time() * 1000))

    def __call__(self) -> int:
        return self.now_ms


@contextlib.asynccontextmanager
async def process(
    settings: Settings, clock: Clock
) -> AsyncIterator[tuple[Services, httpx.AsyncClient]]:
    """One run of the embedded default: its services and its API, closed on exit."""
    async with open_services(settings) as services:
        app = create_app(services, config=ApiConfig(key_miss_refresh_s=1e-9), clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://helios.test") as client:
            yield services, client


async def test_keys_bodies_and_signatures_are_remembered_across_a_restart(tmp_path: Path) -> None:
    """Same key + body replays the first ingest_id; a used signature and a seen body stay so."""
    settings = Settings(data_dir=tmp_path / "data")
    clock = Clock()
    alertmanager = (FIXTURES / "alertmanager-0.25-captured" / "webhook_v4_firing.json").read_bytes()
    resolved = (FIXTURES / "alertmanager-0.25-captured" / "webhook_v4_resolved.json").read_bytes()
    generic = json.dumps({"action": "trigger", "summary": "Disk full", "dedup_key": "d"}).encode()
    async with process(settings, clock) as (services, client):
        tenancy = TenancyService(services.store, clock=clock, secrets=services.secrets)
        tenant = tenancy.create_tenant("acme").tenant_id
        am = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.ALERTMANAGER)
        signed = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.GENERIC)
        am_url = f"/v1/ingest/alertmanager/{am.routing_key}"
        generic_url = f"/v1/ingest/generic/{signed.routing_key}"
        signature = {
            "X-Helios-Signature": signatures.signature_header(
                signed.signing_secret, clock() // 1000, generic
            )
        }
        first = await client.post(am_url, content=alertmanager, headers={"Idempotency-Key": "k"})
        assert first.status_code == 202
        assert (await client.post(am_url, content=resolved)).json()["status"] == "accepted"
        assert (await client.post(generic_url, content=generic, headers=signature)).is_success
        assert await services.queue.depth() == 3

    clock.now_ms += 2_000
    async with process(settings, clock) as (services, client):
        again = await client.post(am_url, content=alertmanager, headers={"Idempotency-Key": "k"})
        assert again.status_code == 202
        assert again.json() == first.json()
        other = await client.post(am_url, content=resolved, headers={"Idempotency-Key": "k"})
        assert other.status_code == 422
        assert (await client.post(am_url, content=resolved)).json()["status"] == "duplicate"
        replayed = await client.post(generic_url, content=generic, headers=signature)
        assert replayed.status_code == 401
        assert await services.queue.depth() == 3
