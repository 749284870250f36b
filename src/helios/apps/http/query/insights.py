"""``/v1/insights``: analytics for people — overview, trends, suggestions and the weekly
reports, as the analytics worker last published them (``helios.apps.application.analytics``).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
import orjson
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from helios.apps.application.access import Caller
from helios.apps.application.analytics import reading
from helios.apps.http.errors import InvalidQuery, NotFound
from helios.apps.http.query.context import BEARER, CACHE_HEADERS, Context, cached, errors, rfc3339
from helios.domain.access import Role
from helios.domain.normalize import FieldError

_REPORT_ID = re.compile(r"[0-9A-Za-z._-]{1,80}")


class InsightDocument(msgspec.Struct):
    """A published analytics document; ``data`` is null until the analytics worker has
    published for the tenant (it runs apart from the core and may lag behind it)."""

    generated_at: str | None
    loaded_through: int
    """Log position of the latest decision counted."""
    data: dict[str, Any] | None


class ReportSummary(msgspec.Struct):
    id: str
    period_start: str | None
    period_end: str | None
    created_at: str | None
    summary: dict[str, Any]
    html_url: str


class ReportList(msgspec.Struct):
    items: list[ReportSummary]


def _document(found: reading.Published) -> InsightDocument:
    return InsightDocument(
        generated_at=rfc3339(found.generated_at),
        loaded_through=found.loaded_through,
        data=found.body,
    )


class InsightController(Controller):
    """The analytics endpoints."""

    path = "/insights"
    tags = ["insights"]
    security = [BEARER]

    @get(
        "/overview",
        summary="Counts, noise and response times of the last 30 days",
        description="Signals, alerts, duplicates dropped (noise ratio), notifications, pages "
        "out of hours, flapping episodes, silenced signals, MTTA and MTTR (p50, p90): in total "
        "and per service, source, priority, day and hour of day (UTC).",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def overview(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller], ctx: Context
    ) -> Response[InsightDocument]:
        return await self._published(request, caller, ctx, "overview")

    @get(
        "/trends",
        summary="Week over week and by hour of day, with a stated test",
        description="Each comparison carries its counts, the p-value of a conditional Poisson "
        "rate test and a direction (up, down, steady); ``data.test`` states the test.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def trends(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller], ctx: Context
    ) -> Response[InsightDocument]:
        return await self._published(request, caller, ctx, "trends")

    @get(
        "/suggestions",
        summary="Ranked insights with the rule change each implies",
        description="Noisy alerts never acknowledged, flapping alerts, alerts that resolve by "
        "themselves, services whose MTTR rises, alerts that fire together; each explained, "
        "with the proposed ruleset change and its what-if over the last 30 days when computed.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def suggestions(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller], ctx: Context
    ) -> Response[InsightDocument]:
        return await self._published(request, caller, ctx, "suggestions")

    @get(
        "/reports",
        summary="The tenant's weekly reports, latest first",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def reports(
        self, request: Request[Any, Any, Any], caller: NamedDependency[Caller], ctx: Context
    ) -> Response[ReportList]:
        found = await ctx.run(
            lambda: reading.report_list(ctx.read_models(), tenant=caller.tenant_id)
        )
        listed = ReportList(
            items=[
                ReportSummary(
                    id=r.report_id,
                    period_start=rfc3339(r.period_start),
                    period_end=rfc3339(r.period_end),
                    created_at=rfc3339(r.created_at),
                    summary=orjson.loads(r.summary),
                    html_url=f"/v1/insights/reports/{r.report_id}",
                )
                for r in found
            ]
        )
        return cached(request, listed)

    @get(
        "/reports/{report_id:str}",
        summary="One weekly report, as a self-contained HTML page",
        opt={"role": Role.VIEWER},
        responses=errors(404),
        media_type="text/html",
    )
    async def report(
        self, caller: NamedDependency[Caller], ctx: Context, report_id: FromPath[str]
    ) -> Response[str]:
        if not _REPORT_ID.fullmatch(report_id):
            raise InvalidQuery(
                "bad report id",
                errors=(FieldError(field="report_id", message="must be a report id"),),
            )
        try:
            found = await ctx.run(
                lambda: reading.report(
                    ctx.read_models(), tenant=caller.tenant_id, report_id=report_id
                )
            )
        except reading.NoSuchReport:
            raise NotFound("no such report") from None
        return Response(
            content=found.html,
            media_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"},
        )

    @staticmethod
    async def _published(
        request: Request[Any, Any, Any], caller: Caller, ctx: Context, name: str
    ) -> Response[InsightDocument]:
        found = await ctx.run(
            lambda: reading.published(ctx.read_models(), tenant=caller.tenant_id, name=name)
        )
        return cached(request, _document(found))
