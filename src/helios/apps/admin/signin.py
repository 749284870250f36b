"""Signing in and out: a tenant's admins and owners with their account, operators with
theirs. Responders and viewers are refused (their new session is revoked at once)."""

from __future__ import annotations

import anyio.to_thread
from litestar import get, post
from litestar.response import Redirect, Template

from helios.apps.admin.context import SESSION_COOKIE, AdminContext, Ctx
from helios.apps.admin.pages import (
    AnyRequest,
    cleared_session,
    form_fields,
    render,
    see_other,
    session_cookie,
)
from helios.apps.application.access import InvalidCredentials, LoginLocked
from helios.apps.application.operators import session_id
from helios.domain.access import Role


@get("/", name="admin-home")
async def home(ctx: Ctx, request: AnyRequest) -> Redirect:
    viewer = await ctx.viewer(request)
    if viewer is None:
        return see_other(ctx, "/sign-in")
    return see_other(ctx, "/jobs" if viewer.operator else "/rules")


@get("/sign-in", name="admin-sign-in")
async def sign_in_form(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    if await ctx.viewer(request) is not None:
        return see_other(ctx, "/")
    return render(ctx, "sign_in.html", viewer=None, form={})


@post("/sign-in", name="admin-sign-in-post")
async def sign_in(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    form = await form_fields(request)
    tenant, email = form.get("tenant", ""), form.get("email", "")
    client = request.client.host if request.client else ""
    try:
        issued = await ctx.logins.login(
            tenant_id=tenant, email=email, password=form.get("password", ""), client=client
        )
    except InvalidCredentials:
        return _refused(ctx, form, "Wrong tenant, email or password.", 401)
    except LoginLocked:
        return _refused(ctx, form, "Too many failed attempts: try again later.", 429)
    if not issued.user.role.allows(Role.ADMIN):
        # Not theirs to use: the session just started is revoked, not left lying around.
        await anyio.to_thread.run_sync(
            lambda: ctx.access.revoke_token(
                tenant_id=tenant, token_id=issued.record.token_id, by=issued.user.email
            )
        )
        ctx.authenticator.forget(tenant)
        return render(
            ctx,
            "refused.html",
            viewer=None,
            status_code=403,
            title="Not for your role",
            detail=f"The admin console is for a tenant's admins and owners; you are a "
            f"{issued.user.role.value}.",
        )
    max_age = max(1, (issued.record.expires_at - ctx.clock()) // 1000)
    return see_other(ctx, "/rules", cookies=[session_cookie(ctx, request, issued.token, max_age)])


@post("/sign-in/operator", name="admin-sign-in-operator")
async def sign_in_operator(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    form = await form_fields(request)
    client = request.client.host if request.client else ""
    try:
        signed = await ctx.operator_logins.sign_in(
            name=form.get("name", ""), password=form.get("password", ""), client=client
        )
    except InvalidCredentials:
        return _refused(ctx, form, "Wrong operator name or password.", 401)
    except LoginLocked:
        return _refused(ctx, form, "Too many failed attempts: try again later.", 429)
    max_age = max(1, (signed.expires_at - ctx.clock()) // 1000)
    return see_other(ctx, "/jobs", cookies=[session_cookie(ctx, request, signed.token, max_age)])


@post("/sign-out", name="admin-sign-out")
async def sign_out(ctx: Ctx, request: AnyRequest) -> Redirect:
    token = request.cookies.get(SESSION_COOKIE, "")
    viewer = await ctx.viewer(request)
    if viewer is not None and session_id(token) is not None:
        await anyio.to_thread.run_sync(ctx.operators.sign_out, token)
    elif viewer is not None and viewer.tenant is not None:
        caller = await ctx.authenticator.authenticate(token, now_ms=ctx.clock())
        if caller is not None:
            tenant = viewer.tenant
            await anyio.to_thread.run_sync(
                lambda: ctx.access.revoke_token(
                    tenant_id=tenant, token_id=caller.token.token_id, by=viewer.actor
                )
            )
            ctx.authenticator.forget(tenant)
    return see_other(ctx, "/sign-in", cookies=[cleared_session(ctx, request)])


def _refused(ctx: AdminContext, form: dict[str, str], error: str, status: int) -> Template:
    shown = {k: v for k, v in form.items() if k != "password"}
    return render(ctx, "sign_in.html", viewer=None, form=shown, error=error, status_code=status)


HANDLERS = [home, sign_in_form, sign_in, sign_in_operator, sign_out]
