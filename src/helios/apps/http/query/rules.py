"""``/v1/rules``: the tenant's ruleset in force (read-only; rules change through the admin)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler

from helios.apps.application.access import Caller
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import CACHE_HEADERS, QueryContext, cached, errors, rfc3339
from helios.domain import engine, ruleset_stream
from helios.domain.access import Role


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:
    """The rules endpoint."""

    def current(tenant: str) -> doc.Rules:
        state = ruleset_stream.initial_state(tenant)
        published_at, published_by = None, ""
        for item in ctx.services.store.read_stream(engine.ruleset_stream(tenant)):
            state = ruleset_stream.evolve(state, item.event)
            published_at, published_by = item.event.at, item.event.by
        return doc.Rules(
            version=state.current.version,
            published_at=rfc3339(published_at),
            published_by=published_by,
            ruleset=msgspec.to_builtins(state.current),
        )

    @get(
        "/rules",
        summary="The ruleset in force",
        description="Scoring, grouping, notification and escalation rules, with their version.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
        tags=["rules"],
    )
    async def rules(
        request: Request[Any, Any, Any], caller: NamedDependency[Caller]
    ) -> Response[doc.Rules]:
        return cached(request, await ctx.run(lambda: current(caller.tenant_id)))

    return [rules]
