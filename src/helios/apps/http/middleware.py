"""Per-request context (ids, a log line, the latency metric) and the deadline of a request body.

Plain ASGI middlewares (cheaper than framework ones on the hot path). The request id is the
caller's ``X-Request-ID`` or a new one, echoed in the response; the correlation id is the
caller's ``X-Correlation-ID`` or the request id, and travels with the envelope to the workers
as a queue message attribute. Both are bound to structlog's context for every log line of the
request. Routes are labelled by template, never by raw path (paths can hold integration keys).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import structlog
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from helios.apps.http.errors import RequestTimeout
from helios.apps.observability import Metrics
from helios.apps.unique_ids import unique_id

_log = structlog.get_logger("helios.api")
_INGEST_SOURCES = frozenset({"alertmanager", "grafana", "cloudwatch", "generic"})
_FIXED_ROUTES = frozenset({"/v2/enqueue", "/v2/change/enqueue", "/healthz", "/readyz", "/metrics"})
_MAX_ID_CHARS = 128


def route_label(path: str) -> str:
    """The route template a path belongs to, without any secret it may contain."""
    if path in _FIXED_ROUTES:
        return path
    if path.startswith("/v1/ingest/"):
        parts = path.split("/")
        source = parts[3] if len(parts) > 3 and parts[3] in _INGEST_SOURCES else "{source}"
        return f"/v1/ingest/{source}" + ("/{key}" if len(parts) > 4 else "")
    return "other"


_REFUSALS = {
    400: "rejected",
    413: "rejected",
    415: "rejected",
    422: "rejected",
    401: "unauthorized",
    403: "unauthorized",
    408: "timeout",
    429: "rate_limited",
}
"""A refused delivery's outcome label in ``helios_envelopes_total``, by status code."""


def refused_delivery(route: str, status: int) -> tuple[str, str] | None:
    """(source, outcome) of an ingestion request Helios refused, or None (not an ingestion
    route, or not refused by the client's fault)."""
    outcome = _REFUSALS.get(status)
    if outcome is None:
        return None
    if route.startswith("/v1/ingest/"):
        source = route.split("/")[3]
        return ("unknown" if source == "{source}" else source), outcome
    if route in ("/v2/enqueue", "/v2/change/enqueue"):
        return "pagerduty", outcome
    return None


class RequestContext:
    """Wraps the app: ids in, ids out, a metric and a log line per HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self._app(scope, receive, send)
            return
        http: dict[str, Any] = cast("dict[str, Any]", scope)
        started = time.perf_counter()
        request_id = correlation_id = ""
        for name, value in http["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:_MAX_ID_CHARS]
            elif name == b"x-correlation-id":
                correlation_id = value.decode("latin-1")[:_MAX_ID_CHARS]
        request_id = request_id or unique_id()
        correlation_id = correlation_id or request_id
        state = http.setdefault("state", {})
        state["request_id"] = request_id
        state["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        status = 500
        echo = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(http["path"])
            self._metrics.request_latency.observe(elapsed, http["method"], route, str(status))
            refused = refused_delivery(route, status)
            if refused is not None:
                self._metrics.envelopes.inc(*refused)
            if route not in ("/healthz", "/readyz", "/metrics"):
                _log.info(
                    "request",
                    method=http["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.clear_contextvars()


class BodyDeadline:
    """Bounds the time a request body may take to arrive, ``timeout_s`` in all.

    The clock starts when the app first asks for the body, so an endpoint that never reads one
    is not affected. A client that announces more bytes than it sends, or trickles them, gets a
    408 (``RequestTimeout``, which also closes the connection) instead of holding a connection
    and a task for as long as it likes. Once the body is complete, later reads (which only wait
    for a disconnect) are left alone.
    """

    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self._app = app
        self._timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]
            await self._app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        complete = False

        async def bounded_receive() -> ReceiveMessage:
            nonlocal deadline, complete
            if complete:
                return await receive()
            if deadline is None:
                deadline = loop.time() + self._timeout_s
            # asyncio's own timeout (the servers and the tests run on asyncio): half
            # the cost of a cancel scope, on a path every request with a body takes.
            try:
                async with asyncio.timeout_at(deadline) as bounded:
                    message = await receive()
            except TimeoutError:
                if not bounded.expired():
                    raise
                raise RequestTimeout(
                    f"the request body did not arrive within {self._timeout_s:g} s"
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        await self._app(scope, bounded_receive, send)
