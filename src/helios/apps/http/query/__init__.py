"""The query and command API for people: ``/v1/alerts``, ``/v1/incidents``, ``/v1/activity``,
``/v1/live``, ``/v1/changes``, ``/v1/insights``, ``/v1/silences``, ``/v1/rules``, ``/v1/me``
and logins.

Every request is authenticated by a bearer token (a personal API token or a login session),
scoped to the token's tenant (another tenant's ids answer 404), and checked against the role
the endpoint declares (``opt["role"]``) by one guard. Lists and details are read from the
read models (and, for one alert's history, the event log); human actions go through the queue
like any other input, so they are recorded and replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, Router
from litestar.di import Provide
from litestar.openapi.spec import Components, SecurityScheme

from helios.apps.application.access import (
    AccessService,
    LoginPolicy,
    PasswordLogin,
    TokenAuthenticator,
)
from helios.apps.application.accounts import Accounts
from helios.apps.application.people import PeopleMail
from helios.apps.application.tenancy import wall_clock_ms
from helios.apps.composition import Services, open_mailer
from helios.apps.http.bodies import check_json_body
from helios.apps.http.query import alerts
from helios.apps.http.query.activity import ActivityController
from helios.apps.http.query.changes import ChangeController
from helios.apps.http.query.context import (
    QueryContext,
    current_caller,
    refuse_nul_characters,
    role_guard,
)
from helios.apps.http.query.incidents import IncidentController
from helios.apps.http.query.insights import InsightController
from helios.apps.http.query.live import LiveController
from helios.apps.http.query.me import (
    LoginController,
    MeController,
    UserController,
    UserLinkController,
)
from helios.apps.http.query.rules import RuleController
from helios.apps.http.query.silences import SilenceController
from helios.domain.values import Millis
from helios.ports.mailer import Mailer


def query_router(
    services: Services,
    *,
    clock: Callable[[], Millis] = wall_clock_ms,
    mailer: Mailer | None = None,
) -> Router:
    """Every query and command endpoint under ``/v1``, over ``services``; invitations and
    password resets are emailed with ``mailer`` (default: the one the settings name)."""
    settings = services.settings
    policy = LoginPolicy(
        session_ttl_ms=settings.session_ttl_s * 1000,
        max_failures=settings.login_max_failures,
        lockout_ms=settings.login_lockout_s * 1000,
    )
    access = AccessService(services.store, policy=policy, clock=clock)
    ctx = QueryContext(
        services=services,
        access=access,
        logins=PasswordLogin(access, services.limiter, policy=policy, clock=clock),
        authenticator=TokenAuthenticator(services.store, ttl_s=settings.auth_cache_s),
        clock=clock,
    )
    people = PeopleMail(
        service=access,
        mailer=mailer if mailer is not None else open_mailer(settings),
        sender=settings.smtp_from,
        public_url=settings.effective_public_url,
        limiter=services.limiter,
    )
    return Router(
        path="/v1",
        route_handlers=[
            alerts.AlertsController,
            IncidentController,
            ActivityController,
            LiveController,
            InsightController,
            ChangeController,
            SilenceController,
            RuleController,
            LoginController,
            MeController,
            UserController,
            UserLinkController,
        ],
        guards=[role_guard(ctx)],
        before_request=_check_request,
        dependencies={
            "caller": Provide(current_caller, sync_to_thread=False),
            "ctx": _constant(ctx),
            "accounts": _constant(Accounts(access, ctx.authenticator, people)),
        },
    )


def _constant(value: object) -> Provide:
    """A dependency that is always ``value`` (built once with the router)."""
    return Provide(lambda: value, use_cache=True, sync_to_thread=False)


async def _check_request(request: Request[Any, Any, Any]) -> None:
    """Before every handler (after the guard): parameters and body the stores can take."""
    refuse_nul_characters(request)
    await check_json_body(request)


__all__ = ["OPENAPI_COMPONENTS", "query_router"]

OPENAPI_COMPONENTS = Components(
    security_schemes={
        "bearer": SecurityScheme(
            type="http",
            scheme="bearer",
            description="A personal API token or a session token from /v1/auth/login",
        )
    }
)
"""The security scheme the query endpoints name (for the app's OpenAPI config)."""
