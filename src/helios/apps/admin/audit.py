"""The audit log page: every admin action with who, what, when, before and after, filtered
by actor, kind and dates."""

from __future__ import annotations

import datetime

import anyio.to_thread
from litestar import get
from litestar.params import FromQuery
from litestar.response import Template

from helios.apps.admin.context import Ctx
from helios.apps.admin.pages import AnyRequest, render
from helios.apps.application.audit import AuditFilter, audit_log, kinds
from helios.domain.values import Millis

DAY_MS = 24 * 3600 * 1000


@get("/audit", name="admin-audit")
async def audit_page(
    ctx: Ctx,
    request: AnyRequest,
    *,
    actor: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    since: FromQuery[str] = "",
    until: FromQuery[str] = "",
) -> Template:
    viewer = await ctx.require(request)
    problems = []
    start, end = _day(since), _day(until)
    if since and start is None:
        problems.append(("since", "a date like 2026-01-31"))
    if until and end is None:
        problems.append(("until", "a date like 2026-01-31"))
    where = AuditFilter(
        actor=actor or None,
        kind=kind or None,
        since=start,
        until=None if end is None else end + DAY_MS - 1,
    )
    store, scope = ctx.services.store, viewer.scope
    everything = await anyio.to_thread.run_sync(lambda: audit_log(store, scope=scope))
    entries = [e for e in everything if where.keeps(e)]
    return render(
        ctx,
        "audit.html",
        viewer=viewer,
        section="audit",
        status_code=422 if problems else 200,
        entries=entries,
        kinds=kinds(everything),
        problems=problems,
        filters={"actor": actor, "kind": kind, "since": since, "until": until},
    )


def _day(text: str) -> Millis | None:
    """Midnight UTC of a ``YYYY-MM-DD`` date, in epoch ms (None: empty or not a date)."""
    try:
        day = datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
    return int(start.timestamp() * 1000)


HANDLERS = [audit_page]
