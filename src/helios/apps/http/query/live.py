"""``/v1/live``: server-sent events of the caller's tenant's activity, for pages that update
without reloading.

Each event is one line of the activity feed (``event: activity``), its ``id`` the log position
of the decision: a client that reconnects sends ``Last-Event-ID`` and gets every line it missed
(up to a page at a time), then the new ones as the projector writes them. A new client starts
at the tenant's latest position (``event: ready``), having loaded the lists it shows first.
Server-sent events rather than long polling: one request carries many updates, resuming is
built into the format, and a proxy sees an ordinary streamed GET. The stream ends after
``HELIOS_LIVE_STREAM_S`` (the client reconnects from its last id), so that no connection outlives a
deploy by long; a comment every ``KEEPALIVE_S`` keeps idle proxies from closing it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.response import Stream

from helios.apps.application.access import Caller
from helios.apps.application.activity import ActivityRow, activity_since
from helios.apps.http.errors import InvalidHeader
from helios.apps.http.query import documents as doc
from helios.apps.http.query.context import BEARER, Context, QueryContext, errors, rfc3339_required
from helios.domain.access import Role
from helios.domain.normalize import FieldError

POLL_S = 0.5
"""How often the stream asks the read models for new lines."""
KEEPALIVE_S = 15.0
RETRY_MS = 1000
"""How long a client waits before reconnecting (sent as the stream's ``retry``)."""
PAGE = 200


class LiveController(Controller):
    """The live-updates endpoint."""

    path = "/live"
    tags = ["activity"]
    security = [BEARER]

    @get(
        summary="Live activity (server-sent events)",
        description=(
            "``text/event-stream`` of the tenant's activity lines (``event: activity``, "
            "``data``: an ActivityEntry, ``id``: its log position). Send ``Last-Event-ID`` "
            "to resume after a line; without it the stream starts at the latest line "
            "(``event: ready``). The stream ends after a few minutes: reconnect."
        ),
        opt={"role": Role.VIEWER},
        responses=errors(),
        response_headers=[
            ResponseHeader(name="Cache-Control", description="no-cache", documentation_only=True)
        ],
        media_type="text/event-stream",
    )
    async def live(
        self,
        request: Request[Any, Any, Any],
        caller: NamedDependency[Caller],
        ctx: Context,
    ) -> Stream:
        after = _last_event_id(request.headers.get("last-event-id"))
        # The first read happens before the answer, so a database that is down is a 503
        # rather than a stream that breaks.
        rows, seen = await ctx.run(
            lambda: activity_since(
                ctx.read_models(), tenant=caller.tenant_id, after=after, limit=PAGE
            )
        )
        return Stream(
            _events(ctx, caller.tenant_id, rows, seen, ready=after is None),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


async def _events(
    ctx: QueryContext, tenant: str, rows: tuple[ActivityRow, ...], seen: int, *, ready: bool
) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    if ready:
        yield f"event: ready\nid: {seen}\ndata: {{}}\n\n".encode()
    started = last_sent = time.monotonic()
    while True:
        for row in rows:
            yield _event(row)
            last_sent = time.monotonic()
        now = time.monotonic()
        if now - started > ctx.services.settings.live_stream_s:
            return
        if now - last_sent > KEEPALIVE_S:
            yield b": keep-alive\n\n"
            last_sent = now
        if len(rows) < PAGE:
            await anyio.sleep(POLL_S)
        rows, seen = await ctx.run(functools.partial(_since, ctx, tenant, seen))


def _since(ctx: QueryContext, tenant: str, after: int) -> tuple[tuple[ActivityRow, ...], int]:
    return activity_since(ctx.read_models(), tenant=tenant, after=after, limit=PAGE)


def _event(row: ActivityRow) -> bytes:
    entry = doc.ActivityEntry(
        id=row.position,
        at=rfc3339_required(row.at),
        kind=row.kind,
        subject=row.subject,
        text=row.text,
    )
    return b"event: activity\nid: %d\ndata: %s\n\n" % (row.position, msgspec.json.encode(entry))


def _last_event_id(raw: str | None) -> int | None:
    """The position a reconnecting client saw last.

    Raises:
        InvalidHeader: naming ``Last-Event-ID``, when it is not a position.
    """
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidHeader(
            "invalid Last-Event-ID",
            errors=(FieldError(field="Last-Event-ID", message="must be an event id we sent"),),
        )
    return int(text)
