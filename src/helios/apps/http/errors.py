"""Every error the API answers with, and the one place that maps errors to HTTP responses.

Handlers raise ``ApiError`` subclasses (or let Litestar raise its own); two renderers turn them
into responses: RFC 9457 ``application/problem+json`` for Helios's own endpoints, and
PagerDuty's shapes for everything under ``/v2/`` (the two PagerDuty endpoints, and any other
path or method there) so a PagerDuty client sees what PagerDuty would send.
Anything unexpected becomes a 500 that is logged with its traceback; a client's mistake never
reaches that path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from helios.apps.application import admission
from helios.domain.errors import CommandRejected
from helios.domain.normalize import FieldError
from helios.ports.event_store import StoreUnavailable

PROBLEM_JSON = "application/problem+json"
_log = structlog.get_logger("helios.api")


class ApiError(Exception):
    """An answer other than success; ``slug`` names the problem type."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(
        self,
        detail: str = "",
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = tuple(errors)
        self.headers = dict(headers or {})


class InvalidBody(ApiError):
    status = 400
    slug = "invalid-body"
    title = "The request body is malformed"


class InvalidHeader(ApiError):
    status = 400
    slug = "invalid-header"
    title = "A request header is invalid"


class InvalidQuery(InvalidBody):
    """A query parameter is wrong (a GET has no body to blame); ``errors`` name the parameter."""

    slug = "invalid-query"
    title = "A query parameter is invalid"


class Unauthorized(ApiError):
    status = 401
    slug = "unauthorized"
    title = "Missing or invalid credentials"

    def __init__(self, detail: str = "", *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(
            detail, errors=errors, headers={"WWW-Authenticate": 'Bearer realm="helios"'}
        )


class Forbidden(ApiError):
    status = 403
    slug = "forbidden"
    title = "These credentials may not send this request"


class KeyOfAnotherKind(Forbidden):
    """A valid key whose integration does not send this format; ``reason`` (a phrase that
    follows "this key") says which kind it is and where it works."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"this key {reason}")
        self.reason = reason


class NotFound(ApiError):
    status = 404
    slug = "not-found"
    title = "No such resource"


class PayloadTooLarge(ApiError):
    status = 413
    slug = "payload-too-large"
    title = "The request body is too large"


class UnsupportedEncoding(ApiError):
    status = 415
    slug = "unsupported-encoding"
    title = "The request body's encoding is not supported"

    def __init__(self, detail: str = "", *, errors: Sequence[FieldError] = ()) -> None:
        # RFC 7694: say which content codings are accepted.
        super().__init__(detail, errors=errors, headers={"Accept-Encoding": "identity"})


class RequestTimeout(ApiError):
    status = 408
    slug = "request-timeout"
    title = "The request body did not arrive in time"

    def __init__(self, detail: str = "") -> None:
        # The rest of the body may still arrive: the connection cannot carry another request.
        super().__init__(detail, headers={"Connection": "close"})


class RequestInFlight(ApiError):
    status = 409
    slug = "request-in-flight"
    title = "A request with this Idempotency-Key is being processed"


class IdempotencyKeyReused(ApiError):
    status = 422
    slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used with a different body"


class PreconditionFailed(ApiError):
    """``If-Match`` named a version the resource has left; ``ETag`` carries the current one."""

    status = 412
    slug = "precondition-failed"
    title = "The resource changed since the version the request names"

    def __init__(self, detail: str, *, etag: str) -> None:
        super().__init__(detail, headers={"ETag": etag})


class _RetryLater(ApiError):
    def __init__(self, detail: str = "", *, retry_after_s: int) -> None:
        self.retry_after_s = max(1, retry_after_s)
        super().__init__(detail, headers={"Retry-After": str(self.retry_after_s)})


class RateLimited(_RetryLater):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class Unavailable(_RetryLater):
    status = 503
    slug = "unavailable"
    title = "Temporarily unable to accept events"


# --- renderers ---------------------------------------------------------------------------------


def problem_response(error: ApiError, request_id: str = "") -> Response[bytes]:
    """An RFC 9457 problem document for ``error``."""
    document: dict[str, object] = {
        "type": f"urn:helios:problem:{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if error.errors:
        document["errors"] = [{"field": e.field, "message": e.message} for e in error.errors]
    if request_id:
        document["request_id"] = request_id
    return Response(
        content=msgspec.json.encode(document),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )


_PD_STATUS = {400: "invalid event", 413: "invalid event", 429: "throttle event"}
_PD_MESSAGE = {
    400: "Event object is invalid",
    413: "Event object is too large",
    429: "Requests for this service are arriving too quickly. Please retry later.",
}


def pagerduty_response(error: ApiError) -> Response[bytes]:
    """``error`` in the shape PagerDuty's Events API v2 answers with."""
    document: dict[str, object] = {
        "status": _PD_STATUS.get(error.status, error.slug.replace("-", " ")),
        "message": _PD_MESSAGE.get(error.status, error.detail),
    }
    if error.status in (400, 413):
        document["errors"] = [pagerduty_error_text(e) for e in error.errors] or [error.detail]
    return Response(
        content=msgspec.json.encode(document),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def pagerduty_error_text(error: FieldError) -> str:
    """A field error phrased like PagerDuty's (``'payload.summary' is missing or blank``)."""
    return f"'{error.field}' {error.message}"


def as_api_error(error: Exception) -> ApiError:
    """Any exception as the ``ApiError`` it is answered with."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, admission.Refused):
        return _refusal(error)
    if isinstance(error, CommandRejected):
        problems = [FieldError(field=field, message=message) for field, message in error.problems]
        return InvalidBody(error.message, errors=problems)
    if isinstance(error, StoreUnavailable):
        return Unavailable("the store cannot be reached now", retry_after_s=5)
    if isinstance(error, ValidationException):
        extra = [
            i for i in (error.extra if isinstance(error.extra, list) else []) if isinstance(i, dict)
        ]
        problems = [
            FieldError(field=str(item.get("key", "")), message=str(item.get("message", "")))
            for item in extra
        ]
        if extra and all(_source(item) == "query" for item in extra):
            names = ", ".join(repr(p.field) for p in problems)
            return InvalidQuery(f"invalid query parameter {names}", errors=problems)
        return InvalidBody(str(error.detail), errors=problems)
    if isinstance(error, HTTPException):
        mapped = _FRAMEWORK.get(error.status_code)
        if mapped is not None:
            return mapped()
        generic = ApiError(str(error.detail))
        generic.status = error.status_code
        generic.slug = "http-error"
        generic.title = str(error.detail)
        return generic
    _log.error("unhandled error", exc_info=error)
    return ApiError()


def _refusal(error: admission.Refused) -> ApiError:
    """An ingestion request the admission refused, as the API answers it."""
    match error:
        case admission.KeyOfAnotherKind(reason=reason):
            return KeyOfAnotherKind(reason)
        case admission.NotAuthenticated():
            return Unauthorized(error.detail)
        case admission.OtherTenantsKey():
            return Forbidden(error.detail)
        case admission.RateExceeded(retry_after_s=retry_after_s):
            return RateLimited(error.detail, retry_after_s=retry_after_s)
        case admission.IdempotencyKeyReused():
            return IdempotencyKeyReused(error.detail)
        case admission.RequestInFlight():
            return RequestInFlight(error.detail)
        case admission.CannotAdmitNow(retry_after_s=retry_after_s):
            return Unavailable(error.detail, retry_after_s=retry_after_s)
    _log.error("unmapped refusal", exc_info=error)
    return ApiError()


def _source(item: Mapping[str, Any]) -> str:
    """Where Litestar found a parameter that failed validation (``query``, ``path`` …)."""
    source = item.get("source")
    return str(getattr(source, "value", source))


class _MethodNotAllowed(ApiError):
    status = 405
    slug = "method-not-allowed"
    title = "This method is not allowed here"


_FRAMEWORK: dict[int, type[ApiError]] = {
    400: InvalidBody,
    404: NotFound,
    405: _MethodNotAllowed,
    413: PayloadTooLarge,
}


def _request_id(request: Request[Any, Any, Any]) -> str:
    state = request.scope.get("state") or {}
    return str(state.get("request_id", "")) if isinstance(state, dict) else ""


def _problem_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    if _is_pagerduty_path(request.scope.get("path", "")):
        # No route matched (404) or not this method (405) under PagerDuty's prefix: a
        # PagerDuty client reads PagerDuty's shape, whatever path it was pointed at.
        return pagerduty_response(as_api_error(error))
    return problem_response(as_api_error(error), _request_id(request))


def _is_pagerduty_path(path: str) -> bool:
    return path == "/v2" or path.startswith("/v2/")


def _pagerduty_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    return pagerduty_response(as_api_error(error))


PROBLEM_HANDLERS: ExceptionHandlersMap = {Exception: _problem_handler}
"""Exception handlers of the app: every error as a problem document."""

PAGERDUTY_HANDLERS: ExceptionHandlersMap = {Exception: _pagerduty_handler}
"""Exception handlers of the PagerDuty route: every error in PagerDuty's shape."""
