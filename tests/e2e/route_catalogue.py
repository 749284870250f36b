"""Every endpoint of the HTTP app, read from the app itself: its routes (all of them, the
OpenAPI document's own pages included) and, where the OpenAPI document describes an
operation, its query parameters, request body fields and security.

An endpoint added to the app is in the catalogue without editing it; how a suite reaches it
(credentials, path values) is decided from what is read here:

- ``/v1/ingest/…`` and ``/v2/…`` are ingestion endpoints, authenticated by an integration key;
- an operation with a security requirement takes a user's bearer token;
- anything else is public.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

import attrs
from litestar import Litestar
from litestar.routes import HTTPRoute

from helios.adapters.memory.limits import InMemoryIdempotencyStore, InMemoryRateLimiter
from helios.adapters.sqs import MemoryBlobStore
from helios.adapters.store.factory import open_event_store
from helios.apps.composition import Services
from helios.apps.http.app import create_app
from helios.apps.http.errors import PAGERDUTY_HANDLERS
from helios.apps.settings import Settings

Access = Literal["user", "integration", "public"]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_INTEGRATION_PREFIXES = ("/v1/ingest/", "/v2/")
_TYPED_PARAM = re.compile(r"\{(\w+):\w+\}")


@attrs.frozen(kw_only=True)
class QueryParam:
    name: str
    integer: bool


@attrs.frozen(kw_only=True)
class Endpoint:
    """One method on one route."""

    method: str
    path: str
    """The template as the OpenAPI document writes it: ``/v1/alerts/{alert_id}``."""
    path_params: tuple[str, ...]
    query_params: tuple[QueryParam, ...]
    body_example: str
    """A JSON body of the documented shape (``example_of``), or ``""``."""
    takes_body: bool
    access: Access
    pagerduty_errors: bool
    """Errors come in PagerDuty's shape (application/json), not as problem documents."""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def fill(self, values: dict[str, str]) -> str:
        """The path with each parameter replaced by ``values[name]`` (as given: no escaping)."""
        path = self.path
        for name in self.path_params:
            path = path.replace("{" + name + "}", values[name])
        return path


def catalogue_app() -> Litestar:
    """The API app over in-memory services, built only to be read (never served)."""
    settings = Settings(store_url="memory://")
    services = Services(
        settings=settings,
        store=open_event_store("memory://"),
        queue=None,  # type: ignore[arg-type]  # never called: no request is served
        blobs=MemoryBlobStore(),
        limiter=InMemoryRateLimiter(),
        idempotency=InMemoryIdempotencyStore(),
    )
    return create_app(services)


def endpoints(app: Litestar) -> list[Endpoint]:
    """Every method of every HTTP route of ``app`` (OPTIONS and HEAD aside), sorted."""
    document: dict[str, Any] = app.openapi_schema.to_schema()
    found: list[Endpoint] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path = _TYPED_PARAM.sub(r"{\1}", route.path)
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                operation = document.get("paths", {}).get(path, {}).get(method.lower())
                found.append(
                    _endpoint(
                        document, path, method, operation, handler.resolve_exception_handlers()
                    )
                )
    return sorted(found, key=lambda e: (e.path, e.method))


def _endpoint(
    document: dict[str, Any],
    path: str,
    method: str,
    operation: dict[str, Any] | None,
    handlers: Any,
) -> Endpoint:
    operation = operation or {}
    query = tuple(
        QueryParam(name=p["name"], integer=_is_integer(p.get("schema", {})))
        for p in operation.get("parameters", [])
        if p.get("in") == "query"
    )
    body = operation.get("requestBody")
    example = ""
    if body:
        for media in body.get("content", {}).values():
            example = json.dumps(example_of(document, media.get("schema", {})))
    integration = path.startswith(_INTEGRATION_PREFIXES)
    access: Access = (
        "integration" if integration else "user" if operation.get("security") else "public"
    )
    return Endpoint(
        method=method,
        path=path,
        path_params=tuple(re.findall(r"\{(\w+)\}", path)),
        query_params=query,
        body_example=example,
        takes_body=method in BODY_METHODS and (integration or bool(body)),
        access=access,
        pagerduty_errors=handlers.get(Exception) is PAGERDUTY_HANDLERS[Exception],
    )


def _is_integer(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "integer":
        return True
    return any(_is_integer(option) for option in schema.get("oneOf", []))


def example_of(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value of ``schema``: every property present, the first of each choice, strings "x"."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return example_of(document, document["components"]["schemas"][name])
    options = [o for o in schema.get("oneOf", []) if o.get("type") != "null"]
    if options:
        return example_of(document, options[0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: example_of(document, sub) for name, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example_of(document, schema.get("items", {}))]
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return "x"
