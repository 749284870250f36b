"""The HTTP endpoints: PagerDuty's ``/v2/enqueue`` and ``/v2/change/enqueue``,
``/v1/ingest/{source}``, and operations.

Handlers read the raw body (bounded), run the source's checks and hand over to ``Intake``;
they answer success themselves and raise ``ApiError`` for everything else (rendered in
``errors``). They are plain module-level handlers: the app (``app.create_app``) provides the
one ``ApiContext`` as the ``api`` dependency (cached: built once per app), and sets the body
size limit for every route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

import anyio
import anyio.to_thread
import attrs
import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from helios.apps.application.admission import (
    KEPT_HEADERS,
    MAX_IDEMPOTENCY_KEY_CHARS,
    Delivery,
    Intake,
    KeyOfAnotherKind,
    NotAuthenticated,
    OtherTenantsKey,
)
from helios.apps.application.health import Health
from helios.apps.application.tenancy import Authenticated, SigningSecrets
from helios.apps.http import shapes, signatures, sns
from helios.apps.http.authorization import bearer
from helios.apps.http.bodies import refuse_content_encoding
from helios.apps.http.config import ApiConfig
from helios.apps.http.errors import (
    PAGERDUTY_HANDLERS,
    ApiError,
    Forbidden,
    InvalidBody,
    InvalidHeader,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from helios.apps.http.sns import SnsVerifier
from helios.apps.observability import Metrics
from helios.domain.normalize import FieldError, pagerduty
from helios.domain.values import Envelope, Millis, SourceKind
from helios.ports.idempotency import StoredResponse
from helios.ports.secrets import SecretUnavailable

INGEST_SOURCES = {
    kind.value: kind
    for kind in (
        SourceKind.ALERTMANAGER,
        SourceKind.GRAFANA,
        SourceKind.CLOUDWATCH,
        SourceKind.GENERIC,
    )
}
_JSON = "application/json"
# The envelope is checked before it has an ingest id. Only a keyless PagerDuty trigger's
# derived dedup key reads it, and that key's length does not depend on it.
_EDGE_INGEST_ID = "edge-check"
# Normalizing costs tens of µs per alert: a large batch is checked in a thread, so that the
# event loop keeps serving other requests meanwhile (bench/api.py prints the costs).
_INLINE_CHECK_BYTES = 16 * 1024
_READY_TIMEOUT_S = 2.0
# The names of the hot routes, by which ``hot_ingest`` finds their registered handlers.
INGEST_BEARER: Final = "ingest_bearer"
INGEST_PATH_KEY: Final = "ingest_path_key"
PAGERDUTY_ENQUEUE: Final = "pagerduty_enqueue"


@attrs.define
class ApiContext:
    """What the ingestion handlers need, built once per app (the ``api`` dependency)."""

    intake: Intake
    config: ApiConfig
    sns: SnsVerifier
    metrics: Metrics
    readiness: dict[str, Callable[[], Awaitable[object]]]
    signing: SigningSecrets
    health: Callable[[], Awaitable[Health]] | None = None
    """Reads the backlog and lag gauges on each scrape of ``/metrics`` (None: not exported)."""
    shutting_down: bool = False

    @property
    def sns_ahead_s(self) -> int:
        # An SNS Timestamp may be as far ahead of the API's clock as a generic signature's.
        return self.config.signature_tolerance_s

    @property
    def sns_replay_window_ms(self) -> int:
        return sns.replay_window_ms(max_age_s=self.config.sns_max_age_s, ahead_s=self.sns_ahead_s)


async def read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The whole body, refusing one larger than ``limit`` before reading past it.

    Read from the ASGI messages themselves rather than through ``Request.stream``: an async
    generator per request cost more than the loop below, on the path every ingestion takes.

    Raises:
        UnsupportedEncoding: the body is sent with a Content-Encoding (compressed).
        PayloadTooLarge: Content-Length or the bytes received exceed ``limit``.
        InvalidBody: Content-Length is not a number, or the client went away mid-body.
        RequestTimeout: the body did not arrive in time (``middleware.BodyDeadline``).
    """
    headers = request.scope["headers"]
    refuse_content_encoding(headers)
    declared = next((value for name, value in headers if name.lower() == b"content-length"), None)
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidBody("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"the body is {size} bytes, at most {limit} are accepted")
    receive = request.receive
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            raise InvalidBody("the client disconnected before sending the whole body")
        if kind != "http.request":
            continue
        chunk = cast("bytes", message.get("body", b""))
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"the body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _delivery(
    request: Request[Any, Any, Any],
    source: SourceKind,
    body: bytes,
    *,
    received_at: Millis,
    content_dedup: bool = True,
    dedup_fingerprint: str | None = None,
    dedup_window_ms: int | None = None,
) -> Delivery:
    kept: list[tuple[str, str]] = []
    idempotency_key: str | None = None
    content_type = _JSON
    for raw_name, raw_value in request.scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        if name == "content-type":
            content_type = raw_value.decode("latin-1")
        elif name in KEPT_HEADERS:
            value = raw_value.decode("latin-1")
            kept.append((name, value))
            if name == "idempotency-key":
                idempotency_key = _idempotency_key(value)
    state = request.scope.get("state", {})
    return Delivery(
        source=source,
        body=body,
        content_type=content_type,
        headers=tuple(kept),
        correlation_id=str(state.get("correlation_id", "")),
        idempotency_key=idempotency_key,
        content_dedup=content_dedup,
        received_at=received_at,
        dedup_fingerprint=dedup_fingerprint,
        dedup_window_ms=dedup_window_ms,
    )


def _idempotency_key(value: str) -> str | None:
    """The key as sent (an empty one is no key).

    Raises:
        InvalidHeader: the key is longer than ``MAX_IDEMPOTENCY_KEY_CHARS``.
    """
    if len(value) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidHeader(
            "the Idempotency-Key is too long",
            errors=(
                FieldError(
                    field="Idempotency-Key",
                    message=f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters,"
                    f" not {len(value)}",
                ),
            ),
        )
    return value or None


async def check_normalizes(envelope: Envelope) -> None:
    """``shapes.check_normalizes``, in a worker thread for a large body.

    Raises:
        InvalidBody: the worker's normalizer would quarantine the envelope.
    """
    if len(envelope.body) <= _INLINE_CHECK_BYTES:
        shapes.check_normalizes(envelope)
    else:
        await anyio.to_thread.run_sync(shapes.check_normalizes, envelope)


def _answer(stored: StoredResponse) -> Response[bytes]:
    return Response(
        content=stored.body,
        status_code=stored.status,
        media_type=_JSON,
        headers=dict(stored.headers),
    )


def _change_processed(ingest_id: str) -> StoredResponse:
    # PagerDuty's answer to a change event: changes have no dedup key to echo.
    del ingest_id
    return StoredResponse(
        status=202, body=b'{"status":"success","message":"Change event processed"}'
    )


async def _routing_key_caller(
    api: ApiContext, document: dict[str, Any], source: SourceKind
) -> Authenticated:
    """The caller a PagerDuty event's routing key stands for.

    Raises:
        InvalidBody: the key is unknown or of another kind, in PagerDuty's 400 (which
            names ``routing_key``) rather than a 401/403 its clients do not expect.
    """
    try:
        return await api.intake.authenticate(document["routing_key"], source=source)
    except KeyOfAnotherKind as error:
        # A configuration slip the sender can fix: say which key it is and where it works.
        raise InvalidBody(
            "Event object is invalid",
            errors=(FieldError(field="routing_key", message=error.reason),),
        ) from None
    except (NotAuthenticated, OtherTenantsKey):
        raise InvalidBody(
            "Event object is invalid",
            errors=(FieldError(field="routing_key", message="is not a valid routing key"),),
        ) from None


@post(
    "/v2/enqueue",
    status_code=202,
    exception_handlers=PAGERDUTY_HANDLERS,
    summary="PagerDuty Events API v2 (drop-in)",
    description="The request and responses of PagerDuty's Events API v2.",
    name=PAGERDUTY_ENQUEUE,
)
async def enqueue(
    request: Request[Any, Any, Any], api: NamedDependency[ApiContext]
) -> Response[bytes]:
    return _answer(await pagerduty_event(api, request))


async def pagerduty_event(api: ApiContext, request: Request[Any, Any, Any]) -> StoredResponse:
    """``POST /v2/enqueue``: a PagerDuty event, answered as PagerDuty does.

    Raises:
        ApiError: the event is refused (shape, routing key, rate…), in PagerDuty's shape
            through ``PAGERDUTY_HANDLERS``.
    """
    intake = api.intake
    body = await read_body(request, api.config.max_body_bytes)
    document = shapes.decode_object(body)
    shapes.check_pagerduty(document)
    who = await _routing_key_caller(api, document, SourceKind.PAGERDUTY)
    await intake.limit(who)
    own_key = document.get("dedup_key") or None

    def respond(ingest_id: str) -> StoredResponse:
        dedup_key = own_key or pagerduty.keyless_dedup_key(ingest_id)
        return StoredResponse(
            status=202,
            body=msgspec.json.encode(
                {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
            ),
        )

    delivery = _delivery(
        request,
        SourceKind.PAGERDUTY,
        body,
        received_at=intake.now(),
        content_dedup=own_key is not None,
    )
    await check_normalizes(intake.envelope(who, delivery, ingest_id=_EDGE_INGEST_ID))
    return await intake.admit(who, delivery, respond)


@post(
    "/v2/change/enqueue",
    status_code=202,
    exception_handlers=PAGERDUTY_HANDLERS,
    summary="PagerDuty change events (drop-in)",
    description=(
        "PagerDuty's change events (deploys, config changes), with a PagerDuty "
        "integration's routing key: recorded and shown beside alerts of the same service, "
        "never an alert."
    ),
)
async def enqueue_change(
    request: Request[Any, Any, Any], api: NamedDependency[ApiContext]
) -> Response[bytes]:
    intake = api.intake
    body = await read_body(request, api.config.max_body_bytes)
    document = shapes.decode_object(body)
    shapes.check_pagerduty_change(document)
    who = await _routing_key_caller(api, document, SourceKind.PAGERDUTY_CHANGE)
    await intake.limit(who)
    delivery = _delivery(request, SourceKind.PAGERDUTY_CHANGE, body, received_at=intake.now())
    await check_normalizes(intake.envelope(who, delivery, ingest_id=_EDGE_INGEST_ID))
    return _answer(await intake.admit(who, delivery, _change_processed))


@attrs.frozen
class _SourceChecked:
    """What a source's own checks vouch for, beyond the body's shape."""

    signature: str | None = None
    """The verified signature of a generic request (refused if used again)."""
    repeats_as: str | None = None
    """What a resend has in common with this request (an SNS ``MessageId``)."""


async def _check_source(
    api: ApiContext,
    request: Request[Any, Any, Any],
    *,
    kind: SourceKind,
    who: Authenticated,
    document: dict[str, Any],
    body: bytes,
) -> _SourceChecked:
    """The source's own checks: a generic request's signature, an SNS message's topic,
    freshness and signature.

    Raises:
        Unauthorized: a generic request's signature is missing, wrong or stale.
        Forbidden: the SNS topic is not allowed for the integration.
        InvalidBody: the SNS message is stale, from the future, or badly signed.
    """
    intake = api.intake
    if kind is SourceKind.GENERIC:
        try:
            secrets = await api.signing.plaintexts(who.integration, intake.now())
        except SecretUnavailable:
            raise Unavailable("cannot check the signature now", retry_after_s=5) from None
        return _SourceChecked(
            signature=signatures.verify(
                request.headers.get(signatures.SIGNATURE_HEADER),
                body,
                secrets=secrets,
                now_s=intake.now() // 1000,
                tolerance_s=api.config.signature_tolerance_s,
            )
        )
    if kind is SourceKind.CLOUDWATCH:
        if document.get("TopicArn") not in who.integration.allowed_topics:
            raise Forbidden("this SNS topic is not allowed for the integration")
        sns.check_fresh(
            document,
            now_ms=intake.now(),
            max_age_s=api.config.sns_max_age_s,
            ahead_s=api.sns_ahead_s,
        )
        await api.sns.verify(document)
        # A resend may carry extra unsigned fields (other bytes): the MessageId is what
        # repeats, and it is remembered for as long as the message is fresh.
        return _SourceChecked(repeats_as="sns-message-id:" + document["MessageId"])
    return _SourceChecked()


async def ingest(
    api: ApiContext, request: Request[Any, Any, Any], source: str, key: str | None
) -> StoredResponse:
    """``POST /v1/ingest/{source}``, the key in the path or in ``Authorization``.

    Raises:
        ApiError: the request is refused (unknown source, key, rate, shape, signature…).
    """
    intake = api.intake
    kind = INGEST_SOURCES.get(source)
    if kind is None:
        raise NotFound(f"unknown source {source!r}; one of {', '.join(INGEST_SOURCES)}")
    body = await read_body(request, api.config.max_body_bytes)
    who = await intake.authenticate(
        key or bearer(request),
        source=kind,
        tenant_hint=request.headers.get("x-helios-tenant"),
    )
    await intake.limit(who)
    document = shapes.decode_object(body)
    shapes.check_source(kind, document)
    checked = await _check_source(api, request, kind=kind, who=who, document=document, body=body)
    delivery = _delivery(
        request,
        kind,
        body,
        received_at=intake.now(),
        dedup_fingerprint=checked.repeats_as,
        dedup_window_ms=api.sns_replay_window_ms if checked.repeats_as else None,
    )
    await check_normalizes(intake.envelope(who, delivery, ingest_id=_EDGE_INGEST_ID))
    correlation_id = delivery.correlation_id

    def respond(ingest_id: str) -> StoredResponse:
        return StoredResponse(
            status=202,
            body=msgspec.json.encode(
                {"status": "accepted", "ingest_id": ingest_id, "correlation_id": correlation_id}
            ),
        )

    def duplicate(_: str) -> StoredResponse:
        return StoredResponse(
            status=202,
            body=msgspec.json.encode({"status": "duplicate", "correlation_id": correlation_id}),
        )

    return await intake.admit(
        who, delivery, respond, duplicate=duplicate, signature=checked.signature
    )


@post(
    "/v1/ingest/{source:str}",
    status_code=202,
    summary="Ingest an event (key in Authorization: Bearer)",
    name=INGEST_BEARER,
)
async def ingest_bearer(
    request: Request[Any, Any, Any], api: NamedDependency[ApiContext], source: FromPath[str]
) -> Response[bytes]:
    return _answer(await ingest(api, request, source, None))


@post(
    "/v1/ingest/{source:str}/{key:str}",
    status_code=202,
    summary="Ingest an event (key in the path, for senders that cannot set headers)",
    name=INGEST_PATH_KEY,
)
async def ingest_path_key(
    request: Request[Any, Any, Any],
    api: NamedDependency[ApiContext],
    source: FromPath[str],
    key: FromPath[str],
) -> Response[bytes]:
    return _answer(await ingest(api, request, source, key))


@get("/healthz", summary="Liveness")
async def healthz() -> Response[bytes]:
    return Response(content=b'{"status":"ok"}', media_type=_JSON)


@get("/readyz", summary="Readiness: store, queue and limiter reachable")
async def readyz(api: NamedDependency[ApiContext]) -> Response[bytes]:
    checks: dict[str, str] = {}
    for name, probe in api.readiness.items():
        try:
            with anyio.fail_after(_READY_TIMEOUT_S):
                await probe()
            checks[name] = "ok"
        except Exception as error:  # a probe's failure of any kind means "not ready"
            checks[name] = f"failed: {type(error).__name__}: {error}"[:200]
    ready = not api.shutting_down and all(v == "ok" for v in checks.values())
    document = {"status": "ready" if ready else "not ready", "checks": checks}
    return Response(
        content=msgspec.json.encode(document),
        status_code=200 if ready else 503,
        media_type=_JSON,
    )


@get(
    "/metrics",
    summary="Prometheus metrics",
    description="Requests, envelopes by outcome, queue backlog and dead letters, followers' lag.",
)
async def metrics(api: NamedDependency[ApiContext]) -> Response[bytes]:
    if api.health is not None:
        api.metrics.set_health(await api.health())
    return Response(content=api.metrics.render(), media_type=Metrics.CONTENT_TYPE)


ROUTES: Final[tuple[HTTPRouteHandler, ...]] = (
    enqueue,
    enqueue_change,
    ingest_bearer,
    ingest_path_key,
    healthz,
    readyz,
    metrics,
)
"""Every route handler of the ingestion API; each takes the ``api`` dependency it needs."""


def dependencies(ctx: ApiContext) -> dict[str, Provide]:
    """The dependencies ``ROUTES`` take: ``api`` is ``ctx``, the same for every request."""

    def provide_api() -> ApiContext:
        return ctx

    return {"api": Provide(provide_api, use_cache=True, sync_to_thread=False)}


__all__ = [
    "INGEST_BEARER",
    "INGEST_PATH_KEY",
    "PAGERDUTY_ENQUEUE",
    "ROUTES",
    "ApiContext",
    "ApiError",
    "dependencies",
    "ingest",
    "pagerduty_event",
    "read_body",
]
