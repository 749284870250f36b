"""The app factory: the ingestion API over already-opened services."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from litestar import Litestar, Response, Router
from litestar.handlers import asgi
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.status_codes import HTTP_404_NOT_FOUND

import helios
from helios.apps.application.admission import Intake, now_ms
from helios.apps.application.health import Health, read_health
from helios.apps.application.tenancy import KeyDirectory, SigningSecrets
from helios.apps.composition import Services, open_read_models
from helios.apps.http.config import ApiConfig
from helios.apps.http.errors import PROBLEM_HANDLERS, NotFound, problem_response
from helios.apps.http.hot_ingest import HotIngest
from helios.apps.http.middleware import BodyDeadline, RequestContext
from helios.apps.http.query import OPENAPI_COMPONENTS, query_router
from helios.apps.http.responder_app import app_router
from helios.apps.http.routes import ROUTES, ApiContext, dependencies
from helios.apps.http.sns import SnsVerifier
from helios.apps.observability import Metrics
from helios.domain.values import Millis
from helios.ports.mailer import Mailer
from helios.ports.read_models import ReadModels


def create_app(
    services: Services,
    *,
    config: ApiConfig | None = None,
    sns: SnsVerifier | None = None,
    metrics: Metrics | None = None,
    clock: Callable[[], Millis] = now_ms,
    mailer: Mailer | None = None,
    admin: bool = True,
    hot_ingest: bool = True,
) -> Litestar:
    """The ingestion API on ``services`` (which the caller opens and closes).

    ``config`` defaults to ``ApiConfig.from_env()``; ``sns`` to a verifier that downloads
    certificates and trusts the system's CAs; ``clock`` (epoch ms) is injectable for tests;
    ``mailer`` (invitations, password resets) defaults to the one the settings name.
    ``admin`` mounts the admin console at ``/admin/`` (``helios up``). ``hot_ingest``
    answers the ingestion routes ahead of the router (``hot_ingest``; off: the router does).
    """
    config = config or ApiConfig.from_env()
    metrics = metrics or Metrics()
    directory = KeyDirectory(
        services.store,
        tenant_ttl_s=config.key_cache_s,
        miss_refresh_s=config.key_miss_refresh_s,
    )
    if sns is None:
        sns = SnsVerifier() if config.sns_trust_file is None else _trusting(config)
    intake = Intake(
        directory=directory,
        limiter=services.limiter,
        idempotency=services.idempotency,
        queue=services.queue,
        config=config,
        metrics=metrics,
        clock=clock,
    )

    ctx = ApiContext(
        intake=intake,
        config=config,
        sns=sns,
        metrics=metrics,
        readiness=_readiness_probes(services, clock),
        signing=SigningSecrets(services.secrets),
        health=_health_reader(services),
    )

    def stop_taking_traffic() -> None:
        ctx.shutting_down = True

    mounted, admin_shutdown = _admin_console(services, clock, mailer) if admin else ([], [])
    app = Litestar(
        route_handlers=[
            *ROUTES,
            query_router(services, clock=clock, mailer=mailer),
            app_router(),
            *mounted,
        ],
        dependencies=dependencies(ctx),
        exception_handlers=PROBLEM_HANDLERS,
        middleware=[
            DefineMiddleware(RequestContext, metrics=metrics),
            DefineMiddleware(BodyDeadline, timeout_s=config.body_timeout_s),
        ],
        on_shutdown=[stop_taking_traffic, *admin_shutdown],
        openapi_config=OpenAPIConfig(
            title="Helios ingestion API",
            version=helios.__version__,
            path="/schema",
            components=OPENAPI_COMPONENTS,
            openapi_router=_documentation_router(),
        ),
        request_max_body_size=config.max_body_bytes,
    )
    if hot_ingest:
        _answer_ingestion_first(app, ctx)
    return app


def _answer_ingestion_first(app: Litestar, ctx: ApiContext) -> None:
    """Put ``HotIngest`` in front of ``app``'s router: inside ``Litestar.__call__``, which
    sets up the scope, and before routing."""
    app.asgi_handler = HotIngest(
        app.asgi_handler,
        litestar=app,
        api=ctx,
        metrics=ctx.metrics,
        body_timeout_s=ctx.config.body_timeout_s,
    )


def _admin_console(
    services: Services, clock: Callable[[], Millis], mailer: Mailer | None
) -> tuple[list[Any], list[Any]]:
    """The admin console mounted at ``/admin`` (its invitations sent with ``mailer``), and what
    stops it with the API."""
    from helios.apps.admin.app import create_admin_app

    console = create_admin_app(services, clock=clock, mailer=mailer)

    @asgi("/admin", is_mount=True, copy_scope=True, include_in_schema=False)
    async def admin_console(scope: Any, receive: Any, send: Any) -> None:
        # The console serves its pages under /admin itself: give it the path as requested.
        scope["path"] = unquote(scope.get("raw_path", b"").decode("latin-1")) or scope["path"]
        await console(scope, receive, send)

    return [admin_console], list(console.on_shutdown)


def _readiness_probes(
    services: Services, clock: Callable[[], Millis]
) -> dict[str, Callable[[], Awaitable[object]]]:
    """What ``/readyz`` checks: the store, the queue and the limiter answer (none is changed:
    the limiter is asked at no cost)."""

    async def store_ready() -> None:
        await anyio.to_thread.run_sync(services.store.max_position)

    async def queue_ready() -> None:
        await services.queue.check_ready()

    async def limiter_ready() -> None:
        await services.limiter.check(key="readyz", rate_per_s=1.0, burst=1, now_ms=clock(), cost=0)

    return {"store": store_ready, "queue": queue_ready, "limiter": limiter_ready}


def _health_reader(services: Services) -> Callable[[], Awaitable[Health]]:
    """The backlog and lag reading behind ``/metrics``'s gauges, over one read-model
    connection opened on first use."""
    opened: list[ReadModels] = []
    lock = threading.Lock()

    def db() -> ReadModels:
        with lock:
            if not opened:
                opened.append(open_read_models(services.settings.effective_read_models_url))
            return opened[0]

    async def read() -> Health:
        return await read_health(store=services.store, queue=services.queue, read_models=db)

    return read


def _documentation_router() -> Router:
    """The router of ``/schema`` (filled by Litestar with the OpenAPI pages), whose unknown
    pages answer a problem document like every other 404 (Litestar's own is an HTML page)."""

    def problem_for_missing_page(response: Response[Any]) -> Response[Any]:
        if response.status_code == HTTP_404_NOT_FOUND:
            return problem_response(NotFound("no such page of the API's documentation"))
        return response

    return Router(
        "/schema",
        route_handlers=[],
        include_in_schema=False,
        after_request=problem_for_missing_page,
    )


def _trusting(config: ApiConfig) -> SnsVerifier:
    from cryptography import x509

    assert config.sns_trust_file is not None
    path = config.sns_trust_file
    return SnsVerifier(trust=lambda: x509.load_pem_x509_certificates(path.read_bytes()))
