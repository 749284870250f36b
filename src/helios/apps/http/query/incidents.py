"""``/v1/incidents``: the list, one incident with its members and timeline, and notes (an
``incident.AddNote`` decided and appended to the incident group's stream)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from helios.apps.application.access import Caller
from helios.apps.application.repository import execute
from helios.apps.http.errors import InvalidBody, InvalidQuery, NotFound
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    CACHE_HEADERS,
    QueryContext,
    cached,
    decode_cursor,
    encode_cursor,
    errors,
    rfc3339,
    rfc3339_required,
)
from helios.apps.views import incidents
from helios.domain import engine, incident
from helios.domain.access import Role
from helios.domain.normalize import FieldError

MAX_NOTE_CHARS = 4096


def _summary(row: incidents.IncidentRow) -> doc.IncidentSummary:
    return doc.IncidentSummary(
        id=row.incident_id,
        group_key=row.group_key,
        number=row.number,
        status=row.status,
        priority=row.priority,
        alerts=row.alerts,
        opened_at=rfc3339_required(row.opened_at),
        resolved_at=rfc3339(row.resolved_at),
        last_change_at=rfc3339_required(row.last_change_at),
    )


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:
    """The incident endpoints."""

    @get(
        "/incidents",
        summary="List incidents",
        description="The tenant's incidents, most recently opened first, in pages.",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
        tags=["incidents"],
    )
    async def list_incidents(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        *,
        status: Annotated[str | None, QueryParameter(description="open or resolved")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.IncidentPage]:
        if status and status not in incidents.STATUSES:
            raise InvalidQuery(
                "invalid query parameter 'status'",
                errors=(FieldError(field="status", message="must be open or resolved"),),
            )
        after = decode_cursor(cursor, int, str)
        rows, more = await ctx.run(
            lambda: incidents.page(
                ctx.read_models(),
                tenant=caller.tenant_id,
                status=status or None,
                after=(after[0], after[1]) if after is not None else None,
                limit=limit,
            )
        )
        page = doc.IncidentPage(
            items=[_summary(r) for r in rows],
            next_cursor=encode_cursor(rows[-1].opened_at, rows[-1].incident_id) if more else None,
        )
        return cached(request, page)

    @get(
        "/incidents/{incident_id:str}",
        summary="One incident with its alerts and timeline",
        opt={"role": Role.VIEWER},
        responses=errors(304, 404),
        response_headers=CACHE_HEADERS,
        tags=["incidents"],
    )
    async def get_incident(
        request: Request[Any, Any, Any], caller: NamedDependency[Caller], incident_id: FromPath[str]
    ) -> Response[doc.IncidentDetail]:
        row = await _incident_row(ctx, caller, incident_id)
        members = await ctx.run(
            lambda: incidents.members(
                ctx.read_models(), tenant=caller.tenant_id, incident_id=incident_id
            )
        )
        timeline = await ctx.run(
            lambda: incidents.timeline(ctx.read_models(), incident_id=incident_id)
        )
        detail = doc.IncidentDetail(
            incident=_summary(row),
            members=[
                doc.IncidentMember(
                    alert_id=m.alert_id, dedup_key=m.dedup_key, status=m.status, priority=m.priority
                )
                for m in members
            ],
            timeline=[
                doc.TimelineEntry(
                    at=rfc3339_required(t.at),
                    kind=t.kind,
                    dedup_key=t.dedup_key,
                    detail=orjson.loads(t.detail),
                )
                for t in timeline
            ],
        )
        return cached(request, detail)

    @post(
        "/incidents/{incident_id:str}/notes",
        status_code=201,
        summary="Add a note to an incident's timeline",
        opt={"role": Role.RESPONDER},
        responses=errors(404),
        tags=["incidents"],
    )
    async def add_note(
        caller: NamedDependency[Caller], incident_id: FromPath[str], data: JSONBody[doc.NewNote]
    ) -> doc.NoteAdded:
        note = data
        if not note.text.strip() or len(note.text) > MAX_NOTE_CHARS:
            raise InvalidBody(
                "invalid note",
                errors=(FieldError(field="text", message=f"must be 1..{MAX_NOTE_CHARS} chars"),),
            )
        row = await _incident_row(ctx, caller, incident_id)
        at = ctx.clock()
        author = caller.user.email
        command = incident.AddNote(incident_id=incident_id, author=author, text=note.text, at=at)
        await ctx.run(lambda: _append_note(ctx, caller.tenant_id, row.group_key, command))
        return doc.NoteAdded(
            incident_id=incident_id, author=author, text=note.text, at=rfc3339_required(at)
        )

    return [list_incidents, get_incident, add_note]


def _append_note(ctx: QueryContext, tenant: str, group_key: str, command: incident.AddNote) -> None:
    execute(
        ctx.services.store,
        engine.group_stream(tenant, group_key),
        initial=lambda: incident.initial_state(tenant, group_key),
        evolve=incident.evolve,
        decide=lambda state: incident.decide(command, state),
    )


async def _incident_row(
    ctx: QueryContext, caller: Caller, incident_id: str
) -> incidents.IncidentRow:
    row = await ctx.run(
        lambda: incidents.by_id(ctx.read_models(), tenant=caller.tenant_id, incident_id=incident_id)
    )
    if row is None:
        raise NotFound("no such incident")
    return row
