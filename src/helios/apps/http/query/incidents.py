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
    cached,
    decode_cursor,
    encode_cursor,
    errors,
    idempotency_key,
    rfc3339,
    rfc3339_required,
)
from helios.domain.access import Role
from helios.domain.normalize import FieldError


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
        if status and status not in ("open", "resolved"):
            raise InvalidQuery(
                "invalid query parameter 'status'",
                errors=(FieldError(field="status", message="must be open or resolved"),),
            )
        after = decode_cursor(cursor, int, str)
        found = await ctx.run(
            lambda: incidents.incident_page(
                ctx.read_models(),
                tenant=caller.tenant_id,
                status=status,
                after=(after[0], after[1]) if after else None,
                limit=limit,
            )
        )
        last = found.items[-1] if found.items else None
        page = doc.IncidentPage(
            items=[_summary(r) for r in found.items],
            next_cursor=encode_cursor(last.opened_at, last.incident_id)
            if found.more and last
            else None,
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
        try:
            found = await ctx.run(
                lambda: incidents.incident_view(
                    ctx.read_models(), tenant=caller.tenant_id, incident_id=incident_id
                )
            )
        except incidents.NoSuchIncident:
            raise NotFound("no such incident") from None
        detail = doc.IncidentDetail(
            incident=_summary(found.incident),
            members=[
                doc.IncidentMember(
                    alert_id=m.alert_id, dedup_key=m.dedup_key, status=m.status, priority=m.priority
                )
                for m in found.members
            ],
            timeline=[
                doc.TimelineEntry(
                    at=rfc3339_required(t.at),
                    kind=t.kind,
                    dedup_key=t.dedup_key,
                    detail=orjson.loads(t.detail),
                )
                for t in found.timeline
            ],
        )
        return cached(request, detail)

    @post(
        "/{incident_id:str}/notes",
        status_code=201,
        summary="Add a note to an incident's timeline",
        description=(
            "Recorded at once. With an ``Idempotency-Key`` a retry (same key, same text) "
            "records nothing and answers the note first recorded; the key with another "
            "request: 422; while the first is being processed: 409."
        ),
        opt={"role": Role.RESPONDER},
        responses=errors(404, 409, 422),
    )
    async def add_note(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        incident_id: FromPath[str],
        data: JSONBody[doc.NewNote],
    ) -> doc.NoteAdded:
        try:
            added = await incidents.add_note_once(
                ctx.services.store,
                ctx.read_models(),
                ctx.services.idempotency,
                tenant=caller.tenant_id,
                user_id=caller.user.user_id,
                incident_id=incident_id,
                author=caller.user.email,
                text=data.text,
                clock=ctx.clock,
                idempotency_key=idempotency_key(request),
            )
        except incidents.NoSuchIncident:
            raise NotFound("no such incident") from None
        return doc.NoteAdded(
            incident_id=added.incident_id,
            author=added.author,
            text=added.text,
            at=rfc3339_required(added.at),
        )


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
