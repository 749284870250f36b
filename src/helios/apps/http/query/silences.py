"""``/v1/silences``: list (viewer+), create and expire (responder+: silencing during an incident
is a responder's move, as in Alertmanager). The use cases are ``helios.apps.application.silences``
and every rule is the silence decider's; a silence stops notifications, never state changes."""

from __future__ import annotations

from typing import Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from helios.apps.application import silences
from helios.apps.application.access import Caller
from helios.apps.http.errors import InvalidBody, NotFound
from helios.apps.http.query import documents as doc
from helios.apps.http.query.alerts import alert_summary
from helios.apps.http.query.context import (
    BEARER,
    CACHE_HEADERS,
    Context,
    cached,
    errors,
    parse_time,
    rfc3339_required,
)
from helios.domain import silence
from helios.domain.access import Role
from helios.domain.normalize import FieldError
from helios.domain.ruleset import LabelMatcher, MatchOp
from helios.domain.values import Millis


class SilenceController(Controller):
    """The silence endpoints."""

    path = "/silences"
    tags = ["silences"]
    security = [BEARER]

    @get(
        summary="List silences (pending, active and expired)",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
    )
    async def list_silences(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
    ) -> Response[doc.SilenceList]:
        store = ctx.services.store
        found = await ctx.run(lambda: silences.tenant_silences(store, tenant=caller.tenant_id))
        now = ctx.clock()
        return cached(request, doc.SilenceList(items=[_document(s, now) for s in found]))

    @post(
        "/preview",
        status_code=200,
        summary="The open alerts a silence would cover now",
        description=(
            "Nothing is created: the matchers are checked as a new silence's are (400s name "
            "each) and matched (RE2) against the tenant's open alerts, newest first."
        ),
        opt={"role": Role.VIEWER},
        responses=errors(),
    )
    async def preview_silence(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        data: JSONBody[doc.SilencePreviewRequest],
    ) -> doc.SilencePreviewDocument:
        preview = await ctx.run(
            lambda: silences.preview_silence(
                ctx.read_models(),
                tenant=caller.tenant_id,
                matchers=tuple(
                    LabelMatcher(name=m.name, op=MatchOp(m.op), value=m.value)
                    for m in data.matchers
                ),
            )
        )
        return doc.SilencePreviewDocument(
            items=[alert_summary(r) for r in preview.matched],
            scanned=preview.scanned,
            complete=preview.complete,
        )

    @post(
        status_code=201,
        summary="Create a silence",
        description="Field-level 400s name each invalid matcher or time.",
        opt={"role": Role.RESPONDER},
        responses=errors(),
    )
    async def create_silence(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        data: JSONBody[doc.NewSilence],
    ) -> doc.SilenceDocument:
        starts_at, ends_at = _window(data)
        now = ctx.clock()
        created = await ctx.run(
            lambda: silences.create_silence(
                ctx.services.store,
                tenant=caller.tenant_id,
                matchers=tuple(
                    LabelMatcher(name=m.name, op=MatchOp(m.op), value=m.value)
                    for m in data.matchers
                ),
                starts_at=starts_at,
                ends_at=ends_at,
                comment=data.comment,
                author=caller.user.email,
                at=now,
            )
        )
        return _document(created, now)

    @post(
        "/{silence_id:str}/expire",
        status_code=200,
        summary="Expire a silence now",
        opt={"role": Role.RESPONDER},
        responses=errors(404),
    )
    async def expire_silence(
        self,
        caller: NamedDependency[Caller],
        ctx: Context,
        silence_id: FromPath[str],
    ) -> doc.SilenceDocument:
        now = ctx.clock()
        try:
            expired = await ctx.run(
                lambda: silences.expire_silence(
                    ctx.services.store,
                    tenant=caller.tenant_id,
                    silence_id=silence_id,
                    by=caller.user.email,
                    at=now,
                )
            )
        except silences.NoSuchSilence:
            raise NotFound("no such silence") from None
        return _document(expired, now)


def _window(new: doc.NewSilence) -> tuple[Millis | None, Millis]:
    """The times of a new silence (its rules are the decider's).

    Raises:
        InvalidBody: a time that is not one, naming it.
    """
    starts_at = parse_time("starts_at", new.starts_at)
    ends_at = parse_time("ends_at", new.ends_at)
    if ends_at is None:
        raise InvalidBody(
            "invalid silence",
            errors=(FieldError(field="ends_at", message="must be an RFC 3339 time with a zone"),),
        )
    return starts_at, ends_at


def _document(item: silence.Silence, now: Millis) -> doc.SilenceDocument:
    return doc.SilenceDocument(
        id=item.silence_id,
        matchers=[doc.Matcher(name=m.name, op=m.op.value, value=m.value) for m in item.matchers],
        starts_at=rfc3339_required(item.starts_at),
        ends_at=rfc3339_required(item.ends_at),
        created_by=item.created_by,
        comment=item.comment,
        state=_state(item, now),
    )


def _state(item: silence.Silence, now: Millis) -> Literal["pending", "active", "expired"]:
    if now < item.starts_at:
        return "pending"
    return "active" if now < item.ends_at else "expired"
