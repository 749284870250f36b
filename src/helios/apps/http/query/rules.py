"""``/v1/rules``: the tenant's ruleset in force (read-only; rules change through the admin)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from helios.apps.application.access import Caller
from helios.apps.application.rules import rules_in_force
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    Context,
    cached,
    errors,
    rfc3339,
)
from helios.domain.access import Role


class RuleController(Controller):
    """The rules endpoint."""

    path = "/rules"
    tags = ["rules"]
    security = [BEARER]

    @get(
        summary="The ruleset in force",
        description="Scoring, grouping, notification and escalation rules, with their version.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def rules(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
    ) -> Response[doc.Rules]:
        store = ctx.services.store
        found = await ctx.run(lambda: rules_in_force(store, tenant=caller.tenant_id))
        document = doc.Rules(
            version=found.ruleset.version,
            published_at=rfc3339(found.published_at),
            published_by=found.published_by,
            ruleset=msgspec.to_builtins(found.ruleset),
        )
        return cached(request, document)
