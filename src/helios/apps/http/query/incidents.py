"""``/v1/incidents``: the list, one incident with its members and timeline, and notes (the use
case ``helios.apps.application.incidents.add_note``: the incident decider's rule, appended to
the incident group's stream)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from helios.apps.application import incidents
from helios.apps.application.access import Caller
from helios.apps.http.errors import InvalidQuery, NotFound
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    Context,
    after_cursor,
    cached,
    encode_cursor,
    errors,
    page_rows,
    rfc3339,
    rfc3339_required,
)
from helios.domain.access import Role
from helios.domain.normalize import FieldError

_COLUMNS = (
    "incident_id, group_key, number, status, priority, alerts, opened_at, resolved_at, "
    "last_change_at"
)


class IncidentController(Controller):
    """The incident endpoints."""

    path = "/incidents"
    tags = ["incidents"]
    security = [BEARER]

    @get(
        summary="List incidents",
        description="The tenant's incidents, most recently opened first, in pages.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def list_incidents(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        *,
        status: Annotated[str | None, QueryParameter(description="open or resolved")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.IncidentPage]:
        where, params = ["tenant = ?"], [caller.tenant_id]
        if status:
            if status not in ("open", "resolved"):
                raise InvalidQuery(
                    "invalid query parameter 'status'",
                    errors=(FieldError(field="status", message="must be open or resolved"),),
                )
            where.append("status = ?")
            params.append(status)
        after_cursor(where, params, cursor, "opened_at", "incident_id")
        rows, more = await page_rows(
            ctx,
            f"SELECT {_COLUMNS} FROM incidents",
            where=where,
            params=params,
            order="opened_at DESC, incident_id DESC",
            limit=limit,
        )
        page = doc.IncidentPage(
            items=[_summary(r) for r in rows],
            next_cursor=encode_cursor(rows[-1][6], rows[-1][0]) if more else None,
        )
        return cached(request, page)

    @get(
        "/{incident_id:str}",
        summary="One incident with its alerts and timeline",
        opt={"role": Role.VIEWER},
        responses=errors(304, 404),
        response_headers=CACHE_HEADERS,
    )
    async def get_incident(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        incident_id: FromPath[str],
    ) -> Response[doc.IncidentDetail]:
        rows = await ctx.rows(
            f"SELECT {_COLUMNS} FROM incidents WHERE incident_id = ? AND tenant = ?",
            (incident_id, caller.tenant_id),
        )
        if not rows:
            raise NotFound("no such incident")
        members = await ctx.rows(
            "SELECT a.stream_id, m.dedup_key, m.status, m.priority FROM incident_alerts m "
            "LEFT JOIN alerts a ON a.tenant = ? AND a.dedup_key = m.dedup_key "
            "WHERE m.incident_id = ? ORDER BY m.dedup_key",
            (caller.tenant_id, incident_id),
        )
        timeline = await ctx.rows(
            "SELECT at, kind, dedup_key, detail FROM incident_timeline WHERE incident_id = ? "
            "ORDER BY position",
            (incident_id,),
        )
        detail = doc.IncidentDetail(
            incident=_summary(rows[0]),
            members=[
                doc.IncidentMember(alert_id=m[0], dedup_key=m[1], status=m[2], priority=m[3])
                for m in members
            ],
            timeline=[
                doc.TimelineEntry(
                    at=rfc3339_required(t[0]), kind=t[1], dedup_key=t[2], detail=orjson.loads(t[3])
                )
                for t in timeline
            ],
        )
        return cached(request, detail)

    @post(
        "/{incident_id:str}/notes",
        status_code=201,
        summary="Add a note to an incident's timeline",
        opt={"role": Role.RESPONDER},
        responses=errors(404),
    )
    async def add_note(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        incident_id: FromPath[str],
        data: JSONBody[doc.NewNote],
    ) -> doc.NoteAdded:
        at = ctx.clock()
        try:
            added = await ctx.run(
                lambda: incidents.add_note(
                    ctx.services.store,
                    ctx.read_models(),
                    tenant=caller.tenant_id,
                    incident_id=incident_id,
                    author=caller.user.email,
                    text=data.text,
                    at=at,
                )
            )
        except incidents.NoSuchIncident:
            raise NotFound("no such incident") from None
        return doc.NoteAdded(
            incident_id=added.incident_id,
            author=added.author,
            text=added.text,
            at=rfc3339_required(added.at),
        )


def _summary(row: tuple[Any, ...]) -> doc.IncidentSummary:
    return doc.IncidentSummary(
        id=row[0],
        group_key=row[1],
        number=row[2],
        status=row[3],
        priority=row[4],
        alerts=row[5],
        opened_at=rfc3339_required(row[6]),
        resolved_at=rfc3339(row[7]),
        last_change_at=rfc3339_required(row[8]),
    )
