"""Who is calling and their credentials: ``/v1/me``, password login and logout for the browser
client, personal API tokens, and the tenant's users (admin+): invitations by email, roles,
deactivation, a user's sessions and tokens; and, without a token, accepting an invitation and
resetting a password with the emailed one-time link.

Logins are ``helios.apps.application.access.PasswordLogin``; everything done on the caller's
behalf is ``helios.apps.application.accounts.Accounts`` (the role-grant rule is the access
decider's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, SkipValidation

from helios.apps.application.access import Caller, InvalidCredentials, IssuedToken, LoginLocked
from helios.apps.application.accounts import Accounts, NoSuchToken, NoSuchUser
from helios.apps.application.people import Invited
from helios.apps.http.errors import Forbidden, NotFound, RateLimited, Unauthorized
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    BEARER,
    Context,
    QueryContext,
    errors,
    public_errors,
    rfc3339,
    rfc3339_required,
)
from helios.domain import access
from helios.domain.access import LinkPurpose, Role
from helios.domain.values import Millis

AccountsDependency: TypeAlias = NamedDependency[SkipValidation[Accounts]]


class LoginController(Controller):
    """The one endpoint that takes no token."""

    path = "/auth/login"
    tags = ["me"]

    @post(
        status_code=201,
        summary="Log in with a password; returns a short-lived session token",
        description=(
            "Repeated wrong passwords for one email lock the address they come from out of "
            "that email for a while (429), whether the email belongs to a user or not."
        ),
        opt={"public": True},
        responses=public_errors(429),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        ctx: Context,
        data: JSONBody[doc.LoginRequest],
    ) -> doc.Session:
        try:
            issued: IssuedToken = await ctx.logins.login(
                tenant_id=data.tenant,
                email=data.email,
                password=data.password,
                client=request.client.host if request.client else "",
            )
        except InvalidCredentials:
            raise Unauthorized("wrong tenant, email or password") from None
        except LoginLocked as locked:
            retry_s = max(1, -(-(locked.until - ctx.clock()) // 1000))
            raise RateLimited("too many failed logins", retry_after_s=retry_s) from None
        return doc.Session(
            token=issued.token,
            token_id=issued.record.token_id,
            expires_at=rfc3339_required(issued.record.expires_at),
            user=user_document(issued.user, ctx.clock()),
        )


class MeController(Controller):
    """The caller, their session and their personal tokens."""

    path = "/"
    tags = ["me"]
    security = [BEARER]

    @get("/me", summary="The caller", opt={"role": Role.VIEWER}, responses=errors())
    async def me(self, caller: NamedDependency[Caller], ctx: Context) -> doc.Me:
        return doc.Me(
            tenant_id=caller.tenant_id,
            user=user_document(caller.user, ctx.clock()),
            token_id=caller.token.token_id,
            token_kind=caller.token.kind.value,
            token_expires_at=rfc3339(caller.token.expires_at),
        )

    @post(
        "/auth/logout",
        status_code=204,
        summary="Revoke the token this request carries",
        opt={"role": Role.VIEWER},
        responses=errors(),
    )
    async def logout(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
    ) -> None:
        await ctx.run(lambda: accounts.log_out(caller))

    @get(
        "/me/tokens",
        summary="The caller's personal API tokens (never their secrets)",
        opt={"role": Role.VIEWER},
        responses=errors(),
    )
    async def list_tokens(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
    ) -> doc.TokenList:
        tokens = await ctx.run(lambda: accounts.tokens(caller))
        return doc.TokenList(items=[_token_document(t) for t in tokens])

    @post(
        "/me/tokens",
        status_code=201,
        summary="Create a personal API token (its secret is shown once)",
        opt={"role": Role.VIEWER},
        responses=errors(),
    )
    async def create_token(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        data: JSONBody[doc.NewToken],
    ) -> doc.IssuedTokenDocument:
        issued = await ctx.run(
            lambda: accounts.issue_token(
                caller, name=data.name, expires_in_days=data.expires_in_days
            )
        )
        return doc.IssuedTokenDocument(
            token=issued.token,
            id=issued.record.token_id,
            name=issued.record.name,
            created_at=rfc3339_required(issued.record.issued_at),
            expires_at=rfc3339(issued.record.expires_at),
        )

    @post(
        "/me/tokens/{token_id:str}/revoke",
        status_code=204,
        summary="Revoke one of the caller's personal tokens",
        opt={"role": Role.VIEWER},
        responses=errors(404),
    )
    async def revoke_token(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        token_id: FromPath[str],
    ) -> None:
        try:
            await ctx.run(lambda: accounts.revoke_own_token(caller, token_id))
        except NoSuchToken:
            raise NotFound("no such token") from None


class UserController(Controller):
    """The tenant's users (admin+)."""

    path = "/users"
    tags = ["users"]
    security = [BEARER]

    @get(summary="The tenant's users", opt={"role": Role.ADMIN}, responses=errors())
    async def list_users(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
    ) -> doc.UserList:
        users = await ctx.run(lambda: accounts.users(caller))
        now = ctx.clock()
        return doc.UserList(items=[user_document(u, now) for u in users])

    @post(
        status_code=201,
        summary="Create a user (roles up to the caller's own)",
        opt={"role": Role.ADMIN},
        responses=errors(),
    )
    async def create_user(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        data: JSONBody[doc.NewUser],
    ) -> doc.UserDocument:
        try:
            user = await ctx.run(
                lambda: accounts.create_user(
                    caller, email=data.email, role=Role(data.role), password=data.password
                )
            )
        except access.RoleNotGranted as refused:
            raise Forbidden(refused.message) from None
        return user_document(user, ctx.clock())

    @post(
        "/invitations",
        status_code=201,
        summary="Invite someone by email (roles the caller may give; admin and owner: owners)",
        description=(
            "Creates the user without a password and emails them a one-time link (valid 7 "
            "days) to choose one. The link is never in the answer."
        ),
        opt={"role": Role.ADMIN},
        responses=errors(),
    )
    async def invite(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        data: JSONBody[doc.NewInvitation],
    ) -> doc.InvitationDocument:
        try:
            invited = await accounts.invite(caller, email=data.email, role=Role(data.role))
        except access.RoleNotGranted as refused:
            raise Forbidden(refused.message) from None
        return _invitation_document(invited, ctx.clock())

    @post(
        "/{user_id:str}/invitation",
        status_code=201,
        summary="Send a user who has not accepted their invitation a new link",
        opt={"role": Role.ADMIN},
        responses=errors(404),
    )
    async def resend_invitation(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        user_id: FromPath[str],
    ) -> doc.InvitationDocument:
        try:
            invited = await accounts.resend_invitation(caller, user_id)
        except NoSuchUser:
            raise NotFound("no such user") from None
        return _invitation_document(invited, ctx.clock())

    @post(
        "/{user_id:str}/role",
        status_code=200,
        summary="Change a user's role (admin and owner are given and taken by owners only)",
        description="The tenant's last active owner cannot be demoted (400).",
        opt={"role": Role.ADMIN},
        responses=errors(404),
    )
    async def change_role(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        user_id: FromPath[str],
        data: JSONBody[doc.RoleChange],
    ) -> doc.UserDocument:
        role = Role(data.role)
        return await _changed_user(ctx, lambda: accounts.change_role(caller, user_id, role))

    @post(
        "/{user_id:str}/deactivate",
        status_code=200,
        summary="Deactivate a user: every token of theirs is revoked and they cannot log in",
        description="Nobody deactivates themselves, nor the tenant's last active owner (400).",
        opt={"role": Role.ADMIN},
        responses=errors(404),
    )
    async def deactivate(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        user_id: FromPath[str],
    ) -> doc.UserDocument:
        return await _changed_user(ctx, lambda: accounts.set_active(caller, user_id, active=False))

    @post(
        "/{user_id:str}/reactivate",
        status_code=200,
        summary="Let a deactivated user log in again (their old tokens stay revoked)",
        opt={"role": Role.ADMIN},
        responses=errors(404),
    )
    async def reactivate(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        user_id: FromPath[str],
    ) -> doc.UserDocument:
        return await _changed_user(ctx, lambda: accounts.set_active(caller, user_id, active=True))

    @get(
        "/{user_id:str}/tokens",
        summary="A user's sessions and personal tokens (never their secrets)",
        opt={"role": Role.ADMIN},
        responses=errors(404),
    )
    async def list_credentials(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        user_id: FromPath[str],
    ) -> doc.CredentialList:
        try:
            tokens = await ctx.run(lambda: accounts.credentials(caller, user_id))
        except NoSuchUser:
            raise NotFound("no such user") from None
        return doc.CredentialList(items=[_credential_document(t) for t in tokens])

    @post(
        "/{user_id:str}/tokens/{token_id:str}/revoke",
        status_code=204,
        summary="Revoke a session or personal token of a user",
        opt={"role": Role.ADMIN},
        responses=errors(404),
    )
    async def revoke_credential(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        accounts: AccountsDependency,
        user_id: FromPath[str],
        token_id: FromPath[str],
    ) -> None:
        try:
            await ctx.run(lambda: accounts.revoke_user_token(caller, user_id, token_id))
        except NoSuchUser:
            raise NotFound("no such user") from None
        except NoSuchToken:
            raise NotFound("no such token") from None


class UserLinkController(Controller):
    """What the holder of an emailed one-time link does, without a token."""

    path = "/users"
    tags = ["users"]

    @post(
        "/invitations/accept",
        status_code=200,
        summary="Accept an invitation: choose a password with the emailed link's token",
        description="An invalid, used or expired link is a 400 naming `token`.",
        opt={"public": True},
        responses=public_errors(),
    )
    async def accept(
        self, ctx: Context, accounts: AccountsDependency, data: JSONBody[doc.LinkRedemption]
    ) -> doc.UserDocument:
        user = await accounts.redeem_link(
            token=data.token, purpose=LinkPurpose.INVITATION, password=data.password
        )
        return user_document(user, ctx.clock())

    @post(
        "/password-reset",
        status_code=202,
        summary="Ask for a password-reset link by email",
        description=(
            "Always 202, whether the email belongs to a user of the tenant or not: the link "
            "(valid 1 hour) goes only to a user's own address, at most 3 an hour."
        ),
        opt={"public": True},
        responses=public_errors(),
    )
    async def request_reset(
        self, accounts: AccountsDependency, data: JSONBody[doc.PasswordResetRequest]
    ) -> Response[None]:
        # After the answer, so its timing says nothing about whether the email is a user's.
        task = BackgroundTask(
            accounts.request_password_reset, tenant_id=data.tenant, email=data.email
        )
        return Response(content=None, status_code=202, background=task)

    @post(
        "/password-reset/confirm",
        status_code=200,
        summary="Choose a new password with the emailed link's token; every session ends",
        description="An invalid, used or expired link is a 400 naming `token`.",
        opt={"public": True},
        responses=public_errors(),
    )
    async def confirm_reset(
        self, ctx: Context, accounts: AccountsDependency, data: JSONBody[doc.LinkRedemption]
    ) -> doc.UserDocument:
        user = await accounts.redeem_link(
            token=data.token, purpose=LinkPurpose.PASSWORD_RESET, password=data.password
        )
        return user_document(user, ctx.clock())


async def _changed_user(ctx: QueryContext, change: Callable[[], access.User]) -> doc.UserDocument:
    try:
        user = await ctx.run(change)
    except NoSuchUser:
        raise NotFound("no such user") from None
    except access.RoleNotGranted as refused:
        raise Forbidden(refused.message) from None
    return user_document(user, ctx.clock())


def user_document(user: access.User, now: int) -> doc.UserDocument:
    status: Literal["invited", "active", "deactivated"] = (
        "deactivated" if not user.active else "active" if user.password_hash else "invited"
    )
    return doc.UserDocument(
        id=user.user_id,
        email=user.email,
        role=user.role.value,
        created_at=rfc3339_required(user.created_at),
        locked_until=rfc3339(user.locked_until) if user.locked(now) else None,
        status=status,
    )


def _credential_document(token: access.Token) -> doc.CredentialDocument:
    return doc.CredentialDocument(
        id=token.token_id,
        kind=token.kind.value,
        name=token.name,
        created_at=rfc3339_required(token.issued_at),
        expires_at=rfc3339(token.expires_at),
        revoked_at=rfc3339(token.revoked_at),
    )


def _token_document(token: access.Token) -> doc.TokenDocument:
    return doc.TokenDocument(
        id=token.token_id,
        name=token.name,
        created_at=rfc3339_required(token.issued_at),
        expires_at=rfc3339(token.expires_at),
        revoked_at=rfc3339(token.revoked_at),
    )


def _invitation_document(invited: Invited, now: Millis) -> doc.InvitationDocument:
    return doc.InvitationDocument(
        user=user_document(invited.user, now),
        expires_at=rfc3339_required(invited.expires_at),
        emailed=invited.emailed,
    )
