"""``/v1/changes``: the tenant's changes (deploys, config changes), newest first, and the
changes shown on an alert: those of its service made shortly before its episode started."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from helios.apps.application.access import Caller
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    Context,
    QueryContext,
    after_cursor,
    cached,
    encode_cursor,
    errors,
    like_pattern,
    page_rows,
    query_time,
    rfc3339_required,
    time_range,
)
from helios.domain.access import Role
from helios.domain.values import Millis

MAX_PAGE = 500
RECENT_LIMIT = 20
CHANGE_COLUMNS = (
    "change_id, summary, service, origin, source, integration, occurred_at, received_at, "
    "links, details"
)


def change_document(row: tuple[Any, ...]) -> doc.ChangeDocument:
    return doc.ChangeDocument(**_fields(row))


def _fields(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "id": row[0],
        "summary": row[1],
        "service": row[2],
        "origin": row[3],
        "source": row[4],
        "integration": row[5],
        "occurred_at": rfc3339_required(row[6]),
        "received_at": rfc3339_required(row[7]),
        "links": [doc.LinkDocument(href=k["href"], text=k["text"]) for k in orjson.loads(row[8])],
        "details": orjson.loads(row[9]),
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
    rows = await ctx.rows(
        f"SELECT {CHANGE_COLUMNS} FROM changes WHERE tenant = ? AND service = ? "
        "AND occurred_at >= ? AND occurred_at <= ? "
        "ORDER BY occurred_at DESC, change_id DESC LIMIT ?",
        (tenant, service, started_at - window_ms, started_at, RECENT_LIMIT),
    )
    return [
        doc.RecentChange(**_fields(row), seconds_before=(started_at - row[6]) // 1000)
        for row in rows
    ]


class ChangeController(Controller):
    """The change endpoints."""

    path = "/changes"
    tags = ["changes"]
    security = [BEARER]

    @get(
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
    )
    async def list_changes(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        *,
        service: FromQuery[str | None] = None,
        source: Annotated[str | None, QueryParameter(description="e.g. pagerduty")] = None,
        q: Annotated[str | None, QueryParameter(description="text in the summary")] = None,
        since: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        until: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.ChangePage]:
        where = ["tenant = ?"]
        params: list[Any] = [caller.tenant_id]
        if service:
            where.append("service = ?")
            params.append(service)
        if source:
            where.append("source = ?")
            params.append(source)
        if q:
            where.append("LOWER(summary) LIKE ? ESCAPE '\\'")
            params.append(like_pattern(q.lower()))
        time_range(
            where, params, "occurred_at", query_time("since", since), query_time("until", until)
        )
        after_cursor(where, params, cursor, "occurred_at", "change_id")
        rows, more = await page_rows(
            ctx,
            f"SELECT {CHANGE_COLUMNS} FROM changes",
            where=where,
            params=params,
            order="occurred_at DESC, change_id DESC",
            limit=limit,
        )
        next_cursor = encode_cursor(rows[-1][6], rows[-1][0]) if more else None
        page = doc.ChangePage(items=[change_document(r) for r in rows], next_cursor=next_cursor)
        return cached(request, page)
