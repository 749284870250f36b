"""``helios admin``: run the admin console alone, as its own process on its own port.

The console is internal tooling for a tenant's admins and owners and for platform operators:
rules with a what-if preview, jobs (dead letters, projections, previews) and the audit log.
``helios up`` serves the same console at /admin/ on the API's port.
"""

from __future__ import annotations

import argparse
import os

import anyio

DEFAULT_PORT = 8081


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "admin",
        help="run the admin console (internal tooling) on its own port",
        description="Serve the admin console — internal tooling, not for the public internet — "
        "at http://HOST:PORT/admin/: sign-in for a tenant's admins and owners and for "
        "platform operators (helios operators create), rules with a what-if preview, jobs, "
        "and the audit log. Keep it behind your VPN or an authenticating proxy; serve it "
        "over TLS (a TLS-terminating proxy) so that its session cookie is marked Secure. "
        "HELIOS_ADMIN_SECRET signs its forms' CSRF tokens: every admin process must share it "
        "(unset: a random one per process).",
    )
    parser.add_argument("--host", default=None, help="bind address (default: HELIOS_HTTP_HOST)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port (default: $HELIOS_ADMIN_PORT or {DEFAULT_PORT})",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from helios.apps.settings import Settings

    settings = Settings.from_env()
    port = args.port or int(os.environ.get("HELIOS_ADMIN_PORT", DEFAULT_PORT))
    anyio.run(serve, settings, args.host or settings.http_host, port)
    return 0


async def serve(settings: object, host: str, port: int) -> None:
    """Open the services, serve the console until a signal stops it, close the services."""
    import uvicorn

    from helios.apps.admin.app import create_admin_app
    from helios.apps.composition import open_services
    from helios.apps.observability import configure_logging
    from helios.apps.settings import Settings

    assert isinstance(settings, Settings)
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    async with open_services(settings) as services:
        app = create_admin_app(services)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                proxy_headers=True,
                log_level=settings.log_level,
            )
        )
        await server.serve()
