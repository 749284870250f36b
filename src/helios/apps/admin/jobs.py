"""Jobs pages: dead letters (list, show, redrive), the recorded admin jobs (rule previews
among them), and for operators the projections' lag and the scheduler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from helios.apps.admin.context import AdminContext, Ctx, Viewer
from helios.apps.admin.pages import AnyRequest, form_list, render, see_other
from helios.apps.application import dead_letters
from helios.apps.application.projections import projection_status
from helios.domain.errors import CommandRejected
from helios.ports.event_store import StoreUnavailable
from helios.ports.queue import QueueUnavailable

Action = Callable[..., Awaitable[int]]
"""A dead-letter action: (queue, runner, *, tenant, message_ids, by) -> how many."""


@get("/jobs", name="admin-jobs")
async def jobs_page(
    ctx: Ctx,
    request: AnyRequest,
    redriven: FromQuery[int | None] = None,
    purged: FromQuery[int | None] = None,
) -> Template:
    viewer = await ctx.require(request)
    letters: tuple[dead_letters.DeadLetter, ...] = ()
    problems: list[str] = []
    try:
        letters = await dead_letters.dead_letters(ctx.services.queue, tenant=viewer.tenant)
    except QueueUnavailable as error:
        problems.append(f"The queue cannot be reached: {error}")
    jobs = await anyio.to_thread.run_sync(ctx.runner.jobs, viewer.scope)
    platform = await _platform(ctx, problems) if viewer.operator else {}
    return render(
        ctx,
        "jobs.html",
        viewer=viewer,
        section="jobs",
        letters=letters,
        jobs=jobs,
        problems=problems,
        notice=_notice(redriven, purged),
        **platform,
    )


def _notice(redriven: int | None, purged: int | None) -> str:
    if redriven is not None:
        return f"Redriven: {redriven} dead letter(s)."
    if purged is not None:
        return f"Purged: {purged} dead letter(s)."
    return ""


async def _platform(ctx: AdminContext, problems: list[str]) -> dict[str, Any]:
    """What operators see besides: the projections' positions and the scheduler's settings."""
    found: dict[str, Any] = {"tick_interval_s": ctx.services.settings.tick_interval_s}
    try:
        db = await ctx.read_models()
        found["projections"] = await anyio.to_thread.run_sync(
            projection_status, ctx.services.store, db
        )
    except StoreUnavailable as error:
        problems.append(f"The read models cannot be reached: {error}")
    try:
        found["queue_depth"] = await ctx.services.queue.depth()
    except QueueUnavailable as error:
        problems.append(f"The queue cannot be reached: {error}")
    return found


@get("/jobs/dead-letters/{message_id:str}", name="admin-dead-letter")
async def dead_letter_page(ctx: Ctx, request: AnyRequest, message_id: FromPath[str]) -> Template:
    viewer = await ctx.require(request)
    letters = await dead_letters.dead_letters(ctx.services.queue, tenant=viewer.tenant)
    letter = next((d for d in letters if d.message_id == message_id), None)
    if letter is None:
        raise NotFoundException("no such dead letter")
    return render(ctx, "dead_letter.html", viewer=viewer, section="jobs", letter=letter)


@post("/jobs/dead-letters/redrive", name="admin-dead-letters-redrive")
async def redrive(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    return await _act(ctx, request, dead_letters.redrive, "redriven")


@post("/jobs/dead-letters/purge", name="admin-dead-letters-purge")
async def purge(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    return await _act(ctx, request, dead_letters.purge, "purged")


async def _act(
    ctx: AdminContext, request: AnyRequest, action: Action, done: str
) -> Template | Redirect:
    viewer = await ctx.require(request)
    ids = await form_list(request, "message_id")
    if not ids:
        return await _jobs_error(ctx, viewer, "Choose the dead letters first.")
    try:
        count = await action(
            ctx.services.queue, ctx.runner, tenant=viewer.tenant, message_ids=ids, by=viewer.actor
        )
    except (QueueUnavailable, CommandRejected) as error:
        return await _jobs_error(ctx, viewer, f"Nothing done: {error}")
    return see_other(ctx, f"/jobs?{done}={count}")


async def _jobs_error(ctx: AdminContext, viewer: Viewer, message: str) -> Template:
    jobs = await anyio.to_thread.run_sync(ctx.runner.jobs, viewer.scope)
    letters = await dead_letters.dead_letters(ctx.services.queue, tenant=viewer.tenant)
    return render(
        ctx,
        "jobs.html",
        viewer=viewer,
        section="jobs",
        letters=letters,
        jobs=jobs,
        problems=[message],
        status_code=422,
    )


HANDLERS = [jobs_page, dead_letter_page, redrive, purge]
