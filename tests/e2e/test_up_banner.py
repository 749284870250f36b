"""What ``helios up`` prints: keys for an Alertmanager webhook and for PagerDuty's Events API,
and requests that work when pasted into a shell, on the first start and after a restart."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
from pathlib import Path

import httpx
import pytest
from rich.console import Console
from threaded import free_port

from helios.apps.application.envelopes import decode_envelope
from helios.apps.cli.up import banner
from helios.apps.composition import open_services
from helios.apps.embedded.runner import INTEGRATION_FILE, access, integration, serve_api
from helios.apps.settings import Settings
from helios.domain.values import SourceKind

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def printed_commands(text: str) -> list[str]:
    """The shell commands in the banner: lines starting with ``curl``, with their ``\\``
    continuation lines."""
    commands: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if current is None and stripped.startswith("curl "):
            current = []
        if current is not None:
            current.append(stripped.removesuffix("\\").rstrip())
            if not stripped.endswith("\\"):
                commands.append(" ".join(current))
                current = None
    return commands


async def run_in_shell(command: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (command, err.decode())
    return out.decode()


async def test_helios_up_prints_a_webhook_and_a_pagerduty_key_with_requests_that_work_as_printed(
    tmp_path: Path,
) -> None:
    """Webhook URL, PagerDuty routing key and curls (alertmanager, PagerDuty, alert list): each
    is answered with success, on the first start (keys shown) and after it (keys read from
    the 0600 file with jq)."""
    if shutil.which("jq") is None:
        pytest.skip("jq not installed: the banner's commands after a restart use it")
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", http_port=port, log_level="warning")
    url = f"http://127.0.0.1:{port}"
    async with open_services(settings) as services:
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_api(services, stop))
        try:
            async with httpx.AsyncClient() as client:
                for _ in range(200):
                    try:
                        if (await client.get(f"{url}/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        await asyncio.sleep(0.05)
            printed = []
            for start in ("first", "restart"):
                details, fresh = await integration(services)
                people, _ = await access(services, details["tenant"])
                console = Console(record=True, width=500, file=io.StringIO())
                banner(console, settings, details, fresh=fresh, api=True, token=people["token"])
                text = console.export_text()
                printed.append(text)
                commands = printed_commands(text)
                assert [c.split()[-1] for c in commands if "/v1/alerts" in c]
                answers = [json.loads(await run_in_shell(c)) for c in commands]
                statuses = sorted(str(a.get("status", "items" in a)) for a in answers)
                assert statuses in (
                    ["True", "accepted", "success"],
                    ["True", "duplicate", "success"],
                ), (start, answers)
            envelopes = []
            for _ in range(20):
                batch = await services.queue.receive(max_messages=10, wait_seconds=0.1)
                envelopes += [decode_envelope(m.body) for m in batch]
        finally:
            stop.set()
            await serving

    first, restart = printed
    webhook_key, pagerduty_key = details["routing_key"], details["pagerduty_routing_key"]
    assert f"{url}/v1/ingest/alertmanager/{webhook_key}" in first
    assert f"{url}/v2/enqueue" in first and pagerduty_key in first
    assert webhook_key not in restart and pagerduty_key not in restart
    assert str(settings.data_dir / INTEGRATION_FILE) in restart
    by_integration = {(e.source, e.integration) for e in envelopes}
    assert (SourceKind.ALERTMANAGER, details["integration"]) in by_integration
    assert (SourceKind.PAGERDUTY, details["pagerduty_integration"]) in by_integration


async def test_an_installation_from_before_gets_its_pagerduty_integration_on_the_next_start(
    tmp_path: Path,
) -> None:
    """An integration.json with the Alertmanager key only keeps it and gains a PagerDuty key."""
    settings = Settings(data_dir=tmp_path / "data", store_url="memory://")
    async with open_services(settings) as services:
        details, fresh = await integration(services)
        assert fresh == {"routing_key", "pagerduty_routing_key"}
        path = settings.data_dir / INTEGRATION_FILE
        older = {k: details[k] for k in ("tenant", "integration", "kind", "routing_key")}
        path.write_text(json.dumps(older))
        again, fresh = await integration(services)
        assert fresh == {"pagerduty_routing_key"}
        assert {k: again[k] for k in older} == older
        assert again["pagerduty_routing_key"] != details["pagerduty_routing_key"]
        assert json.loads(path.read_text()) == again
        assert path.stat().st_mode & 0o777 == 0o600
        unchanged, fresh = await integration(services)
        assert (unchanged, fresh) == (again, frozenset())
