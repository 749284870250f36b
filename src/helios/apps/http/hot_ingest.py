"""The ingestion routes answered ahead of the framework's router: the hot path of the API.

Every accepted alert goes through ``POST /v1/ingest/{source}[/{key}]`` or ``POST /v2/enqueue``,
and for those requests Litestar's per-request machinery (routing, two exception layers, the
dependency and parameter models, the response object and its conversion) cost about as much
CPU as the checks and the enqueue themselves. ``HotIngest`` sits in front of the router and
answers exactly those method and path shapes with the same handler code (``routes.ingest``,
``routes.pagerduty_event``), wrapped in the same plain ASGI middlewares (``RequestContext``:
request ids, the access log line, the latency metric; ``BodyDeadline``), with the same
request (Litestar's ``Request`` on the registered route handler, so its body limit holds) and
the same error rendering (``errors``: problem documents naming the field, PagerDuty's shape on
``/v2/enqueue``). Anything else (another method, a path with an empty segment) goes to the
router as before, where the routes stay registered for the OpenAPI documentation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

from litestar import Litestar, Request
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from helios.apps.http.errors import PAGERDUTY_HANDLERS, PROBLEM_HANDLERS
from helios.apps.http.middleware import BodyDeadline, RequestContext
from helios.apps.http.routes import (
    INGEST_BEARER,
    INGEST_PATH_KEY,
    PAGERDUTY_ENQUEUE,
    ApiContext,
    ingest,
    pagerduty_event,
)
from helios.apps.observability import Metrics
from helios.ports.idempotency import StoredResponse

_JSON_HEADER: Final = (b"content-type", b"application/json")
_Answer = Callable[[Request[Any, Any, Any]], Awaitable[StoredResponse]]


def _route(path: str, api: ApiContext) -> tuple[str, _Answer] | None:
    """The registered handler name and the answer for a hot ``POST`` path, or None."""
    if path == "/v2/enqueue":
        return PAGERDUTY_ENQUEUE, lambda request: pagerduty_event(api, request)
    if not path.startswith("/v1/ingest/"):
        return None
    parts = path.split("/")
    if not all(parts[3:]):
        return None  # an empty segment: the router decides, as it always did
    if len(parts) == 4:
        source = parts[3]
        return INGEST_BEARER, lambda request: ingest(api, request, source, None)
    if len(parts) == 5:
        source, key = parts[3], parts[4]
        return INGEST_PATH_KEY, lambda request: ingest(api, request, source, key)
    return None


class HotIngest:
    """An ASGI app that answers the ingestion routes itself and passes the rest to ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        litestar: Litestar,
        api: ApiContext,
        metrics: Metrics,
        body_timeout_s: float,
    ) -> None:
        self._app = app
        self._api = api
        self._handlers: dict[str, HTTPRouteHandler] = {}
        for name in (INGEST_BEARER, INGEST_PATH_KEY, PAGERDUTY_ENQUEUE):
            index = litestar.get_handler_index_by_name(name)
            assert index is not None, f"the {name} route is not registered"
            handler = index["handler"]
            assert isinstance(handler, HTTPRouteHandler)
            self._handlers[name] = handler
        self._answering = RequestContext(
            BodyDeadline(self._answer, timeout_s=body_timeout_s), metrics=metrics
        )
        self.answered = 0
        """Requests this path answered (the rest went to the router)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        http = cast("dict[str, Any]", scope)
        if (
            http["type"] == "http"
            and http["method"] == "POST"
            and _route(http["path"], self._api) is not None
        ):
            self.answered += 1
            await self._answering(scope, receive, send)
        else:
            await self._app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope["path"], self._api)
        assert route is not None  # checked in ``__call__``
        name, answer = route
        # The registered handler: the request's body limit is the app's, as on the router.
        scope["route_handler"] = self._handlers[name]
        request: Request[Any, Any, Any] = Request(scope, receive, send)
        try:
            stored = await answer(request)
        except Exception as error:  # rendered as the router's exception handlers do
            handlers = PAGERDUTY_HANDLERS if name == PAGERDUTY_ENQUEUE else PROBLEM_HANDLERS
            response = handlers[Exception](request, error)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        headers = [
            _JSON_HEADER,
            (b"content-length", str(len(stored.body)).encode("ascii")),
            *((k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers),
        ]
        await send({"type": "http.response.start", "status": stored.status, "headers": headers})
        await send({"type": "http.response.body", "body": stored.body, "more_body": False})
