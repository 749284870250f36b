"""Feature-flags page: a tenant's flags with their state and rollout, defining one, switching
it on or off, setting its percentage rollout, and the history of every change (who, when)."""

from __future__ import annotations

import re
from collections.abc import Callable

import anyio.to_thread
from litestar import get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from helios.apps.admin.context import AdminContext, Ctx, Viewer
from helios.apps.admin.pages import AnyRequest, form_fields, render, see_other
from helios.apps.application import flags as flag_cases
from helios.domain import flags
from helios.domain.errors import CommandRejected


@get("/flags", name="admin-flags")
async def flags_page(ctx: Ctx, request: AnyRequest, done: FromQuery[str] = "") -> Template:
    viewer = await ctx.require(request, operator_ok=False)
    return await _flags_page(ctx, viewer, changed=done)


async def _flags_page(
    ctx: AdminContext,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    problems: tuple[tuple[str, str], ...] = (),
    failed: str = "",
    changed: str = "",
    status_code: int = 200,
) -> Template:
    store, tenant = ctx.services.store, viewer.scope
    found = await anyio.to_thread.run_sync(lambda: flag_cases.tenant_flags(store, tenant=tenant))
    changes = await anyio.to_thread.run_sync(lambda: flag_cases.flag_history(store, tenant=tenant))
    defined = {f.name for f in found}
    # The notice names the flag just changed as it is now (the address carries its name only).
    flag = next((f for f in found if f.name == changed), None)
    notice = "" if flag is None else _state(flag)
    return render(
        ctx,
        "flags.html",
        viewer=viewer,
        section="flags",
        status_code=status_code,
        found=found,
        known=[(n, d) for n, d in flags.KNOWN_FLAGS.items() if n not in defined],
        changes=tuple(reversed(changes)),
        form=form or {},
        problems=dict(problems),
        failed=failed,
        notice=notice,
    )


Change = Callable[[AdminContext, Viewer, str, dict[str, str]], flags.Flag]


async def _change(
    ctx: AdminContext, request: AnyRequest, name: str, change: Change
) -> Template | Redirect:
    """Run one change of a flag; the page again with the field's problem inline if refused."""
    viewer = await ctx.require(request, operator_ok=False)
    form = await form_fields(request)
    try:
        flag = await anyio.to_thread.run_sync(lambda: change(ctx, viewer, name, form))
    except CommandRejected as rejected:
        return await _flags_page(
            ctx,
            viewer,
            form=form,
            problems=rejected.problems or (("name", rejected.message),),
            failed=name,
            status_code=422,
        )
    return see_other(ctx, f"/flags?done={flag.name}")


def _state(flag: flags.Flag) -> str:
    return f"{flag.name} is {'on' if flag.enabled else 'off'}, rollout {flag.percent}%."


def _define(ctx: AdminContext, viewer: Viewer, _: str, form: dict[str, str]) -> flags.Flag:
    return flag_cases.define_flag(
        ctx.services.store,
        tenant=viewer.scope,
        name=form.get("name", ""),
        description=form.get("description", ""),
        by=viewer.actor,
        at=ctx.clock(),
    )


def _switch(ctx: AdminContext, viewer: Viewer, name: str, form: dict[str, str]) -> flags.Flag:
    return flag_cases.set_flag(
        ctx.services.store,
        tenant=viewer.scope,
        name=name,
        enabled=form.get("enabled") == "on",
        by=viewer.actor,
        at=ctx.clock(),
    )


def _rollout(ctx: AdminContext, viewer: Viewer, name: str, form: dict[str, str]) -> flags.Flag:
    text = form.get("percent", "")
    # Read here, ruled on by the decider (0..100, named ``percent`` when out of range).
    if not re.fullmatch(r"-?\d{1,9}", text):
        raise CommandRejected("invalid rollout", (("percent", "a whole number, 0..100"),))
    return flag_cases.set_rollout(
        ctx.services.store,
        tenant=viewer.scope,
        name=name,
        percent=int(text),
        by=viewer.actor,
        at=ctx.clock(),
    )


@post("/flags", name="admin-flags-define")
async def define(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    return await _change(ctx, request, "", _define)


@post("/flags/{name:str}/switch", name="admin-flag-switch")
async def switch(ctx: Ctx, request: AnyRequest, name: FromPath[str]) -> Template | Redirect:
    return await _change(ctx, request, name, _switch)


@post("/flags/{name:str}/rollout", name="admin-flag-rollout")
async def rollout(ctx: Ctx, request: AnyRequest, name: FromPath[str]) -> Template | Redirect:
    return await _change(ctx, request, name, _rollout)


HANDLERS = [flags_page, define, switch, rollout]
