"""``/v1/activity``: the tenant's feed of decisions worth showing, newest first."""

from __future__ import annotations

from typing import Annotated, Any

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
    rfc3339_required,
)
from helios.apps.views import activity as feed
from helios.domain.access import Role


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:
    """The activity endpoint."""

    @get(
        "/activity",
        summary="The activity feed",
        description="Alert and incident decisions worth a line, newest first, in pages.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
        tags=["activity"],
    )
    async def activity(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        *,
        kind: Annotated[str | None, QueryParameter(description="e.g. triggered, resolved")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.ActivityPage]:
        after = decode_cursor(cursor, int)
        rows, more = await ctx.run(
            lambda: feed.page(
                ctx.read_models(),
                tenant=caller.tenant_id,
                kind=kind or None,
                before=after[0] if after is not None else None,
                limit=limit,
            )
        )
        page = doc.ActivityPage(
            items=[
                doc.ActivityEntry(
                    id=r.position,
                    at=rfc3339_required(r.at),
                    kind=r.kind,
                    subject=r.subject,
                    text=r.text,
                )
                for r in rows
            ],
            next_cursor=encode_cursor(rows[-1].position) if more else None,
        )
        return cached(request, page)

    return [activity]
