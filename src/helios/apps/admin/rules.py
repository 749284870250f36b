"""Rules pages: the ruleset in force, a draft with its problems inline, its preview (a what-if
job over recorded history), publishing what was previewed, the versions and their diffs."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import attrs
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from helios.apps.admin.charts import priority_chart
from helios.apps.admin.context import AdminContext, Ctx, Viewer
from helios.apps.admin.pages import AnyRequest, form_fields, render, see_other
from helios.apps.application import rules_file, rules_review
from helios.apps.application.analytics import reading
from helios.apps.application.replay.whatif import WhatIfReport
from helios.apps.application.rules import rules_in_force
from helios.domain.admin_jobs import Job, JobKind
from helios.domain.errors import CommandRejected
from helios.domain.values import Priority
from helios.ports.event_store import ConcurrencyConflict

PRIORITIES = tuple(p.value for p in Priority)
SHOWN_CHANGES = 200


@get("/rules", name="admin-rules")
async def rules_page(
    ctx: Ctx,
    request: AnyRequest,
    from_version: FromQuery[int | None] = None,
    proposal: FromQuery[str | None] = None,
) -> Template:
    viewer = await ctx.require(request, operator_ok=False)
    if proposal is not None:
        return await _proposal_page(ctx, viewer, proposal)
    return await _rules_page(ctx, viewer, draft=None, from_version=from_version)


async def _proposal_page(ctx: AdminContext, viewer: Viewer, suggestion_id: str) -> Template:
    """The rules page with a draft that adds the rule change an Insights suggestion of the
    viewer's tenant proposes at the end of the rules in force (another tenant's suggestion,
    like none, is not found)."""
    tenant = viewer.scope
    db = await ctx.read_models()
    try:
        found = await anyio.to_thread.run_sync(
            lambda: reading.proposal(db, tenant=tenant, suggestion_id=suggestion_id)
        )
    except reading.NoSuchProposal:
        raise NotFoundException("no such suggestion with a rule change") from None
    current = await anyio.to_thread.run_sync(
        lambda: rules_in_force(ctx.services.store, tenant=tenant)
    )
    # A draft is a next version (the built-in defaults are version 0, which no draft may be).
    base = attrs.evolve(current.ruleset, version=current.ruleset.version + 1)
    title = " ".join(found.title.split())
    draft = f"{rules_file.dumps(base)}\n# Suggested by Insights: {title}\n{found.toml}"
    notice = (
        f"The draft adds the change Insights suggests for “{found.title}” at its end. "
        "Preview it to see what it would have changed, then publish it."
    )
    return await _rules_page(ctx, viewer, draft=draft, notice=notice)


async def _rules_page(
    ctx: AdminContext,
    viewer: Viewer,
    *,
    draft: str | None,
    from_version: int | None = None,
    problems: tuple[rules_file.RulesProblem, ...] = (),
    days: str = str(rules_review.DEFAULT_DAYS),
    status_code: int = 200,
    notice: str = "",
) -> Template:
    tenant = viewer.scope
    store = ctx.services.store
    current = await anyio.to_thread.run_sync(lambda: rules_in_force(store, tenant=tenant))
    if draft is None and from_version is not None:
        versions = await anyio.to_thread.run_sync(
            lambda: rules_review.history(store, tenant=tenant)
        )
        earlier = next((v for v in versions if v.version == from_version), None)
        if earlier is None:
            raise NotFoundException(f"no version {from_version} of the rules")
        draft = earlier.toml
        notice = (
            f"The draft holds version {from_version}. Preview it, then publish it to roll "
            "back: it becomes the next version."
        )
    toml = rules_file.dumps(current.ruleset)
    return render(
        ctx,
        "rules.html",
        viewer=viewer,
        section="rules",
        status_code=status_code,
        current=current,
        toml=toml,
        draft=toml if draft is None else draft,
        problems=problems,
        days=days,
        notice=notice,
        priorities=PRIORITIES,
    )


@post("/rules/preview", name="admin-rules-preview")
async def preview(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    viewer = await ctx.require(request, operator_ok=False)
    form = await form_fields(request)
    draft, days_text = form.get("draft", ""), form.get("days", "") or "7"
    problems: tuple[rules_file.RulesProblem, ...] = ()
    days = int(days_text) if days_text.isdigit() else 0
    if not 1 <= days <= rules_review.MAX_DAYS:
        problems = (
            rules_file.RulesProblem(field="days", message=f"must be 1..{rules_review.MAX_DAYS}"),
        )
    try:
        rules_review.validate_draft(draft)
    except rules_file.RulesFileError as error:
        problems = (*problems, *error.problems)
    if problems:
        return await _rules_page(
            ctx, viewer, draft=draft, problems=problems, days=days_text, status_code=422
        )
    job_id = await anyio.to_thread.run_sync(
        lambda: rules_review.start_preview(
            ctx.runner,
            ctx.services.store,
            tenant=viewer.scope,
            draft=draft,
            by=viewer.actor,
            days=days,
            clock=ctx.clock,
        )
    )
    return see_other(ctx, f"/rules/previews/{job_id}")


@get("/rules/previews/{job_id:str}", name="admin-rules-preview-page")
async def preview_page(ctx: Ctx, request: AnyRequest, job_id: FromPath[str]) -> Template:
    viewer = await ctx.require(request, operator_ok=False)
    job = await _preview_job(ctx, viewer, job_id)
    return _preview_view(ctx, viewer, job)


def _preview_view(
    ctx: AdminContext, viewer: Viewer, job: Job, *, error: str = "", status_code: int = 200
) -> Template:
    report = ctx.runner.result(job.job_id)
    summary = dict(job.summary)
    before = {p: int(summary.get(f"before.{p}", "0")) for p in PRIORITIES}
    after = {p: int(summary.get(f"after.{p}", "0")) for p in PRIORITIES}
    return render(
        ctx,
        "preview.html",
        viewer=viewer,
        section="rules",
        status_code=status_code,
        job=job,
        params=dict(job.params),
        summary=summary,
        progress=ctx.runner.progress(job.job_id),
        report=report if isinstance(report, WhatIfReport) else None,
        shown_changes=SHOWN_CHANGES,
        rows=[(p, before[p], after[p], after[p] - before[p]) for p in PRIORITIES],
        chart=priority_chart(before, after),
        error=error,
    )


@get("/rules/previews/{job_id:str}/progress", name="admin-rules-preview-progress")
async def preview_progress(ctx: Ctx, request: AnyRequest, job_id: FromPath[str]) -> dict[str, Any]:
    viewer = await ctx.require(request, operator_ok=False)
    job = await _preview_job(ctx, viewer, job_id)
    progress = ctx.runner.progress(job_id)
    percent = progress.percent if progress and progress.total else None
    if not job.running:
        text = f"Preview {job.outcome.value if job.outcome else 'finished'}."
    elif progress is None:
        # Started by another admin process (or by one stopped since): only the log is shared.
        text = "Running in another admin process; this page updates when it finishes."
    elif not progress.total:
        text = "Starting: reading the log…"
    else:
        text = f"Replaying: {progress.done:,} of {progress.total:,} log entries ({percent}%)."
    return {"finished": not job.running, "percent": percent, "text": text}


@post("/rules/publish", name="admin-rules-publish")
async def publish(ctx: Ctx, request: AnyRequest) -> Template | Redirect:
    viewer = await ctx.require(request, operator_ok=False)
    form = await form_fields(request)
    job_id = form.get("job_id", "")
    job = await _preview_job(ctx, viewer, job_id)
    try:
        version = await anyio.to_thread.run_sync(
            lambda: rules_review.publish_previewed(
                ctx.services.store,
                tenant=viewer.scope,
                job_id=job_id,
                by=viewer.actor,
                clock=ctx.clock,
            )
        )
    except CommandRejected as rejected:
        detail = "; ".join(message for _, message in rejected.problems) or rejected.message
        return _preview_view(ctx, viewer, job, error=f"Not published: {detail}.", status_code=409)
    except ConcurrencyConflict:
        return _preview_view(
            ctx,
            viewer,
            job,
            error="Not published: the rules kept changing while publishing. Preview again.",
            status_code=409,
        )
    return see_other(ctx, f"/rules/history?published={version}")


@get("/rules/history", name="admin-rules-history")
async def history_page(
    ctx: Ctx,
    request: AnyRequest,
    old: FromQuery[int | None] = None,
    new: FromQuery[int | None] = None,
    published: FromQuery[int | None] = None,
) -> Template:
    viewer = await ctx.require(request, operator_ok=False)
    tenant = viewer.scope
    versions = await anyio.to_thread.run_sync(
        lambda: rules_review.history(ctx.services.store, tenant=tenant)
    )
    latest = versions[-1].version
    old = latest - 1 if old is None else old
    new = latest if new is None else new
    lines: tuple[str, ...] = ()
    error = ""
    if old >= 0:
        try:
            lines = rules_review.diff(versions, old=old, new=new)
        except CommandRejected as rejected:
            error = "; ".join(f"{field}: {message}" for field, message in rejected.problems)
    return render(
        ctx,
        "history.html",
        viewer=viewer,
        section="rules",
        versions=tuple(reversed(versions)),
        old=old,
        new=new,
        lines=lines,
        error=error,
        notice=f"Published version {published}." if published else "",
    )


async def _preview_job(ctx: AdminContext, viewer: Viewer, job_id: str) -> Job:
    """A rules preview of the viewer's tenant (another tenant's is not found, like none)."""
    job = await anyio.to_thread.run_sync(ctx.runner.job, viewer.scope, job_id)
    if job is None or job.kind is not JobKind.RULES_PREVIEW:
        raise NotFoundException("no such preview")
    return job


HANDLERS = [rules_page, preview, preview_page, preview_progress, publish, history_page]
