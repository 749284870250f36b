"""``helios api``: run the HTTP API alone (uvicorn), on the services of the settings.

Services are opened before the server starts and closed after it stopped: on SIGTERM uvicorn
stops accepting connections, lets in-flight requests finish (at most
``HELIOS_API_SHUTDOWN_GRACE_S``), then the queue and stores are closed — an event answered 2xx
is already on the queue.
"""

from __future__ import annotations

import argparse

import anyio


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api",
        help="run the HTTP API (ingestion, queries, commands)",
        description="Serve the ingestion API on HELIOS_HTTP_HOST:HELIOS_HTTP_PORT.",
    )
    parser.add_argument("--host", default=None, help="bind address (default: HELIOS_HTTP_HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (default: HELIOS_HTTP_PORT)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from helios.apps.settings import Settings

    settings = Settings.from_env()
    anyio.run(serve, settings, args.host, args.port)
    return 0


async def serve(settings: object, host: str | None = None, port: int | None = None) -> None:
    """Open the services, serve until a signal stops the server, close the services."""
    import uvicorn

    from helios.apps.composition import open_services
    from helios.apps.http.app import create_app
    from helios.apps.http.config import ApiConfig
    from helios.apps.http.server import server_config
    from helios.apps.observability import configure_logging
    from helios.apps.settings import Settings

    assert isinstance(settings, Settings)
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    config = ApiConfig.from_env()
    async with open_services(settings) as services:
        # The admin console runs as its own process in production (helios admin).
        app = create_app(services, config=config, admin=False)
        _announce(f"http://{host or settings.http_host}:{port or settings.http_port}")
        server = uvicorn.Server(
            server_config(
                app,
                host=host or settings.http_host,
                port=port or settings.http_port,
                api=config,
                log_level=settings.log_level,
            )
        )
        await server.serve()


def _announce(url: str) -> None:
    """Where the API and the responders' app are (on stderr: stdout stays the logs')."""
    from rich.console import Console

    from helios.apps.cli.up import app_note

    console = Console(stderr=True)
    console.print(f"[bold green]Helios API[/bold green] on {url}")
    console.print(f"  Responders' app       {url}/app/{app_note()}")
    console.print(f"  API reference (HTML)  {url}/schema")
