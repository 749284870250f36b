"""``/v1/activity``: the tenant's feed of decisions worth showing, newest first
(``helios.apps.application.activity``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from helios.apps.application.access import Caller
from helios.apps.application.activity import activity_page
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    Context,
    cached,
    decode_cursor,
    encode_cursor,
    errors,
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
        after = decode_cursor(cursor, int)
        found = await ctx.run(
            lambda: activity_page(
                ctx.read_models(),
                tenant=caller.tenant_id,
                kind=kind,
                before=after[0] if after else None,
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
                for r in found.items
            ],
            next_cursor=encode_cursor(found.items[-1].position) if found.more else None,
        )
        return cached(request, page)
