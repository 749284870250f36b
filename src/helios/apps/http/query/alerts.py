"""``/v1/alerts``: the list (filters, cursor pages), one alert with its signals and decisions
from the event log, and the human actions (acknowledge, resolve) recorded through the queue."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import msgspec
import orjson
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from helios.apps.application.access import Caller
from helios.apps.application.envelopes import envelope_message
from helios.apps.http.errors import InvalidBody, InvalidQuery, NotFound, Unavailable
from helios.apps.http.query import documents as doc
from helios.apps.http.query.changes import recent_changes
from helios.apps.http.query.context import (
    CACHE_HEADERS,
    QueryContext,
    after_cursor,
    cached,
    encode_cursor,
    errors,
    like_pattern,
    page_rows,
    query_time,
    rfc3339,
    rfc3339_required,
    time_range,
)
from helios.domain import alert
from helios.domain.access import Role
from helios.domain.normalize import FieldError
from helios.domain.values import Envelope, Signal, SourceKind
from helios.ports.queue import QueueUnavailable

_STATUSES = ("triggered", "acknowledged", "resolved", "none")
_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
MAX_PAGE = 500
ALERT_COLUMNS = (
    "stream_id, dedup_key, status, priority, score, severity, summary, service, sources, labels, "
    "occurrences, episode, duplicates, flapping, silenced, group_key, incident_id, "
    "first_seen_at, last_signal_at, last_change_at, factors, links, details"
)


def alert_summary(row: tuple[Any, ...]) -> doc.AlertSummary:
    return doc.AlertSummary(
        id=row[0],
        dedup_key=row[1],
        status=row[2],
        priority=row[3],
        score=row[4],
        severity=row[5],
        summary=row[6],
        service=row[7],
        sources=orjson.loads(row[8]),
        labels=orjson.loads(row[9]),
        occurrences=row[10],
        episode=row[11],
        duplicates=row[12],
        flapping=bool(row[13]),
        silenced=bool(row[14]),
        group_key=row[15],
        incident_id=row[16],
        first_seen_at=rfc3339(row[17]),
        last_signal_at=rfc3339(row[18]),
        last_change_at=rfc3339(row[19]),
        links=[
            doc.LinkDocument(href=link["href"], text=link["text"]) for link in orjson.loads(row[21])
        ],
        details=orjson.loads(row[22]),
    )


def _choices(field: str, raw: str | None, allowed: tuple[str, ...]) -> list[str]:
    if not raw:
        return []
    values = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise InvalidQuery(
            f"invalid query parameter {field!r}: {', '.join(bad)[:100] or 'empty'}",
            errors=(FieldError(field=field, message=f"each must be one of {', '.join(allowed)}"),),
        )
    return values


def _label_filters(raw: list[str] | None) -> list[str]:
    patterns = []
    for index, item in enumerate(raw or ()):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidQuery(
                "invalid query parameter 'label': a filter is name=value",
                errors=(FieldError(field=f"label[{index}]", message="must be name=value"),),
            )
        # Labels are stored as compact JSON objects: look for the exact "name":"value" pair.
        pair = orjson.dumps({name: value}).decode()[1:-1]
        patterns.append(like_pattern(pair))
    return patterns


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:  # noqa: C901, PLR0915
    """The alert endpoints."""

    @get(
        "/alerts",
        summary="List alerts",
        description=(
            "The caller's tenant's alerts, most recent signal first (ties by dedup key), in "
            "pages; filters combine with AND. ``since``/``until`` bound the latest signal's "
            "time. A page's ``next_cursor`` gives the next one."
        ),
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
        tags=["alerts"],
    )
    async def list_alerts(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        *,
        status: Annotated[
            str | None,
            QueryParameter(description="comma-separated: triggered, acknowledged, resolved"),
        ] = None,
        priority: Annotated[
            str | None, QueryParameter(description="comma-separated: P1..P5")
        ] = None,
        service: FromQuery[str | None] = None,
        source: Annotated[
            str | None, QueryParameter(description="a source, e.g. alertmanager")
        ] = None,
        label: Annotated[
            list[str] | None, QueryParameter(description="name=value; repeat for several")
        ] = None,
        q: Annotated[
            str | None, QueryParameter(description="text in the summary or dedup key")
        ] = None,
        since: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        until: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.AlertPage]:
        where = ["tenant = ?"]
        params: list[Any] = [caller.tenant_id]
        statuses = _choices("status", status, _STATUSES)
        if statuses:
            where.append(f"status IN ({', '.join('?' * len(statuses))})")
            params += statuses
        else:
            where.append("status <> 'none'")
        priorities = _choices("priority", priority, _PRIORITIES)
        if priorities:
            where.append(f"priority IN ({', '.join('?' * len(priorities))})")
            params += priorities
        if service:
            where.append("service = ?")
            params.append(service)
        if source:
            where.append("sources LIKE ? ESCAPE '\\'")
            params.append(like_pattern(orjson.dumps(source).decode()))
        for pattern in _label_filters(label):
            where.append("labels LIKE ? ESCAPE '\\'")
            params.append(pattern)
        if q:
            where.append(
                "(LOWER(summary) LIKE ? ESCAPE '\\' OR LOWER(dedup_key) LIKE ? ESCAPE '\\')"
            )
            params += [like_pattern(q.lower())] * 2
        start, end = query_time("since", since), query_time("until", until)
        time_range(where, params, "last_signal_at", start, end)
        after_cursor(where, params, cursor, "last_signal_at", "dedup_key")
        rows, more = await page_rows(
            ctx,
            f"SELECT {ALERT_COLUMNS} FROM alerts",
            where=where,
            params=params,
            order="last_signal_at DESC, dedup_key DESC",
            limit=limit,
        )
        next_cursor = encode_cursor(rows[-1][18], rows[-1][1]) if more else None
        page = doc.AlertPage(items=[alert_summary(r) for r in rows], next_cursor=next_cursor)
        return cached(request, page)

    @get(
        "/alerts/{alert_id:str}",
        summary="One alert with its signals and decisions",
        description=(
            "The alert's current state from the read models, and its whole history from the "
            "event log: every distinct signal, every decision (with the score's factors and "
            "the ruleset version used), silences and notifications."
        ),
        opt={"role": Role.VIEWER},
        responses=errors(304, 404),
        response_headers=CACHE_HEADERS,
        tags=["alerts"],
    )
    async def get_alert(
        request: Request[Any, Any, Any], caller: NamedDependency[Caller], alert_id: FromPath[str]
    ) -> Response[doc.AlertDetail]:
        row = await _alert_row(ctx, caller, alert_id)
        recorded = await ctx.run(lambda: ctx.services.store.read_stream(uuid.UUID(row[0])))
        detail = _detail(row, recorded)
        # The current episode's start from the alert's own fold: the read model keeps the
        # first episode's, and a late trigger may have moved the start since it was opened.
        state = alert.evolve_all(
            alert.initial_state(caller.tenant_id, row[1]), [item.event for item in recorded]
        )
        episode = state.episode
        if episode is not None:
            detail.recent_changes = await recent_changes(
                ctx, caller.tenant_id, episode.service, episode.started_at
            )
        return cached(request, detail)

    async def act(
        caller: Caller,
        alert_id: str,
        action: Literal["acknowledge", "resolve"],
        request: Any,
        data: doc.ActionRequest | None,
    ) -> doc.ActionAccepted:
        note = data.note if data is not None else ""
        if len(note) > 1024:
            raise InvalidBody(
                "note too long", errors=(FieldError(field="note", message="at most 1024 chars"),)
            )
        row = await _alert_row(ctx, caller, alert_id)
        document = {"action": action, "dedup_key": row[1], "user": caller.user.user_id}
        if note:
            document["note"] = note
        envelope = Envelope(
            ingest_id=uuid.uuid4().hex,
            tenant=caller.tenant_id,
            integration="api",
            source=SourceKind.USER,
            received_at=ctx.clock(),
            body=orjson.dumps(document),
        )
        correlation = str(request.scope.get("state", {}).get("correlation_id", ""))
        try:
            await ctx.services.queue.send([envelope_message(envelope, correlation_id=correlation)])
        except QueueUnavailable as error:
            raise Unavailable(
                "the queue cannot take actions now", retry_after_s=error.retry_after_s
            ) from None
        return doc.ActionAccepted(
            action_id=envelope.ingest_id, alert_id=row[0], action=action, status="accepted"
        )

    @post(
        "/alerts/{alert_id:str}/acknowledge",
        status_code=202,
        summary="Acknowledge an alert (recorded as a human signal)",
        opt={"role": Role.RESPONDER},
        responses=errors(404),
        tags=["alerts"],
    )
    async def acknowledge(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        alert_id: FromPath[str],
        data: JSONBody[doc.ActionRequest | None] = None,
    ) -> doc.ActionAccepted:
        return await act(caller, alert_id, "acknowledge", request, data)

    @post(
        "/alerts/{alert_id:str}/resolve",
        status_code=202,
        summary="Resolve an alert (recorded as a human signal)",
        opt={"role": Role.RESPONDER},
        responses=errors(404),
        tags=["alerts"],
    )
    async def resolve(
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        alert_id: FromPath[str],
        data: JSONBody[doc.ActionRequest | None] = None,
    ) -> doc.ActionAccepted:
        return await act(caller, alert_id, "resolve", request, data)

    return [list_alerts, get_alert, acknowledge, resolve]


async def _alert_row(ctx: QueryContext, caller: Caller, alert_id: str) -> tuple[Any, ...]:
    rows = await ctx.rows(
        f"SELECT {ALERT_COLUMNS} FROM alerts WHERE stream_id = ? AND tenant = ?",
        (alert_id, caller.tenant_id),
    )
    if not rows:
        raise NotFound("no such alert")
    return rows[0]


def _signal_document(s: Signal, *, late: bool) -> doc.SignalDocument:
    return doc.SignalDocument(
        signal_id=s.signal_id,
        source=s.source,
        integration=s.integration,
        action=s.action.value,
        severity=s.severity.value,
        summary=s.summary,
        service=s.service,
        labels=dict(s.labels),
        occurred_at=rfc3339_required(s.occurred_at),
        received_at=rfc3339_required(s.received_at),
        late=late,
        links=[doc.LinkDocument(href=k.href, text=k.text) for k in s.links],
        details=orjson.loads(s.details),
    )


def _detail(row: tuple[Any, ...], recorded: Any) -> doc.AlertDetail:
    signals: list[doc.SignalDocument] = []
    decisions: list[doc.Decision] = []
    notifications: list[doc.Notification] = []
    ruleset_version: int | None = None
    silence_ids: list[str] = []
    for item in recorded:
        event = item.event
        match event:
            case alert.SignalAccepted(signal=s, late=late, late_beyond_horizon=beyond):
                signals.append(_signal_document(s, late=late or beyond))
                continue
            case alert.SignalIgnored(signal=s):
                # Shown once a trigger it overtook has arrived: it is part of the history then.
                signals.append(_signal_document(s, late=False))
            case alert.AlertScored(ruleset_version=version):
                ruleset_version = version
            case alert.AlertSilenced(silence_ids=ids):
                silence_ids = list(ids)
            case alert.AlertUnsilenced():
                silence_ids = []
            case alert.NotificationRequested():
                notifications.append(
                    doc.Notification(
                        notification_id=event.notification_id,
                        at=rfc3339_required(event.at),
                        reason=event.reason,
                        outcome="requested",
                        priority=event.priority.value if event.priority else None,
                        channel=event.channel,
                        because="",
                        silence_ids=[],
                    )
                )
            case alert.NotificationSuppressed():
                notifications.append(
                    doc.Notification(
                        notification_id=event.notification_id,
                        at=rfc3339_required(event.at),
                        reason=event.reason,
                        outcome="suppressed",
                        priority=None,
                        channel="",
                        because=event.because,
                        silence_ids=list(event.silence_ids),
                    )
                )
        name = type(event).NAME
        decisions.append(
            doc.Decision(
                version=item.version,
                name=name,
                kind=name.removeprefix("helios.alert.").rsplit(".", 1)[0],
                at=rfc3339(getattr(event, "at", None)),
                position=item.position,
                detail=msgspec.to_builtins(event),
            )
        )
    factors = [doc.Factor(name=n, input=i, effect=e) for n, i, e in orjson.loads(row[20])]
    return doc.AlertDetail(
        alert=alert_summary(row),
        factors=factors,
        ruleset_version=ruleset_version,
        silence_ids=silence_ids,
        signals=signals,
        decisions=decisions,
        notifications=notifications,
        recent_changes=[],
    )
