"""Who is calling and their credentials: ``/v1/me``, password login and logout for the browser
client, personal API tokens, and the tenant's users (admin+)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from helios.apps.application.access import Caller, InvalidCredentials, IssuedToken, LoginLocked
from helios.apps.http.errors import Forbidden, InvalidBody, NotFound, RateLimited, Unauthorized
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    QueryContext,
    errors,
    public_errors,
    rfc3339,
    rfc3339_required,
)
from helios.domain import access
from helios.domain.access import Role, TokenKind
from helios.domain.normalize import FieldError

_DAY_MS = 24 * 3600 * 1000
MAX_TOKEN_DAYS = 3650


def user_document(user: access.User, now: int) -> doc.UserDocument:
    return doc.UserDocument(
        id=user.user_id,
        email=user.email,
        role=user.role.value,
        created_at=rfc3339_required(user.created_at),
        locked_until=rfc3339(user.locked_until) if user.locked(now) else None,
    )


def _token_document(token: access.Token) -> doc.TokenDocument:
    return doc.TokenDocument(
        id=token.token_id,
        name=token.name,
        created_at=rfc3339_required(token.issued_at),
        expires_at=rfc3339(token.expires_at),
        revoked_at=rfc3339(token.revoked_at),
    )


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:  # noqa: C901
    """The identity endpoints."""

    @get("/me", summary="The caller", opt={"role": Role.VIEWER}, responses=errors(), tags=["me"])
    async def me(caller: NamedDependency[Caller]) -> doc.Me:
        return doc.Me(
            tenant_id=caller.tenant_id,
            user=user_document(caller.user, ctx.clock()),
            token_id=caller.token.token_id,
            token_kind=caller.token.kind.value,
            token_expires_at=rfc3339(caller.token.expires_at),
        )

    @post(
        "/auth/login",
        status_code=201,
        summary="Log in with a password; returns a short-lived session token",
        description=(
            "Repeated wrong passwords for one email lock the address they come from out of "
            "that email for a while (429), whether the email belongs to a user or not."
        ),
        opt={"public": True},
        responses=public_errors(429),
        tags=["me"],
    )
    async def login(
        request: Request[Any, Any, Any], data: JSONBody[doc.LoginRequest]
    ) -> doc.Session:
        body = data
        try:
            issued: IssuedToken = await ctx.logins.login(
                tenant_id=body.tenant,
                email=body.email,
                password=body.password,
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

    @post(
        "/auth/logout",
        status_code=204,
        summary="Revoke the token this request carries",
        opt={"role": Role.VIEWER},
        responses=errors(),
        tags=["me"],
    )
    async def logout(caller: NamedDependency[Caller]) -> None:
        await _revoke(caller, caller.token.token_id)

    async def _revoke(caller: NamedDependency[Caller], token_id: FromPath[str]) -> None:
        await ctx.run(
            lambda: ctx.access.revoke_token(
                tenant_id=caller.tenant_id, token_id=token_id, by=caller.user.user_id
            )
        )
        ctx.authenticator.forget(caller.tenant_id)

    @get(
        "/me/tokens",
        summary="The caller's personal API tokens (never their secrets)",
        opt={"role": Role.VIEWER},
        responses=errors(),
        tags=["me"],
    )
    async def list_tokens(caller: NamedDependency[Caller]) -> doc.TokenList:
        tokens = await ctx.run(lambda: ctx.access.tokens(caller.tenant_id, caller.user.user_id))
        return doc.TokenList(items=[_token_document(t) for t in tokens])

    @post(
        "/me/tokens",
        status_code=201,
        summary="Create a personal API token (its secret is shown once)",
        opt={"role": Role.VIEWER},
        responses=errors(),
        tags=["me"],
    )
    async def create_token(
        caller: NamedDependency[Caller], data: JSONBody[doc.NewToken]
    ) -> doc.IssuedTokenDocument:
        body = data
        days = body.expires_in_days
        if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
            raise InvalidBody(
                "invalid expiry",
                errors=(FieldError(field="expires_in_days", message="must be 1..3650"),),
            )
        issued = await ctx.run(
            lambda: ctx.access.issue_token(
                tenant_id=caller.tenant_id,
                user_id=caller.user.user_id,
                name=body.name,
                expires_in_ms=days * _DAY_MS if days else None,
            )
        )
        ctx.authenticator.forget(caller.tenant_id)
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
        tags=["me"],
    )
    async def revoke_token(caller: NamedDependency[Caller], token_id: FromPath[str]) -> None:
        tokens = await ctx.run(lambda: ctx.access.tokens(caller.tenant_id, caller.user.user_id))
        if not any(t.token_id == token_id and t.kind is TokenKind.PERSONAL for t in tokens):
            raise NotFound("no such token")
        await _revoke(caller, token_id)

    @get(
        "/users",
        summary="The tenant's users",
        opt={"role": Role.ADMIN},
        responses=errors(),
        tags=["users"],
    )
    async def list_users(caller: NamedDependency[Caller]) -> doc.UserList:
        users = await ctx.run(lambda: ctx.access.users(caller.tenant_id))
        now = ctx.clock()
        return doc.UserList(items=[user_document(u, now) for u in users])

    @post(
        "/users",
        status_code=201,
        summary="Create a user (roles up to the caller's own)",
        opt={"role": Role.ADMIN},
        responses=errors(),
        tags=["users"],
    )
    async def create_user(
        caller: NamedDependency[Caller], data: JSONBody[doc.NewUser]
    ) -> doc.UserDocument:
        body = data
        role = Role(body.role)
        if not caller.role.allows(role):
            raise Forbidden(f"a {caller.role.value} cannot create a {role.value}")
        user = await ctx.run(
            lambda: ctx.access.create_user(
                tenant_id=caller.tenant_id,
                email=body.email,
                role=role,
                password=body.password,
                by=caller.user.user_id,
            )
        )
        ctx.authenticator.forget(caller.tenant_id)
        return user_document(user, ctx.clock())

    return [me, login, logout, list_tokens, create_token, revoke_token, list_users, create_user]
