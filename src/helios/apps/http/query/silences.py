"""``/v1/silences``: list (viewer+), create and expire (responder+: silencing during an incident
is a responder's move, as in Alertmanager). A silence is a command decided by
``helios.domain.silence`` and appended to the tenant's silence stream; it stops notifications,
never state changes."""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, JSONBody

from helios.apps.application.access import Caller
from helios.apps.application.repository import execute, fold_stream
from helios.apps.http.errors import InvalidBody, NotFound
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import (
    CACHE_HEADERS,
    QueryContext,
    cached,
    errors,
    parse_time,
    rfc3339_required,
)
from helios.domain import engine, silence
from helios.domain.access import Role
from helios.domain.normalize import FieldError
from helios.domain.patterns import pattern_problem
from helios.domain.ruleset import LabelMatcher, MatchOp
from helios.domain.values import Millis
from helios.ports.event_store import EventStore

MAX_MATCHERS = 64
MAX_VALUE_CHARS = 1024
MAX_COMMENT_CHARS = 1024
_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


def _document(item: silence.Silence, now: Millis) -> doc.SilenceDocument:
    state: Literal["pending", "active", "expired"] = (
        "pending" if now < item.starts_at else "active" if now < item.ends_at else "expired"
    )
    return doc.SilenceDocument(
        id=item.silence_id,
        matchers=[doc.Matcher(name=m.name, op=m.op.value, value=m.value) for m in item.matchers],
        starts_at=rfc3339_required(item.starts_at),
        ends_at=rfc3339_required(item.ends_at),
        created_by=item.created_by,
        comment=item.comment,
        state=state,
    )


def _load(store: EventStore, tenant: str) -> tuple[silence.TenantSilences, int]:
    return fold_stream(
        store, engine.silences_stream(tenant), silence.initial_state(tenant), silence.evolve
    )


def _decide_and_append(
    store: EventStore, tenant: str, command: silence.SilenceCommand
) -> silence.TenantSilences:
    state, _ = execute(
        store,
        engine.silences_stream(tenant),
        initial=lambda: silence.initial_state(tenant),
        evolve=silence.evolve,
        decide=lambda current: silence.decide(command, current),
    )
    return state


def _validated(new: doc.NewSilence, now: Millis, author: str) -> silence.Silence:
    problems: list[FieldError] = []
    if not new.matchers:
        problems.append(FieldError(field="matchers", message="at least one matcher is required"))
    if len(new.matchers) > MAX_MATCHERS:
        problems.append(FieldError(field="matchers", message=f"at most {MAX_MATCHERS}"))
    for index, matcher in enumerate(new.matchers):
        if _LABEL.fullmatch(matcher.name) is None:
            problems.append(
                FieldError(field=f"matchers[{index}].name", message="is not a label name")
            )
        # The domain refuses the same patterns (``silence.decide``); checking here too names
        # every bad field in one 400, next to the other fields' problems.
        if matcher.op in ("=~", "!~"):
            reason = pattern_problem(matcher.value)
        elif len(matcher.value) > MAX_VALUE_CHARS:
            reason = f"at most {MAX_VALUE_CHARS} characters"
        else:
            reason = None
        if reason is not None:
            problems.append(FieldError(field=f"matchers[{index}].value", message=reason))
    if len(new.comment) > MAX_COMMENT_CHARS:
        problems.append(FieldError(field="comment", message="at most 1024 characters"))
    starts = parse_time("starts_at", new.starts_at)
    ends = parse_time("ends_at", new.ends_at)
    starts_at = now if starts is None else starts
    if ends is not None and ends <= max(starts_at, now):
        problems.append(
            FieldError(field="ends_at", message="must be after starts_at and in the future")
        )
    if problems or ends is None:
        raise InvalidBody("invalid silence", errors=problems)
    return silence.Silence(
        silence_id="sil_" + uuid.uuid4().hex[:16],
        matchers=tuple(
            LabelMatcher(name=m.name, op=MatchOp(m.op), value=m.value) for m in new.matchers
        ),
        starts_at=starts_at,
        ends_at=ends,
        created_by=author,
        comment=new.comment,
    )


def build(ctx: QueryContext) -> list[HTTPRouteHandler]:
    """The silence endpoints."""
    store = ctx.services.store

    @get(
        "/silences",
        summary="List silences (pending, active and expired)",
        opt={"role": Role.VIEWER},
        responses=errors(304),
        response_headers=CACHE_HEADERS,
        tags=["silences"],
    )
    async def list_silences(
        request: Request[Any, Any, Any], caller: NamedDependency[Caller]
    ) -> Response[doc.SilenceList]:
        state, _ = await ctx.run(lambda: _load(store, caller.tenant_id))
        now = ctx.clock()
        items = [_document(s, now) for s in sorted(state.silences, key=lambda s: -s.starts_at)]
        return cached(request, doc.SilenceList(items=items))

    @post(
        "/silences",
        status_code=201,
        summary="Create a silence",
        description="Field-level 400s name each invalid matcher or time.",
        opt={"role": Role.RESPONDER},
        responses=errors(),
        tags=["silences"],
    )
    async def create_silence(
        caller: NamedDependency[Caller], data: JSONBody[doc.NewSilence]
    ) -> doc.SilenceDocument:
        new = data
        now = ctx.clock()
        created = _validated(new, now, caller.user.email)
        await ctx.run(
            lambda: _decide_and_append(
                store, caller.tenant_id, silence.CreateSilence(silence=created, at=now)
            )
        )
        return _document(created, now)

    @post(
        "/silences/{silence_id:str}/expire",
        status_code=200,
        summary="Expire a silence now",
        opt={"role": Role.RESPONDER},
        responses=errors(404),
        tags=["silences"],
    )
    async def expire_silence(
        caller: NamedDependency[Caller], silence_id: FromPath[str]
    ) -> doc.SilenceDocument:
        state, _ = await ctx.run(lambda: _load(store, caller.tenant_id))
        if state.get(silence_id) is None:
            raise NotFound("no such silence")
        now = ctx.clock()
        command = silence.ExpireSilence(silence_id=silence_id, at=now, by=caller.user.email)
        state = await ctx.run(lambda: _decide_and_append(store, caller.tenant_id, command))
        found = state.get(silence_id)
        assert found is not None
        return _document(found, now)

    return [list_silences, create_silence, expire_silence]
