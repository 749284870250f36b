"""``helios up``'s API child runs on uvloop and accepts a webhook there, as on asyncio's loop.

The child is started with the command line the supervisor gives it, so that whatever starts
the children is what is tested."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from threaded import free_port

from helios.apps.application.tenancy import TenancyService
from helios.apps.cli.up import children
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
    data_dir, port = tmp_path / "data", free_port()
    key = integration_key(data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOS_")}
    env.update(
        HELIOS_DATA_DIR=str(data_dir),
        HELIOS_LOG_FORMAT="json",
        HELIOS_API_LOOP=loop,
    )
    # Started as ``helios up`` starts it: the supervisor's own command line for the role.
    started = children(argparse.Namespace(no_api=False), Settings(http_port=port))
    (api,) = [role for role in started if role.name == "api"]
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        child = subprocess.Popen(list(api.argv), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").is_success:
                    break
            except httpx.TransportError:
                pass
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        body = (FIXTURES / "alertmanager_v4_firing.json").read_bytes()
        answer = httpx.post(f"{base}/v1/ingest/alertmanager/{key}", content=body)
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "accepted"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0, log.read_text()
    finally:
        if child.poll() is None:
            child.kill()
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    started = [e for e in events if e.get("event") == "up.child_started"]
    assert [(e["role"], e["loop"]) for e in started] == [("api", loop)]
