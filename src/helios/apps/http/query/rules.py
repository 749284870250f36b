"""``/v1/rules``: the tenant's ruleset in force (read-only; rules change through the admin)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler

from helios.apps.application.access import Caller
from helios.apps.application.repository import RULESET, Repository
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import CACHE_HEADERS, QueryContext, cached, errors, rfc3339
from helios.domain.access import Role


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:
    """The rules endpoint."""

    def current(tenant: str) -> doc.Rules:
        state, _ = Repository(ctx.services.store).load(RULESET, tenant)
        return doc.Rules(
            version=state.current.version,
            published_at=rfc3339(state.published_at),
            published_by=state.published_by,
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
