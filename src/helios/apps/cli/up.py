"""``helios up``: the embedded default — the API in one process, the ingest worker, followers
and scheduler in another, under a small supervisor (``--one-process``: all in one).

SQLite store file, durable embedded queue (an accepted event survives ``kill -9``), in-process
rate limiter. Nothing to install but the package.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Collection

import attrs
from rich.console import Console

from helios.apps.composition import open_services
from helios.apps.embedded.child import command as child_command
from helios.apps.embedded.cpus import planned_api_cpus
from helios.apps.embedded.runner import (
    ACCESS_FILE,
    CHILD_ROLES,
    INTEGRATION_FILE,
    ApiMissing,
    access,
    api_wanted,
    integration,
    load_api_factory,
    port_in_use,
    run_child_process,
    run_everything,
)
from helios.apps.embedded.supervisor import Child, spec
from helios.apps.observability import configure_logging
from helios.apps.settings import InvalidSetting, Settings
from helios.apps.workers.runtime import stop_on_signals

INGEST_PATH = "/v1/ingest/alertmanager"
"""Where an Alertmanager webhook is posted (the API's ingestion route for that source)."""
ENQUEUE_PATH = "/v2/enqueue"
"""Where PagerDuty Events API v2 events are posted."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = subparsers.add_parser(
        "up",
        help="run everything: API and workers, supervised (the embedded default)",
        description="The API in one process; the ingest worker, followers and scheduler in "
        "another; both over files in the data directory ($HELIOS_DATA_DIR, default .helios) "
        "and kept running by this one (a crashed process is restarted). Ctrl-C stops it "
        "cleanly.",
    )
    up.add_argument("--port", type=int, help="HTTP port (default: $HELIOS_HTTP_PORT or 8080)")
    up.add_argument("--no-api", action="store_true", help="workers only, no HTTP server")
    up.add_argument(
        "--one-process",
        action="store_true",
        help="run API and workers on one event loop in this process (no supervisor)",
    )
    # What the supervisor starts its children with; not for people.
    up.add_argument("--child", choices=sorted(CHILD_ROLES), help=argparse.SUPPRESS)
    up.add_argument("--supervisor", type=int, default=0, help=argparse.SUPPRESS)
    up.set_defaults(func=_up)


def settings_for(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "port", None):
        settings = attrs.evolve(settings, http_port=args.port)
    return settings


def children(args: argparse.Namespace, settings: Settings) -> list[Child]:
    """The processes to supervise: one per role of ``CHILD_ROLES`` (but the API's with
    ``--no-api``, and the projector's only with ``HELIOS_UP_PROJECTOR_CHILD``), each started
    as ``helios up --child ROLE`` without the command line's modules (``embedded.child``)."""
    return [
        Child(
            name=role,
            argv=child_command(port=settings.http_port, supervisor=os.getpid(), role=role),
        )
        for role in CHILD_ROLES
        if (role != "api" or api_wanted(args))
        and (role != "projector" or settings.up_projector_child)
    ]


def _up(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    if args.child:
        configure_logging(log_format=settings.log_format, level=settings.log_level)
        run_child_process(settings, args.child, supervisor=args.supervisor or os.getppid())
        return 0
    console = Console(stderr=True)
    if not args.no_api:
        try:
            load_api_factory()
        except ApiMissing as error:
            console.print(f"[red]cannot start the API:[/red] {error}")
            console.print("Run [bold]helios up --no-api[/bold] for the workers alone.")
            return 2
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    if api_wanted(args) and port_in_use(settings.http_host, settings.http_port):
        Console(stderr=True).print(
            f"[red]port {settings.http_port} on {settings.http_host} is already in use[/red]: "
            "stop what listens there, or choose another with --port or HELIOS_HTTP_PORT."
        )
        return 2
    if api_wanted(args) and not args.one_process:
        try:
            planned_api_cpus(settings.up_api_cpus)
        except ValueError as error:  # said now, rather than by a child restarted in a loop
            raise InvalidSetting(str(error)) from None

    async def main() -> bool:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with open_services(settings) as services:
            details, fresh = await integration(services)
            people, _ = await access(services, details["tenant"])
            banner(
                console,
                settings,
                details,
                fresh=fresh,
                api=not args.no_api,
                token=people["token"],
            )
            if args.one_process:
                await run_everything(services, stop, api=not args.no_api)
        return stop.is_set()

    stopped = asyncio.run(main())
    if args.one_process or stopped:
        return 0
    # The files are the children's from here: this process only watches over them, and
    # becomes a bare supervisor (same pid) to hold nothing it does not need.
    sys.stdout.flush()
    sys.stderr.flush()
    wanted = spec(
        children(args, settings), log_format=settings.log_format, log_level=settings.log_level
    )
    os.execv(sys.executable, [sys.executable, "-m", "helios.apps.embedded.supervisor", wanted])


def app_note() -> str:
    """After the app's URL: nothing when it is built, else how to build it."""
    from helios.apps.http.responder_app import is_built

    return "" if is_built() else "  (not built: bash scripts/build_app.sh)"


def banner(
    console: Console,
    settings: Settings,
    details: dict[str, str],
    *,
    fresh: Collection[str],
    api: bool,
    token: str | None = None,
) -> None:
    """Where to point a browser and the monitoring tools, and requests that work as printed.

    A key created now (named in ``fresh``) is shown once; after that, the commands read it
    from the 0600 key file with ``jq``.
    """
    url = settings.effective_public_url
    key_file = settings.data_dir / INTEGRATION_FILE
    console.print(f"[bold green]Helios is running[/bold green] (data in {settings.data_dir})")
    if api:
        console.print(f"  Responders' app       {url}/app/{app_note()}")
        console.print(f"  API reference (HTML)  {url}/schema")
        console.print(f"  OpenAPI document      {url}/schema/openapi.json")
    shown = [(label, name) for label, name in _KEYS if name in fresh]
    if shown:
        console.print(f"  keys (shown once, saved to {key_file} with mode 0600):")
        for label, name in shown:
            console.print(f"    {label:<28}[bold]{details[name]}[/bold]")
    if len(shown) < len(_KEYS):
        console.print(f"  keys: see {key_file}")

    def key(name: str) -> str:
        """The key in a shell command: itself, or read from the key file."""
        return details[name] if name in fresh else f"$(jq -r .{name} {key_file})"

    def setting(name: str) -> str:
        """The key in a tool's configuration: itself, or where to find it."""
        return details[name] if name in fresh else f"<{name} in {key_file}>"

    def show(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    if api:
        webhook, pagerduty = key("routing_key"), key("pagerduty_routing_key")
        console.print("  Alertmanager webhook_configs url:")
        show(f"    {url}{INGEST_PATH}/{setting('routing_key')}")
        console.print(
            "  PagerDuty Events API v2 (Alertmanager pagerduty_configs, Grafana, any client):"
        )
        show(f"    url {url}{ENQUEUE_PATH}  routing_key {setting('pagerduty_routing_key')}")
        console.print("  send an alert as Alertmanager does:")
        # Double quotes around the header: a $(jq …) in it must expand.
        show(
            f"    curl -sS -X POST {url}{INGEST_PATH} \\\n"
            f"      -H \"Authorization: Bearer {webhook}\" -H 'Content-Type: application/json' \\\n"
            f"      -d '{_WEBHOOK_EXAMPLE}'"
        )
        # Inside the single-quoted JSON a $(jq …) would not expand: close the quotes around it.
        in_json = pagerduty if "pagerduty_routing_key" in fresh else f"'\"{pagerduty}\"'"
        console.print("  send an alert as a PagerDuty client does:")
        show(
            f"    curl -sS -X POST {url}{ENQUEUE_PATH} -H 'Content-Type: application/json' \\\n"
            f'      -d \'{{"routing_key":"{in_json}",{_PAGERDUTY_EXAMPLE}}}\''
        )
    if api and token:
        console.print(
            f"  see the alerts (responder token saved in {settings.data_dir / ACCESS_FILE}):"
        )
        show(f"    curl -sS -H 'Authorization: Bearer {token}' {url}/v1/alerts")
    console.print("  stop        Ctrl-C (in-flight work drains first)")
    sys.stderr.flush()


_KEYS = (
    ("Alertmanager webhook key", "routing_key"),
    ("PagerDuty routing key", "pagerduty_routing_key"),
)
_WEBHOOK_EXAMPLE = (
    '{"version":"4","status":"firing","receiver":"helios","groupKey":"demo","alerts":'
    '[{"status":"firing","labels":{"alertname":"HighErrorRate","service":"checkout",'
    '"severity":"critical"},"annotations":{"summary":"5xx rate above 2 req/s"},'
    '"startsAt":"2030-01-01T00:00:00Z","fingerprint":"a1"}]}'
)
_PAGERDUTY_EXAMPLE = (
    '"event_action":"trigger","dedup_key":"db-1/disk","payload":{"summary":"Disk full on db-1",'
    '"source":"db-1","severity":"critical"}'
)
