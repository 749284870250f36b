"""``/v1/changes``: the tenant's changes (deploys, config changes), newest first, and the
changes shown on an alert: those of its service made shortly before its episode started."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromQuery, QueryParameter

from helios.apps.application.access import Caller
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    CACHE_HEADERS,
    QueryContext,
    cached,
    decode_cursor,
    encode_cursor,
    errors,
    query_time,
    rfc3339_required,
)
from helios.apps.views import changes
from helios.domain.access import Role
from helios.domain.values import Millis

MAX_PAGE = 500
RECENT_LIMIT = 20


def change_document(row: changes.ChangeRow) -> doc.ChangeDocument:
    return doc.ChangeDocument(**_fields(row))


def _fields(row: changes.ChangeRow) -> dict[str, Any]:
    return {
        "id": row.change_id,
        "summary": row.summary,
        "service": row.service,
        "origin": row.origin,
        "source": row.source,
        "integration": row.integration,
        "occurred_at": rfc3339_required(row.occurred_at),
        "received_at": rfc3339_required(row.received_at),
        "links": [
            doc.LinkDocument(href=k["href"], text=k["text"]) for k in orjson.loads(row.links)
        ],
        "details": orjson.loads(row.details),
    }


async def recent_changes(
    ctx: QueryContext, tenant: str, service: str, started_at: Millis | None
) -> list[doc.RecentChange]:
    """The changes of ``service`` made within the configured window before ``started_at``,
    newest first (none for an alert without a service or an episode).

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    if not service or not started_at:
        return []
    window_ms = ctx.services.settings.recent_changes_window_s * 1000
    rows = await ctx.run(
        lambda: changes.recent(
            ctx.read_models(),
            tenant=tenant,
            service=service,
            since=started_at - window_ms,
            until=started_at,
            limit=RECENT_LIMIT,
        )
    )
    return [
        doc.RecentChange(**_fields(row), seconds_before=(started_at - row.occurred_at) // 1000)
        for row in rows
    ]


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:
    """The change endpoints."""

    @get(
        "/changes",
        summary="List changes",
        description=(
            "The caller's tenant's changes (PagerDuty change events: deploys, config "
            "changes), most recent first (ties by id), in pages; filters combine with AND. "
            "``since``/``until`` bound the time the change was made. Changes never create "
            "alerts; an alert's detail shows those of its service under ``recent_changes``."
        ),
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
        tags=["changes"],
    )
    async def list_changes(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        *,
        service: FromQuery[str | None] = None,
        source: Annotated[str | None, QueryParameter(description="e.g. pagerduty")] = None,
        q: Annotated[str | None, QueryParameter(description="text in the summary")] = None,
        since: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        until: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.ChangePage]:
        where = changes.ChangeFilter(
            tenant=caller.tenant_id,
            service=service or None,
            source=source or None,
            text=q or None,
            since=query_time("since", since),
            until=query_time("until", until),
            after=_after(cursor),
        )
        rows, more = await ctx.run(lambda: changes.page(ctx.read_models(), where, limit=limit))
        next_cursor = encode_cursor(rows[-1].occurred_at, rows[-1].change_id) if more else None
        page = doc.ChangePage(items=[change_document(r) for r in rows], next_cursor=next_cursor)
        return cached(request, page)

    return [list_changes]


def _after(cursor: str | None) -> tuple[int, str] | None:
    """The (occurred_at, change_id) position a page cursor stands for.

    Raises:
        InvalidQuery: the cursor was not produced by this list.
    """
    after = decode_cursor(cursor, int, str)
    return (after[0], after[1]) if after is not None else None
