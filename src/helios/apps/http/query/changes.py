"""``/v1/changes``: the tenant's changes (deploys, config changes), newest first, and the
changes shown on an alert: those of its service made shortly before its episode started
(``helios.apps.application.changes``)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from helios.apps.application import changes
from helios.apps.application.access import Caller
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    Context,
    QueryContext,
    cached,
    decode_cursor,
    encode_cursor,
    errors,
    query_time,
    rfc3339_required,
)
from helios.domain.access import Role
from helios.domain.values import Millis

MAX_PAGE = 500


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
        matching = changes.ChangeFilter(
            service=service,
            source=source,
            text=q,
            since=query_time("since", since),
            until=query_time("until", until),
        )
        after = decode_cursor(cursor, int, str)
        found = await ctx.run(
            lambda: changes.change_page(
                ctx.read_models(),
                tenant=caller.tenant_id,
                matching=matching,
                after=(after[0], after[1]) if after else None,
                limit=limit,
            )
        )
        last = found.items[-1] if found.items else None
        page = doc.ChangePage(
            items=[change_document(r) for r in found.items],
            next_cursor=encode_cursor(last.occurred_at, last.change_id)
            if found.more and last
            else None,
        )
        return cached(request, page)


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
        lambda: changes.recent_changes(
            ctx.read_models(),
            tenant=tenant,
            service=service,
            started_at=started_at,
            window_ms=window_ms,
        )
    )
    return [
        doc.RecentChange(**_fields(row), seconds_before=(started_at - row.occurred_at) // 1000)
        for row in rows
    ]


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
