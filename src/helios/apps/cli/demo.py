"""``helios demo``: ``helios up`` plus realistic traffic, with a live summary of what Helios
made of it (deduplicated, scored alerts and incidents) — the first command to run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import anyio.to_thread
import attrs
import structlog
from rich.console import Console
from rich.live import Live
from rich.table import Table

from helios.apps.application.envelopes import envelope_message
from helios.apps.application.provisioning import Provisioning
from helios.apps.cli.up import app_note
from helios.apps.composition import Services, key_file, open_services
from helios.apps.embedded.runner import (
    ApiMissing,
    access,
    api_wanted,
    integration,
    load_api_factory,
    port_in_use,
    run_everything,
)
from helios.apps.embedded.traffic import TrafficGenerator
from helios.apps.observability import configure_logging
from helios.apps.settings import Settings
from helios.apps.views import alerts, incidents, outbox
from helios.apps.workers.followers import wait_or_stop
from helios.apps.workers.ingest import IngestWorker
from helios.apps.workers.runtime import read_models, stop_on_signals
from helios.domain.values import SourceKind
from helios.ports.read_models import ReadModels

_log = structlog.get_logger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run Helios with realistic alert traffic and watch the result live",
        description="Starts everything like 'helios up' (data in .helios/demo unless "
        "HELIOS_DATA_DIR is set) and feeds it Alertmanager, Grafana and PagerDuty traffic "
        "with HA duplicates, overtaking resolves and flapping.",
    )
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    demo.add_argument("--rate", type=float, default=40.0, help="envelopes per second")
    demo.add_argument("--port", type=int, help="HTTP port (default: $HELIOS_HTTP_PORT or 8080)")
    demo.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if "HELIOS_DATA_DIR" not in os.environ:
        settings = attrs.evolve(settings, data_dir=Path(".helios/demo"))
    if args.port:
        settings = attrs.evolve(settings, http_port=args.port)
    # The table is the output; logs would scroll it away.
    configure_logging(log_format=settings.log_format, level="error")
    try:
        load_api_factory()
        api = True
    except ApiMissing:
        api = False
    console = Console()
    if api_wanted(args) and port_in_use(settings.http_host, settings.http_port):
        Console(stderr=True).print(
            f"[red]port {settings.http_port} on {settings.http_host} is already in use[/red]: "
            "stop what listens there, or choose another with --port or HELIOS_HTTP_PORT."
        )
        return 2

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_services(settings) as services:
            details, _ = await integration(services)
            people, _ = await access(services, details["tenant"])
            runner = asyncio.create_task(run_everything(services, stop, api=api))
            if api:
                keys = await anyio.to_thread.run_sync(demo_keys, services, details)
                feed = _feed_http(settings, stop, keys, tenant=details["tenant"], rate=args.rate)
            else:
                feed = _feed(services, stop, tenant=details["tenant"], rate=args.rate)
            feeder = asyncio.create_task(feed)
            db = await read_models(services)
            try:
                await _watch(console, db, stop, args.duration, api=api, settings=settings)
            finally:
                stop.set()
                worker = await runner
                await feeder
                db.close()
            console.print(_summary_table(await anyio.to_thread.run_sync(_summary, db, worker)))
            if api:
                _how_to_look(console, settings, people["token"])

    asyncio.run(main())
    return 0


DEMO_KEYS = "demo-integrations.json"
_PATHS = {
    SourceKind.ALERTMANAGER: "/v1/ingest/alertmanager",
    SourceKind.GRAFANA: "/v1/ingest/grafana",
    SourceKind.PAGERDUTY: "/v2/enqueue",
}


def demo_keys(services: Services, details: dict[str, str]) -> dict[SourceKind, str]:
    """A routing key per demo source: the first-start Alertmanager integration, plus a
    Grafana and a PagerDuty integration created once for the demo (kept 0600 on disk)."""
    keyring = key_file(services.settings, DEMO_KEYS)
    return Provisioning(services.store).demo_integrations(keyring, details)


@attrs.define
class _Http:
    """What the demo's HTTP traffic got back, by status code."""

    statuses: dict[int, int] = attrs.Factory(dict)


HTTP = _Http()


async def _feed_http(
    settings: Settings,
    stop: asyncio.Event,
    keys: dict[SourceKind, str],
    *,
    tenant: str,
    rate: float,
) -> None:
    """Real traffic over HTTP to the running API, exactly as the tools would send it."""
    import httpx

    # One log line per request would scroll the live table away.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    now = time.time_ns() // 1_000_000
    generator = TrafficGenerator(
        tenant=tenant,
        start=now,
        seed=int(now) % 10_000,
        problems=24,
        pagerduty_routing_key=keys[SourceKind.PAGERDUTY],
        # Keep the sources' timestamps near the real clock at the chosen rate.
        gap_ms=(max(1, int(500 / max(rate, 1.0))), max(2, int(1500 / max(rate, 1.0)))),
    )
    envelopes = generator.envelopes(10**9)
    interval = 1.0 / max(rate, 1.0)
    base = f"http://{settings.http_host}:{settings.http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:
        while not stop.is_set():  # wait for the API to answer before sending
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    break
            await wait_or_stop(stop, 0.2)
        while not stop.is_set():
            envelope = next(envelopes)
            headers = {"Content-Type": "application/json", "X-Correlation-ID": "demo"}
            if envelope.source is not SourceKind.PAGERDUTY:
                headers["Authorization"] = f"Bearer {keys[envelope.source]}"
            try:
                answer = await client.post(
                    _PATHS[envelope.source], content=envelope.body, headers=headers
                )
                HTTP.statuses[answer.status_code] = HTTP.statuses.get(answer.status_code, 0) + 1
            except httpx.HTTPError:
                HTTP.statuses[0] = HTTP.statuses.get(0, 0) + 1
            await wait_or_stop(stop, interval)


async def _feed(services: Services, stop: asyncio.Event, *, tenant: str, rate: float) -> None:
    """Traffic straight onto the ingest queue, as the API would put it there."""
    now = time.time_ns() // 1_000_000
    generator = TrafficGenerator(
        tenant=tenant,
        start=now,
        seed=int(now) % 10_000,
        problems=24,
        integrations={kind: f"demo-{kind.value}" for kind in SourceKind},
    )
    envelopes = generator.envelopes(10**9)
    interval = 1.0 / max(rate, 1.0)
    while not stop.is_set():
        envelope = next(envelopes)
        await services.queue.send([envelope_message(envelope, correlation_id="demo")])
        await wait_or_stop(stop, interval)


async def _watch(
    console: Console,
    db: ReadModels,
    stop: asyncio.Event,
    duration: float | None,
    *,
    api: bool,
    settings: Settings,
) -> None:
    deadline = time.monotonic() + duration if duration else None
    if api:
        console.print(
            f"API on {settings.effective_public_url} (API reference at /schema) — Ctrl-C to stop"
        )
    with Live(console=console, refresh_per_second=2, transient=False) as live:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                live.update(_summary_table(await anyio.to_thread.run_sync(_summary, db, None)))
            if deadline is not None and time.monotonic() >= deadline:
                return
            await wait_or_stop(stop, 1.0)


def _how_to_look(console: Console, settings: Settings, token: str) -> None:
    url = settings.effective_public_url
    helios = _command_name()
    console.print(
        f"The alerts are kept in {settings.data_dir}. Look at them with the API "
        f"(serve them again with: HELIOS_DATA_DIR={settings.data_dir} {helios} up):"
    )
    console.print(
        f"  curl -sS -H 'Authorization: Bearer {token}' '{url}/v1/alerts?status=triggered'",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"  {helios} replay verify --store sqlite:{settings.data_dir / 'helios.db'}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"Or open the responders' app: {url}/app/{app_note()} and sign in with the personal "
        f"token {token}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _command_name() -> str:
    """How this command was invoked (``.venv/bin/helios`` when it is not on PATH)."""
    invoked = Path(sys.argv[0])
    if invoked.name != "helios" or shutil.which("helios") == str(invoked.resolve()):
        return "helios"
    try:
        return str(invoked.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(invoked)


@attrs.frozen
class _Summary:
    by_priority: list[tuple[str, str, int]]
    duplicates: int
    incidents_open: int
    incidents_resolved: int
    notifications: int
    envelopes: int | None


def _summary(db: ReadModels, worker: IngestWorker | None) -> _Summary:
    counts = incidents.counts_by_status(db)
    return _Summary(
        by_priority=[(c.priority, c.status, c.alerts) for c in alerts.counts_by_priority(db)],
        duplicates=alerts.total_duplicates(db),
        incidents_open=counts.get("open", 0),
        incidents_resolved=counts.get("resolved", 0),
        notifications=outbox.count(db),
        envelopes=worker.stats.envelopes if worker else None,
    )


def _summary_table(summary: _Summary) -> Table:
    table = Table(title="Helios demo: what the noise became")
    table.add_column("priority")
    table.add_column("status")
    table.add_column("alerts", justify="right")
    for priority, status, count in summary.by_priority:
        table.add_row(priority, status, str(count))
    table.add_section()
    table.add_row("duplicates dropped", "", str(summary.duplicates))
    table.add_row("incidents", "open", str(summary.incidents_open))
    table.add_row("incidents", "resolved", str(summary.incidents_resolved))
    table.add_row("notifications", "queued/sent", str(summary.notifications))
    if summary.envelopes is not None:
        table.add_row("envelopes processed", "", str(summary.envelopes))
    for code, count in sorted(HTTP.statuses.items()):
        label = f"HTTP {code}" if code else "HTTP errors"
        table.add_row("requests sent", label, str(count))
    return table
