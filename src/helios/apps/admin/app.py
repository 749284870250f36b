"""The admin console's app factory: server-rendered pages (Litestar + Jinja2) over the
application layer's use cases, for a tenant's admins and owners and for platform operators.

``create_admin_app`` serves every page under ``config.prefix`` (``/admin``): ``helios admin``
runs it as its own process, and the API app mounts it (``helios up``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.exceptions import (
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.template.config import TemplateConfig

from helios.apps.admin import audit, flags, integrations, invitations, jobs, rules, signin, users
from helios.apps.admin.context import CSRF_COOKIE, AdminConfig, AdminContext, SignInRequired
from helios.apps.admin.pages import AnyRequest, render
from helios.apps.application.access import (
    AccessService,
    LoginPolicy,
    PasswordLogin,
    TokenAuthenticator,
)
from helios.apps.application.accounts import Accounts
from helios.apps.application.admission import now_ms
from helios.apps.application.jobs import JobRunner
from helios.apps.application.operators import OperatorLogin, OperatorService
from helios.apps.application.people import PeopleMail
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import Services, open_mailer
from helios.domain.values import Millis
from helios.ports.event_store import StoreUnavailable
from helios.ports.mailer import Mailer

HERE = Path(__file__).parent
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'",
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="Cache-Control", value="no-store"),
]


def create_admin_app(
    services: Services,
    *,
    config: AdminConfig | None = None,
    clock: Callable[[], Millis] = now_ms,
    runner: JobRunner | None = None,
    mailer: Mailer | None = None,
) -> Litestar:
    """The admin console on ``services`` (which the caller opens and closes).

    ``config`` defaults to ``AdminConfig.from_env()``; ``runner`` (the background jobs) to
    one worker thread of this process, stopped with the app; ``mailer`` (invitations) to the
    one the settings name.
    """
    config = config or AdminConfig.from_env()
    ctx = _context(services, config, clock, runner, mailer)
    pages = Router(
        config.prefix or "/",
        route_handlers=[
            *signin.HANDLERS,
            *rules.HANDLERS,
            *users.HANDLERS,
            *invitations.HANDLERS,
            *integrations.HANDLERS,
            *flags.HANDLERS,
            *jobs.HANDLERS,
            *audit.HANDLERS,
        ],
        dependencies={"ctx": Provide(lambda: ctx, use_cache=True, sync_to_thread=False)},
        response_headers=SECURITY_HEADERS,
    )
    handlers: list[Any] = [
        pages,
        create_static_files_router(
            path=f"{config.prefix}/static", directories=[HERE / "static"], name="admin-static"
        ),
    ]
    if config.prefix:
        handlers.append(_root_redirect(config.prefix))
    return Litestar(
        route_handlers=handlers,
        template_config=TemplateConfig(
            directory=HERE / "templates", engine=JinjaTemplateEngine, engine_callback=_filters
        ),
        csrf_config=CSRFConfig(
            secret=config.secret,
            cookie_name=CSRF_COOKIE,
            cookie_path=config.prefix or "/",
            cookie_httponly=True,
            cookie_samesite="strict",
            header_name="x-csrf-token",
        ),
        exception_handlers=_error_pages(ctx),
        on_shutdown=[ctx.close],
    )


def _context(
    services: Services,
    config: AdminConfig,
    clock: Callable[[], Millis],
    runner: JobRunner | None,
    mailer: Mailer | None,
) -> AdminContext:
    """The use cases every page calls, built once per app."""
    settings = services.settings
    policy = LoginPolicy(
        session_ttl_ms=settings.session_ttl_s * 1000,
        max_failures=settings.login_max_failures,
        lockout_ms=settings.login_lockout_s * 1000,
    )
    access = AccessService(services.store, policy=policy, clock=clock)
    operators = OperatorService(services.store, clock=clock)
    authenticator = TokenAuthenticator(services.store, ttl_s=settings.auth_cache_s)
    people = PeopleMail(
        service=access,
        mailer=mailer if mailer is not None else open_mailer(settings),
        sender=settings.smtp_from,
        # The console's invitations lead to its own page to accept them.
        public_url=settings.effective_public_url.rstrip("/") + config.prefix,
        limiter=services.limiter,
    )
    return AdminContext(
        services=services,
        config=config,
        access=access,
        logins=PasswordLogin(access, services.limiter, policy=policy, clock=clock),
        authenticator=authenticator,
        operators=operators,
        operator_logins=OperatorLogin(operators, services.limiter, policy=policy, clock=clock),
        runner=runner or JobRunner(services.store, clock=clock),
        clock=clock,
        accounts=Accounts(access, authenticator, people),
        tenancy=TenancyService(services.store, clock=clock, secrets=services.secrets),
        can_mail=mailer is not None or bool(settings.smtp_host),
    )


def _root_redirect(prefix: str) -> Any:
    @get("/", include_in_schema=False, name="admin-root")
    async def root() -> Redirect:
        return Redirect(prefix + "/", status_code=HTTP_303_SEE_OTHER)

    return root


def _filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters["when"] = _when


def _when(ms: int) -> str:
    """Epoch milliseconds as a UTC time people read (to the second)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _error_pages(ctx: AdminContext) -> dict[Any, Callable[[AnyRequest, Any], Response[Any]]]:
    """Errors as pages: no session → the sign-in form; refused → a 403 page; and so on."""

    def sign_in_first(request: AnyRequest, exc: SignInRequired) -> Response[Any]:
        return Redirect(ctx.url("/sign-in"), status_code=HTTP_303_SEE_OTHER)

    def page(title: str, status: int) -> Callable[[AnyRequest, Exception], Response[Any]]:
        def handler(request: AnyRequest, exc: Exception) -> Response[Any]:
            detail = getattr(exc, "detail", "") or str(exc)
            return render(
                ctx, "refused.html", viewer=None, title=title, detail=detail, status_code=status
            )

        return handler

    return {
        SignInRequired: sign_in_first,
        PermissionDeniedException: page("Not allowed", 403),
        NotFoundException: page("Not found", 404),
        ValidationException: page("Not understood", 400),
        StoreUnavailable: page("Unavailable", 503),
    }
