"""Users pages: a tenant's people with their role and status, invitations by email, role
changes, deactivation and reactivation, and each user's sessions and tokens.

Every action is an account use case (``Accounts``) on the signed-in admin's or owner's behalf:
the rules (who may give which role, the last owner, nobody deactivating themselves) are the
access decider's, and a refusal is shown inline as the decider words it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio.to_thread
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from helios.apps.admin.context import AdminContext, Ctx, Viewer
from helios.apps.admin.pages import AnyRequest, form_fields, render, see_other
from helios.apps.application.access import Caller
from helios.apps.application.accounts import NoSuchToken, NoSuchUser
from helios.domain import access
from helios.domain.access import Role
from helios.domain.errors import CommandRejected

ROLES = tuple(r.value for r in Role)
NO_RELAY = (
    "No SMTP relay is configured (HELIOS_SMTP_HOST), so no invitation can be emailed: nobody "
    "was invited. Configure a relay, or run `helios users invite --print-link` and pass the "
    "link on yourself."
)


@get("/users", name="admin-users")
async def users_page(ctx: Ctx, request: AnyRequest, invited: FromQuery[str] = "") -> Template:
    viewer, caller = await ctx.caller(request)
    return await _users_page(ctx, viewer, caller, invited=invited)


async def _users_page(
    ctx: AdminContext,
    viewer: Viewer,
    caller: Caller,
    *,
    form: dict[str, str] | None = None,
    problems: tuple[tuple[str, str], ...] = (),
    error: str = "",
    invited: str = "",
    status_code: int = 200,
) -> Template:
    people = await anyio.to_thread.run_sync(ctx.accounts.users, caller)
    # The address names the user invited by id only: the notice says who it is.
    person = next((u for u in people if u.user_id == invited), None)
    notice = f"Invited {person.email}: the invitation email is on its way." if person else ""
    return render(
        ctx,
        "users.html",
        viewer=viewer,
        section="users",
        status_code=status_code,
        people=sorted(people, key=lambda u: u.email),
        roles=ROLES,
        grantable=_grantable(caller.role),
        form=form or {"role": Role.RESPONDER.value},
        problems=dict(problems),
        error=error,
        notice=notice,
        can_mail=ctx.can_mail,
        me=caller.user.user_id,
    )


@post("/users/invite", name="admin-users-invite")
async def invite(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    viewer, caller = await ctx.caller(request)
    form = await form_fields(request)
    email, role_text = form.get("email", ""), form.get("role", "")
    if role_text not in ROLES:
        return await _users_page(
            ctx, viewer, caller, form=form, problems=(("role", "choose a role"),), status_code=422
        )
    if not ctx.can_mail:
        return await _users_page(ctx, viewer, caller, form=form, error=NO_RELAY, status_code=503)
    try:
        invited = await ctx.accounts.invite(caller, email=email, role=Role(role_text))
    except CommandRejected as rejected:
        return await _users_page(
            ctx,
            viewer,
            caller,
            form=form,
            problems=rejected.problems,
            error=f"Not invited: {rejected.message}.",
            status_code=422,
        )
    if not invited.emailed:
        return await _users_page(
            ctx,
            viewer,
            caller,
            error=f"{email} was invited, but the email could not be sent: send it again from "
            "their page.",
            status_code=502,
        )
    return see_other(ctx, f"/users?invited={invited.user.user_id}")


@get("/users/{user_id:str}", name="admin-user")
async def user_page(
    ctx: Ctx, request: AnyRequest, user_id: FromPath[str], done: FromQuery[str] = ""
) -> Template:
    viewer, caller = await ctx.caller(request)
    return await _user_page(ctx, viewer, caller, user_id, notice=done)


async def _user_page(
    ctx: AdminContext,
    viewer: Viewer,
    caller: Caller,
    user_id: str,
    *,
    error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> Template:
    try:
        person = await anyio.to_thread.run_sync(ctx.accounts.user, caller, user_id)
        credentials = await anyio.to_thread.run_sync(ctx.accounts.credentials, caller, user_id)
    except NoSuchUser as missing:
        raise NotFoundException("no such user") from missing
    now = ctx.clock()
    return render(
        ctx,
        "user.html",
        viewer=viewer,
        section="users",
        status_code=status_code,
        person=person,
        credentials=tuple(reversed(credentials)),
        valid={t.token_id: t.valid(now) for t in credentials},
        roles=ROLES,
        grantable=_grantable(caller.role),
        invited=not person.password_hash,
        error=error,
        notice=_NOTICES.get(notice, ""),
        me=caller.user.user_id,
    )


_NOTICES = {
    "role": "Role changed.",
    "deactivated": "Deactivated: every session and token of theirs is revoked.",
    "reactivated": "Reactivated: they can sign in again (their old tokens stay revoked).",
    "revoked": "Revoked.",
    "resent": "A new invitation email is on its way; the previous link no longer works.",
}


def _grantable(role: Role) -> tuple[str, ...]:
    """The roles this person may give (the decider checks again)."""
    granted = []
    for candidate in Role:
        try:
            access.check_grant(role, candidate)
        except CommandRejected:
            continue
        granted.append(candidate.value)
    return tuple(granted)


def _refusal(rejected: CommandRejected) -> str:
    """The decider's refusal as a sentence: its message and what it says of each field."""
    details = "; ".join(f"{field}: {message}" for field, message in rejected.problems)
    return f"Refused: {rejected.message}" + (f" ({details})." if details else ".")


Action = Callable[[AdminContext, Caller, str, dict[str, str]], Awaitable[str]]


async def _act(
    ctx: AdminContext, request: AnyRequest, user_id: str, action: Action
) -> Template | Redirect:
    """Run one action on a user; the user's page again, with the refusal inline if refused."""
    viewer, caller = await ctx.caller(request)
    form = await form_fields(request)
    try:
        done = await action(ctx, caller, user_id, form)
    except (NoSuchUser, NoSuchToken) as missing:
        raise NotFoundException("no such user or token") from missing
    except CommandRejected as rejected:
        return await _user_page(
            ctx, viewer, caller, user_id, error=_refusal(rejected), status_code=409
        )
    return see_other(ctx, f"/users/{user_id}?done={done}")


async def _change_role(
    ctx: AdminContext, caller: Caller, user_id: str, form: dict[str, str]
) -> str:
    role_text = form.get("role", "")
    if role_text not in ROLES:
        raise CommandRejected(f"{role_text or 'no role'} is not a role", (("role", "unknown"),))
    role = Role(role_text)
    await anyio.to_thread.run_sync(lambda: ctx.accounts.change_role(caller, user_id, role))
    return "role"


async def _deactivate(ctx: AdminContext, caller: Caller, user_id: str, _: dict[str, str]) -> str:
    await anyio.to_thread.run_sync(lambda: ctx.accounts.set_active(caller, user_id, active=False))
    return "deactivated"


async def _reactivate(ctx: AdminContext, caller: Caller, user_id: str, _: dict[str, str]) -> str:
    await anyio.to_thread.run_sync(lambda: ctx.accounts.set_active(caller, user_id, active=True))
    return "reactivated"


async def _revoke(ctx: AdminContext, caller: Caller, user_id: str, form: dict[str, str]) -> str:
    token_id = form.get("token_id", "")
    await anyio.to_thread.run_sync(
        lambda: ctx.accounts.revoke_user_token(caller, user_id, token_id)
    )
    return "revoked"


async def _resend(ctx: AdminContext, caller: Caller, user_id: str, _: dict[str, str]) -> str:
    if not ctx.can_mail:
        raise CommandRejected(NO_RELAY.rstrip("."))
    invited = await ctx.accounts.resend_invitation(caller, user_id)
    if not invited.emailed:
        raise CommandRejected("the email could not be sent; try again later")
    return "resent"


@post("/users/{user_id:str}/role", name="admin-user-role")
async def change_role(ctx: Ctx, request: AnyRequest, user_id: FromPath[str]) -> Template | Redirect:
    return await _act(ctx, request, user_id, _change_role)


@post("/users/{user_id:str}/deactivate", name="admin-user-deactivate")
async def deactivate(ctx: Ctx, request: AnyRequest, user_id: FromPath[str]) -> Template | Redirect:
    return await _act(ctx, request, user_id, _deactivate)


@post("/users/{user_id:str}/reactivate", name="admin-user-reactivate")
async def reactivate(ctx: Ctx, request: AnyRequest, user_id: FromPath[str]) -> Template | Redirect:
    return await _act(ctx, request, user_id, _reactivate)


@post("/users/{user_id:str}/revoke", name="admin-user-revoke")
async def revoke(ctx: Ctx, request: AnyRequest, user_id: FromPath[str]) -> Template | Redirect:
    return await _act(ctx, request, user_id, _revoke)


@post("/users/{user_id:str}/invitation", name="admin-user-invitation")
async def resend(ctx: Ctx, request: AnyRequest, user_id: FromPath[str]) -> Template | Redirect:
    return await _act(ctx, request, user_id, _resend)


HANDLERS = [users_page, invite, user_page, change_role, deactivate, reactivate, revoke, resend]
