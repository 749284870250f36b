"""``helios up``'s API child runs on uvloop and accepts a webhook there, as on asyncio's loop.

The child is started with the command line the supervisor gives it, so that whatever starts
the children is what is tested."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from api_child import api_child, child_started

from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import open_services
from helios.apps.settings import Settings
from helios.domain.values import SourceKind

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads" / "examples"


def integration_key(data_dir: Path) -> str:
    """An Alertmanager integration's key, made in the store the child will open."""

    async def make() -> str:
        async with open_services(Settings(data_dir=data_dir)) as services:
            tenancy = TenancyService(services.store)
            tenant = tenancy.create_tenant("loop").tenant_id
            made = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.ALERTMANAGER)
            return made.routing_key

    return asyncio.run(make())


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_the_api_child_accepts_a_webhook_on_the_loop_it_is_told(tmp_path: Path, loop: str) -> None:
    data_dir = tmp_path / "data"
    key = integration_key(data_dir)
    with api_child(tmp_path, data_dir, HELIOS_API_LOOP=loop) as (_, base):
        body = (FIXTURES / "alertmanager_v4_firing.json").read_bytes()
        answer = httpx.post(f"{base}/v1/ingest/alertmanager/{key}", content=body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "accepted"
    started = child_started(tmp_path)
    assert [(e["role"], e["loop"]) for e in started] == [("api", loop)]
