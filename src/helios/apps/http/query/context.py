"""What every query and command handler needs: services, read models, the caller, and the
HTTP conventions shared by the endpoints (times, cursors, ETags, documented errors)."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Callable
from typing import Any, TypeAlias, TypeVar

import anyio.to_thread
import attrs
import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import SecurityRequirement
from litestar.params import SkipValidation

from helios.apps.application.access import AccessService, Caller, PasswordLogin, TokenAuthenticator
from helios.apps.composition import Services, open_read_models
from helios.apps.http.authorization import bearer
from helios.apps.http.errors import (
    PROBLEM_JSON,
    Forbidden,
    InvalidBody,
    InvalidHeader,
    InvalidQuery,
    Unauthorized,
    Unavailable,
)
from helios.apps.http.query.documents import Problem
from helios.domain.access import Role
from helios.domain.normalize import FieldError
from helios.domain.timestamps import TimestampError, format_rfc3339, parse_rfc3339
from helios.domain.values import Millis
from helios.ports.event_store import StoreUnavailable
from helios.ports.read_models import ReadModels

T = TypeVar("T")


@attrs.define
class QueryContext:
    services: Services
    access: AccessService
    logins: PasswordLogin
    authenticator: TokenAuthenticator
    clock: Callable[[], Millis]
    _db: ReadModels | None = None
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def read_models(self) -> ReadModels:
        """The read-model database, opened on first use.

        Raises:
            StoreUnavailable: the database cannot be reached.
        """
        with self._lock:
            if self._db is None:
                self._db = open_read_models(self.services.settings.effective_read_models_url)
            return self._db

    async def run(self, func: Callable[[], T]) -> T:
        """Run a blocking use case in a worker thread."""
        return await anyio.to_thread.run_sync(func)


Context: TypeAlias = NamedDependency[SkipValidation[QueryContext]]
"""A handler's parameter for the router's ``ctx`` dependency (a service, not data: the
signature model must not try to validate it)."""


# --- authentication and roles ------------------------------------------------------------------

BEARER: SecurityRequirement = {"bearer": []}
"""What the OpenAPI document says every endpoint but login needs (``role_guard`` checks it)."""


def role_guard(ctx: QueryContext) -> Callable[..., Any]:
    """The guard of every query endpoint: a valid token, and a role at least the handler's
    ``opt["role"]`` (endpoints that declare none need an owner: closed by default; only
    ``opt["public"]`` endpoints take no token)."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        if handler.opt.get("public"):
            return
        token = bearer(connection)
        if token is None:
            raise Unauthorized("a token is required (Authorization: Bearer <token>)")
        try:
            caller = await ctx.authenticator.authenticate(token, now_ms=ctx.clock())
        except StoreUnavailable:
            raise Unavailable("cannot check the token now", retry_after_s=5) from None
        if caller is None:
            raise Unauthorized("unknown, expired or revoked token")
        needed: Role = handler.opt.get("role", Role.OWNER)
        if not caller.role.allows(needed):
            raise Forbidden(f"this needs the {needed.value} role; yours is {caller.role.value}")
        connection.scope["state"]["caller"] = caller

    return guard


def current_caller(request: Request[Any, Any, Any]) -> Caller:
    """The caller the guard authenticated (a dependency of every protected handler)."""
    caller: Caller = request.scope["state"]["caller"]
    return caller


# --- times, cursors, bodies --------------------------------------------------------------------


def rfc3339(ms: Millis | None) -> str | None:
    if ms is None or ms <= 0:
        return None
    return format_rfc3339(ms)


def rfc3339_required(ms: Millis) -> str:
    return rfc3339(ms) or "1970-01-01T00:00:00.000Z"


def parse_time(field: str, text: str | None) -> Millis | None:
    """Epoch ms of an RFC 3339 time (a zone is required).

    Raises:
        InvalidBody: the text is not such a time.
    """
    if text is None or text == "":
        return None
    try:
        return parse_rfc3339(text, offset_required=True)
    except TimestampError:
        raise InvalidBody(
            f"{field} is not a time",
            errors=(FieldError(field=field, message="must be an RFC 3339 time with a zone"),),
        ) from None


def query_time(field: str, text: str | None) -> Millis | None:
    """``parse_time`` for a query parameter: the problem names the parameter, not a body.

    Raises:
        InvalidQuery: the text is not an RFC 3339 time with a zone.
    """
    try:
        return parse_time(field, text)
    except InvalidBody as error:
        raise InvalidQuery(f"invalid query parameter {field!r}", errors=error.errors) from None


def encode_cursor(*position: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode("ascii").rstrip("=")


# What a cursor field may hold: what the read-model columns can be compared with (a larger
# integer overflows SQLite's, a NUL cannot be sent to PostgreSQL).
_INT64 = range(-(2**63), 2**63)
_MAX_CURSOR_TEXT = 1024


def decode_cursor(text: str | None, *types: type) -> tuple[Any, ...] | None:
    """The position a cursor stands for.

    Raises:
        InvalidQuery: the cursor was not produced by this API (for this list).
    """
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = msgspec.json.decode(raw)
        if (
            isinstance(values, list)
            and len(values) == len(types)
            and all(_cursor_field(v, t) for v, t in zip(values, types, strict=True))
        ):
            return tuple(values)
    except (ValueError, msgspec.DecodeError):
        pass
    raise InvalidQuery(
        "invalid query parameter 'cursor'",
        errors=(FieldError(field="cursor", message="is not a valid cursor"),),
    )


def _cursor_field(value: object, kind: type) -> bool:
    if type(value) is not kind:
        return False
    if isinstance(value, int):
        return value in _INT64
    return isinstance(value, str) and len(value) <= _MAX_CURSOR_TEXT and "\x00" not in value


def refuse_nul_characters(request: Request[Any, Any, Any]) -> None:
    """Refuse a NUL character in a path segment or a query parameter: PostgreSQL cannot take
    one in text, and no id or value Helios stores holds one.

    Raises:
        InvalidBody: naming the parameter.
    """
    named = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in named:
        if isinstance(value, str) and "\x00" in value:
            raise InvalidBody(
                f"invalid {name}",
                errors=(FieldError(field=name, message="must not contain NUL characters"),),
            )


MAX_IDEMPOTENCY_KEY_CHARS = 255


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    """The request's ``Idempotency-Key`` (an empty one is none).

    Raises:
        InvalidHeader: the key is longer than ``MAX_IDEMPOTENCY_KEY_CHARS``.
    """
    value = request.headers.get("idempotency-key", "")
    if len(value) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidHeader(
            "the Idempotency-Key is too long",
            errors=(
                FieldError(
                    field="Idempotency-Key",
                    message=f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters",
                ),
            ),
        )
    return value or None


def version_etag(version: int) -> str:
    """The strong validator of a resource's version, as ``If-Match`` sends it back."""
    return f'"{version}"'


def if_match_version(request: Request[Any, Any, Any]) -> int | None:
    """The version an ``If-Match`` header names (``"12"``); none when absent or ``*``.

    Raises:
        InvalidHeader: naming ``If-Match``, when it is not one quoted version.
    """
    raw = request.headers.get("if-match", "").strip()
    if not raw or raw == "*":
        return None
    text = raw.removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 19:
        raise InvalidHeader(
            "invalid If-Match",
            errors=(FieldError(field="If-Match", message='must be one version, e.g. "42"'),),
        )
    return int(text)


CACHE_CONTROL = "private, no-cache"
"""Clients may keep a copy but must revalidate it (cheap with If-None-Match)."""


def cached(request: Request[Any, Any, Any], document: Any) -> Response[Any]:
    """``document`` with an ETag; 304 without a body when the client's copy is current."""
    body = msgspec.json.encode(document)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Authorization"}
    match = request.headers.get("if-none-match", "")
    if etag in (tag.strip() for tag in match.split(",")) or match.strip() == "*":
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


CACHE_HEADERS = [
    ResponseHeader(name="ETag", description="Validator for If-None-Match", documentation_only=True),
    ResponseHeader(name="Cache-Control", description=CACHE_CONTROL, documentation_only=True),
]

# --- documented errors -------------------------------------------------------------------------

_ERROR_TEXT = {
    304: "Not modified (If-None-Match matched the ETag)",
    400: "Invalid parameters or body; ``errors`` names each field",
    401: "Missing, unknown, expired or revoked token",
    403: "The caller's role may not do this",
    404: "No such resource in the caller's tenant",
    409: "A request with this Idempotency-Key is still being processed",
    412: "If-Match names a version the resource has left (ETag: the current one)",
    422: "This Idempotency-Key was used for another request",
    429: "Too many failed logins: locked out (Retry-After)",
    503: "A store cannot be reached now (Retry-After)",
}


def errors(*codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem documents an endpoint may answer with."""
    specs: dict[int, ResponseSpec] = {}
    for code in (400, 401, 403, 503, *codes):
        if code == 304:
            specs[code] = ResponseSpec(
                data_container=None, description=_ERROR_TEXT[code], generate_examples=False
            )
            continue
        specs[code] = ResponseSpec(
            data_container=Problem,
            description=_ERROR_TEXT[code],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
    return specs


def public_errors(*codes: int) -> dict[int, ResponseSpec]:
    specs = errors(*codes)
    specs.pop(403, None)
    return specs
