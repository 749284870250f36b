"""``/v1/alerts``: the list (filters, cursor pages), one alert with its signals and decisions
from the event log, and the human actions (acknowledge, resolve) recorded through the queue.

Handlers only translate: query parameters to a filter of the alerts view, a use case's
answer (or refusal) to a document (or a problem).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import orjson
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter, SkipValidation

from helios.apps.application.access import Caller
from helios.apps.application.actions import (
    ActionName,
    ActionNotFound,
    AlertActions,
    AlertChanged,
    InvalidAction,
    action_outcome,
)
from helios.apps.application.alert_history import AlertHistory, AlertNotFound, alert_detail
from helios.apps.http.errors import (
    InvalidBody,
    InvalidQuery,
    NotFound,
    PreconditionFailed,
    Unavailable,
)
from helios.apps.http.query import documents as doc
from helios.apps.http.query.changes import recent_changes
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    QueryContext,
    cached,
    decode_cursor,
    encode_cursor,
    errors,
    idempotency_key,
    if_match_version,
    query_time,
    rfc3339,
    rfc3339_required,
    version_etag,
)
from helios.apps.views import alerts
from helios.domain import alert
from helios.domain.access import Role
from helios.domain.normalize import FieldError
from helios.domain.values import Signal
from helios.ports.queue import QueueUnavailable

MAX_PAGE = 500

Context = NamedDependency[SkipValidation[QueryContext]]
"""The query context the router provides (not validated: it is ours, not the client's)."""

_LIST_DESCRIPTION = (
    "The caller's tenant's alerts, most recent signal first (ties by dedup key), in pages; "
    "filters combine with AND. ``since``/``until`` bound the latest signal's time. A page's "
    "``next_cursor`` gives the next one. The status, service and label filters read indexes "
    "in the list's order, so a page costs about the same whatever they match; ``q`` (text) "
    "and ``source`` are checked on each row the others let through: alone, on a large "
    "tenant, one that matches few alerts reads many rows."
)


_ACTION_DESCRIPTION = (
    "Sent to the workers, which record it as a human signal. With an ``Idempotency-Key`` a "
    "retry (same key, same action and note) is sent once and answers the first answer; the "
    "key with another request: 422; while the first is being processed: 409. With "
    '``If-Match: "<version>"`` (the alert\'s ``version``) the action is refused with 412 when '
    "the alert changed since: the ETag of the answer names its current version."
)


class AlertsController(Controller):
    """The alert endpoints; the query router provides ``ctx`` and ``caller``."""

    path = "/alerts"
    tags = ["alerts"]
    # The bearer scheme of the query API's OpenAPI components.
    security = [BEARER]

    @get(
        "/",
        summary="List alerts",
        description=_LIST_DESCRIPTION,
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def list_alerts(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
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
            str | None,
            QueryParameter(description="text in the summary or dedup key (a scan)"),
        ] = None,
        since: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        until: Annotated[str | None, QueryParameter(description="RFC 3339 time")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> Response[doc.AlertPage]:
        where = alerts.AlertFilter(
            tenant=caller.tenant_id,
            statuses=_choices("status", status, alerts.STATUSES),
            priorities=_choices("priority", priority, alerts.PRIORITIES),
            service=service or None,
            source=source or None,
            labels=_label_filters(label),
            text=q or None,
            since=query_time("since", since),
            until=query_time("until", until),
            after=_after(cursor),
        )
        rows, more = await ctx.run(lambda: alerts.page(ctx.read_models(), where, limit=limit))
        next_cursor = encode_cursor(rows[-1].last_signal_at, rows[-1].dedup_key) if more else None
        page = doc.ListedPage(items=[listed_alert(r) for r in rows], next_cursor=next_cursor)
        return cached(request, page)

    @get(
        "/{alert_id:str}",
        summary="One alert with its signals and decisions",
        description=(
            "The alert's current state from the read models, and its whole history from the "
            "event log: every distinct signal, every decision (with the score's factors and "
            "the ruleset version used), silences and notifications."
        ),
        opt={"role": Role.VIEWER},
        responses=errors(304, 404),
        response_headers=CACHE_HEADERS,
    )
    async def get_alert(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        alert_id: FromPath[str],
    ) -> Response[doc.AlertDetail]:
        try:
            found = await ctx.run(
                lambda: alert_detail(
                    ctx.read_models(),
                    ctx.services.store,
                    tenant=caller.tenant_id,
                    alert_id=alert_id,
                )
            )
        except AlertNotFound:
            raise NotFound("no such alert") from None
        detail = _detail(found.row, found.history)
        # The current episode's start from the alert's own fold: the read model keeps the
        # first episode's, and a late trigger may have moved the start since it was opened.
        episode = found.history.state.episode
        if episode is not None:
            detail.recent_changes = await recent_changes(
                ctx, caller.tenant_id, episode.service, episode.started_at
            )
        return cached(request, detail)

    @post(
        "/{alert_id:str}/acknowledge",
        status_code=202,
        summary="Acknowledge an alert (recorded as a human signal)",
        description=_ACTION_DESCRIPTION,
        opt={"role": Role.RESPONDER},
        responses=errors(404, 409, 412, 422),
    )
    async def acknowledge(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        alert_id: FromPath[str],
        data: JSONBody[doc.ActionRequest | None] = None,
    ) -> doc.ActionAccepted:
        return await _act(
            ctx, caller=caller, alert_id=alert_id, action="acknowledge", request=request, data=data
        )

    @post(
        "/{alert_id:str}/resolve",
        status_code=202,
        summary="Resolve an alert (recorded as a human signal)",
        description=_ACTION_DESCRIPTION,
        opt={"role": Role.RESPONDER},
        responses=errors(404, 409, 412, 422),
    )
    async def resolve(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
        alert_id: FromPath[str],
        data: JSONBody[doc.ActionRequest | None] = None,
    ) -> doc.ActionAccepted:
        return await _act(
            ctx, caller=caller, alert_id=alert_id, action="resolve", request=request, data=data
        )

    @get(
        "/{alert_id:str}/actions/{action_id:str}",
        summary="What became of an action (pending, recorded or rejected)",
        description=(
            "Read after an acknowledge or resolve answered 202 (its ``action_id``): "
            "``pending`` until the workers recorded it, then ``recorded`` or ``rejected``."
        ),
        opt={"role": Role.VIEWER},
        responses=errors(404),
    )
    async def action(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        alert_id: FromPath[str],
        action_id: FromPath[str],
    ) -> doc.ActionOutcomeDocument:
        try:
            outcome = await ctx.run(
                lambda: action_outcome(
                    ctx.services.store,
                    ctx.read_models(),
                    tenant=caller.tenant_id,
                    alert_id=alert_id,
                    action_id=action_id,
                )
            )
        except AlertNotFound:
            raise NotFound("no such alert") from None
        except ActionNotFound:
            raise NotFound("no such action") from None
        return doc.ActionOutcomeDocument(
            action_id=outcome.action_id,
            alert_id=outcome.alert_id,
            state=outcome.state,
            reason=outcome.reason,
        )


async def _act(
    ctx: QueryContext,
    *,
    caller: Caller,
    alert_id: str,
    action: ActionName,
    request: Request[Any, Any, Any],
    data: doc.ActionRequest | None,
) -> doc.ActionAccepted:
    actions = AlertActions(
        queue=ctx.services.queue,
        read_models=ctx.read_models,
        clock=ctx.clock,
        idempotency=ctx.services.idempotency,
    )
    try:
        accepted = await actions.take(
            tenant=caller.tenant_id,
            user_id=caller.user.user_id,
            alert_id=alert_id,
            action=action,
            note=data.note if data is not None else "",
            correlation_id=str(request.scope.get("state", {}).get("correlation_id", "")),
            idempotency_key=idempotency_key(request),
            expected_version=if_match_version(request),
        )
    except AlertChanged as error:
        raise PreconditionFailed(
            f"the alert changed (it is at version {error.version}): look again before acting",
            etag=version_etag(error.version),
        ) from None
    except InvalidAction as error:
        raise InvalidBody(str(error), errors=error.errors) from None
    except AlertNotFound:
        raise NotFound("no such alert") from None
    except QueueUnavailable as error:
        raise Unavailable(
            "the queue cannot take actions now", retry_after_s=error.retry_after_s
        ) from None
    return doc.ActionAccepted(
        action_id=accepted.action_id,
        alert_id=accepted.alert_id,
        action=accepted.action,
        status="accepted",
    )


def _choices(field: str, raw: str | None, allowed: tuple[Any, ...]) -> tuple[Any, ...]:
    """The comma-separated values of a query parameter, each one of ``allowed``.

    Raises:
        InvalidQuery: naming ``field``, when a value is not allowed.
    """
    if not raw:
        return ()
    values = [v.strip() for v in raw.split(",") if v.strip()]
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise InvalidQuery(
            f"invalid query parameter {field!r}: {', '.join(bad)[:100] or 'empty'}",
            errors=(FieldError(field=field, message=f"each must be one of {', '.join(allowed)}"),),
        )
    return tuple(values)


def _label_filters(raw: list[str] | None) -> tuple[tuple[str, str], ...]:
    """``name=value`` filters as pairs.

    Raises:
        InvalidQuery: naming ``label[i]``, when one is not name=value.
    """
    pairs = []
    for index, item in enumerate(raw or ()):
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidQuery(
                "invalid query parameter 'label': a filter is name=value",
                errors=(FieldError(field=f"label[{index}]", message="must be name=value"),),
            )
        pairs.append((name, value))
    return tuple(pairs)


def _after(cursor: str | None) -> tuple[int, str] | None:
    """The (last signal, dedup key) position a page cursor stands for.

    Raises:
        InvalidQuery: the cursor was not produced by this list.
    """
    after = decode_cursor(cursor, int, str)
    return (after[0], after[1]) if after is not None else None


def alert_summary(row: alerts.AlertRow) -> doc.AlertSummary:
    return doc.AlertSummary(
        id=row.stream_id,
        dedup_key=row.dedup_key,
        status=row.status,
        priority=row.priority,
        score=row.score,
        severity=row.severity,
        summary=row.summary,
        service=row.service,
        sources=orjson.loads(row.sources),
        labels=orjson.loads(row.labels),
        occurrences=row.occurrences,
        episode=row.episode,
        duplicates=row.duplicates,
        flapping=bool(row.flapping),
        silenced=bool(row.silenced),
        group_key=row.group_key,
        incident_id=row.incident_id,
        first_seen_at=rfc3339(row.first_seen_at),
        last_signal_at=rfc3339(row.last_signal_at),
        last_change_at=rfc3339(row.last_change_at),
        links=[
            doc.LinkDocument(href=link["href"], text=link["text"])
            for link in orjson.loads(row.links)
        ],
        details=orjson.loads(row.details),
        version=row.position,
    )


def listed_alert(row: alerts.AlertRow) -> msgspec.Struct:
    """What ``alert_summary`` says of ``row``, for a list page: its JSON columns as stored."""
    return doc.ListedAlert(
        row.stream_id,
        row.dedup_key,
        row.status,
        row.priority,
        row.score,
        row.severity,
        row.summary,
        row.service,
        msgspec.Raw(row.sources),
        msgspec.Raw(row.labels),
        row.occurrences,
        row.episode,
        row.duplicates,
        bool(row.flapping),
        bool(row.silenced),
        row.group_key,
        row.incident_id,
        rfc3339(row.first_seen_at),
        rfc3339(row.last_signal_at),
        rfc3339(row.last_change_at),
        msgspec.Raw(row.links),
        msgspec.Raw(row.details),
        row.position,
    )


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


def _detail(row: alerts.AlertRow, history: AlertHistory) -> doc.AlertDetail:
    """The API's view of the history: distinct signals (copies are among the decisions, as
    dropped), every decision, and the notifications asked for or suppressed."""
    signals: list[doc.SignalDocument] = []
    decisions: list[doc.Decision] = []
    notifications: list[doc.Notification] = []
    for entry in history.entries:
        seen, item = entry.signal, entry.recorded
        if seen is not None and seen.signal is not None and not seen.duplicate:
            late = seen.late or seen.late_beyond_horizon
            signals.append(_signal_document(seen.signal, late=late))
        notification = _notification(item.event)
        if notification is not None:
            notifications.append(notification)
        if not entry.decision:
            continue
        name = type(item.event).NAME
        decisions.append(
            doc.Decision(
                version=item.version,
                name=name,
                kind=name.removeprefix("helios.alert.").rsplit(".", 1)[0],
                at=rfc3339(getattr(item.event, "at", None)),
                position=item.position,
                detail=msgspec.to_builtins(item.event),
            )
        )
    factors = [doc.Factor(name=n, input=i, effect=e) for n, i, e in orjson.loads(row.factors)]
    return doc.AlertDetail(
        alert=alert_summary(row),
        factors=factors,
        ruleset_version=history.ruleset_version,
        silence_ids=list(history.silence_ids),
        signals=signals,
        decisions=decisions,
        notifications=notifications,
        recent_changes=[],
    )


def _notification(event: object) -> doc.Notification | None:
    match event:
        case alert.NotificationRequested():
            return doc.Notification(
                notification_id=event.notification_id,
                at=rfc3339_required(event.at),
                reason=event.reason,
                outcome="requested",
                priority=event.priority.value if event.priority else None,
                channel=event.channel,
                because="",
                silence_ids=[],
            )
        case alert.NotificationSuppressed():
            return doc.Notification(
                notification_id=event.notification_id,
                at=rfc3339_required(event.at),
                reason=event.reason,
                outcome="suppressed",
                priority=None,
                channel="",
                because=event.because,
                silence_ids=list(event.silence_ids),
            )
    return None
