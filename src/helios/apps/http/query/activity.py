"""``/v1/activity``: the tenant's feed of decisions worth showing, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from helios.apps.application.access import Caller
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    Context,
    cached,
    decode_cursor,
    encode_cursor,
    errors,
    page_rows,
    rfc3339_required,
)
from helios.domain.access import Role


class ActivityController(Controller):
    """The activity endpoint."""

    path = "/activity"
    tags = ["activity"]
    security = [BEARER]

    @get(
        summary="The activity feed",
        description="Alert and incident decisions worth a line, newest first, in pages.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def activity(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        *,
        kind: Annotated[str | None, QueryParameter(description="e.g. triggered, resolved")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.ActivityPage]:
        where, params = ["tenant = ?"], [caller.tenant_id]
        if kind:
            where.append("kind = ?")
            params.append(kind)
        after = decode_cursor(cursor, int)
        if after is not None:
            where.append("position < ?")
            params.append(after[0])
        rows, more = await page_rows(
            ctx,
            "SELECT position, at, kind, subject, text FROM activity",
            where=where,
            params=params,
            order="position DESC",
            limit=limit,
        )
        page = doc.ActivityPage(
            items=[
                doc.ActivityEntry(
                    id=r[0], at=rfc3339_required(r[1]), kind=r[2], subject=r[3], text=r[4]
                )
                for r in rows
            ],
            next_cursor=encode_cursor(rows[-1][0]) if more else None,
        )
        return cached(request, page)
