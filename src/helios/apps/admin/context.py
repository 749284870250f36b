"""What every admin page needs: the use cases, the signed-in person, and the page conventions
(session cookie, sign-in redirects, the 403 page)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import attrs
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import SkipValidation

from helios.apps.application.access import (
    AccessService,
    Caller,
    PasswordLogin,
    TokenAuthenticator,
)
from helios.apps.application.accounts import Accounts
from helios.apps.application.jobs import JobRunner
from helios.apps.application.operators import OperatorLogin, OperatorService, session_id
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import Services, open_read_models
from helios.domain.access import Role
from helios.domain.admin_jobs import PLATFORM
from helios.domain.values import Millis
from helios.ports.read_models import ReadModels

SESSION_COOKIE = "helios_admin_session"
CSRF_COOKIE = "helios_admin_csrf"


@attrs.frozen(kw_only=True)
class AdminConfig:
    """The admin console's settings: where it is served and the CSRF secret.

    ``HELIOS_ADMIN_SECRET`` signs CSRF tokens; every admin process of an installation must
    share it (none set: a random one per process, so forms shown before a restart are refused
    after it).
    """

    prefix: str = "/admin"
    secret: str = attrs.field(factory=lambda: secrets.token_hex(32))

    @classmethod
    def from_env(cls, *, prefix: str = "/admin") -> AdminConfig:
        secret = os.environ.get("HELIOS_ADMIN_SECRET", "")
        return cls(prefix=prefix, secret=secret) if secret else cls(prefix=prefix)


@attrs.frozen(kw_only=True)
class Viewer:
    """Who is signed in: a tenant's admin or owner, or a platform operator (``tenant`` None)."""

    name: str
    tenant: str | None
    role: str

    @property
    def operator(self) -> bool:
        return self.tenant is None

    @property
    def actor(self) -> str:
        """How the log names this person's actions."""
        return f"operator:{self.name}" if self.operator else self.name

    @property
    def scope(self) -> str:
        """Whose jobs and audit log this person sees."""
        return PLATFORM if self.tenant is None else self.tenant


class SignInRequired(NotAuthorizedException):
    """No valid session: the page redirects to the sign-in form."""


@attrs.define
class AdminContext:
    services: Services
    config: AdminConfig
    access: AccessService
    logins: PasswordLogin
    authenticator: TokenAuthenticator
    operators: OperatorService
    operator_logins: OperatorLogin
    runner: JobRunner
    clock: Callable[[], Millis]
    accounts: Accounts
    tenancy: TenancyService
    can_mail: bool = True
    """Whether invitations can be emailed (an SMTP relay is configured, or a mailer given)."""
    _db: ReadModels | None = None

    def url(self, path: str = "/") -> str:
        return self.config.prefix + path

    async def read_models(self) -> ReadModels:
        """The read-model database, opened on first use.

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        if self._db is None:
            url = self.services.settings.effective_read_models_url
            self._db = await anyio.to_thread.run_sync(open_read_models, url)
        return self._db

    async def viewer(self, request: Request[Any, Any, Any]) -> Viewer | None:
        """The person the session cookie stands for (None: no valid session)."""
        token = request.cookies.get(SESSION_COOKIE, "")
        if not token:
            return None
        if session_id(token) is not None:
            name = await anyio.to_thread.run_sync(self.operators.authenticate, token)
            return None if name is None else Viewer(name=name, tenant=None, role="operator")
        caller = await self.authenticator.authenticate(token, now_ms=self.clock())
        if caller is None:
            return None
        return Viewer(name=caller.user.email, tenant=caller.tenant_id, role=caller.role.value)

    async def require(self, request: Request[Any, Any, Any], *, operator_ok: bool = True) -> Viewer:
        """The signed-in admin, owner or operator.

        Raises:
            SignInRequired: nobody is signed in (the page redirects to the sign-in form).
            PermissionDeniedException: a responder or viewer, or an operator on a tenant page.
        """
        viewer = await self.viewer(request)
        if viewer is None:
            raise SignInRequired("sign in first")
        if viewer.operator and not operator_ok:
            raise PermissionDeniedException("this page belongs to a tenant's admins")
        if not viewer.operator and not Role(viewer.role).allows(Role.ADMIN):
            raise PermissionDeniedException(
                f"the admin console is for a tenant's admins and owners; you are a {viewer.role}"
            )
        return viewer

    async def caller(self, request: Request[Any, Any, Any]) -> tuple[Viewer, Caller]:
        """The signed-in tenant admin or owner, as the account use cases know them.

        Raises:
            SignInRequired: nobody is signed in.
            PermissionDeniedException: a responder or viewer, or a platform operator (people
                and integrations belong to a tenant's admins).
        """
        viewer = await self.require(request, operator_ok=False)
        token = request.cookies.get(SESSION_COOKIE, "")
        caller = await self.authenticator.authenticate(token, now_ms=self.clock())
        if caller is None:  # revoked between the two reads
            raise SignInRequired("sign in first")
        return viewer, caller

    def close(self) -> None:
        self.runner.close()
        if self._db is not None:
            self._db.close()


Ctx = NamedDependency[SkipValidation[AdminContext]]
"""How a page handler asks for the admin context."""
