"""Hostile input against every endpoint of the running app: each class of abuse, on each
route it can reach, with the credentials that let it reach validation and without any.

The endpoints come from the app itself (``route_catalogue``): a route added later is probed
without editing this suite. Test ids read ``<METHOD> <path> <case> <credentials>``.

An answer must never be a 5xx, and a 4xx must be a problem document (PagerDuty's own error
shape on the endpoints that speak it). A probe is either *refused* (it must get a 4xx) or
*tolerated* (hostile input an endpoint may legitimately ignore or accept: an unknown query
parameter, free text that matches nothing, a NUL deep inside an event it stores as data); a
replayed SNS message may also be answered as the duplicate it is.
Nothing of tenant A may reach tenant B. After each test the server must still be healthy:
``/healthz`` answers 200 and a valid request is served; the last test checks that an event
is still ingested and projected after everything the API let through.

Requests go over plain sockets (``raw_http``): what is sent is exactly what a hostile client
would send — raw bytes, lying lengths, NUL bytes in headers.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Literal

import attrs
import pytest
from raw_http import NoAnswer, PendingRequest, RawResponse, exchange, request_bytes
from route_catalogue import Endpoint, catalogue_app, endpoints
from test_ingest_api import CERT_URL, TOPIC, Ca, make_ca, payload
from test_query_api import World, am_alert, seed_alerts, start_world

from helios.apps.application.tenancy import Issued, TenancyService
from helios.apps.composition import Services
from helios.apps.http import signatures
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.http.sns import SnsVerifier
from helios.domain.access import Role
from helios.domain.values import SourceKind
from helios.ports.event_store import EventStore
from helios.ports.secrets import SecretVault

Credentials = Literal["authed", "anonymous", "public"]
Expect = Literal["refused", "tolerated", "duplicate"] | int

ENDPOINTS = endpoints(catalogue_app())
BIG = 2**63
HUGE_NUMBERS = (str(BIG), str(2**64), "1" + "0" * 400, str(-BIG - 1))
DEPTH = 1000
ANSWER_S = 6.0
"""How long a client waits for an answer (a lying body's included)."""
API_CONFIG = attrs.evolve(
    ApiConfig(),
    # Thousands of requests in seconds from one integration: limits are not the point here.
    rate_per_integration=1e6,
    burst_per_integration=10**6,
    rate_per_tenant=1e6,
    burst_per_tenant=10**6,
    key_miss_refresh_s=1e-9,
    # A body that never comes is given up well within ANSWER_S, whatever the default.
    **{f.name: 1.0 for f in attrs.fields(ApiConfig) if "timeout" in f.name},
)
INGEST_KINDS = (
    SourceKind.ALERTMANAGER,
    SourceKind.GENERIC,
    SourceKind.CLOUDWATCH,
    SourceKind.PAGERDUTY,
)
KNOWN_SOURCE = SourceKind.ALERTMANAGER
CREDENTIAL_FIELDS = frozenset({"routing_key"})
FIELD_EXAMPLES = {
    "ends_at": "2099-01-01T00:00:00Z",
    "starts_at": "2098-01-01T00:00:00Z",
    "email": "probe@beta.example",
}
"""Values that make a documented body valid where ``example_of``'s "x" would not."""
PAGERDUTY_BODIES = {
    "/v2/enqueue": "pagerduty_v2_trigger.json",
    "/v2/change/enqueue": "pagerduty_v2_change.json",
}
"""PagerDuty's endpoints document no body: PagerDuty's own examples stand in."""


@attrs.frozen
class Probe:
    what: str
    request: bytes
    expect: Expect = "refused"
    pending: tuple[PendingRequest, float] | None = None
    """Already sent: the connection and the time by which it must have been answered."""


# --- the running app and what it knows ---------------------------------------------------------


@attrs.define
class Hostile:
    """A running Helios with two tenants: A (index 0) owns data, B (index 1) probes."""

    world: World
    address: tuple[str, int]
    keys: list[dict[SourceKind, Issued]]
    ca: Ca
    a_ids: dict[str, str]
    b_ids: dict[str, str]
    a_cursors: dict[str, str]
    b_token: str = ""
    lying: dict[tuple[str, str], tuple[PendingRequest, float]] = attrs.Factory(dict)
    lying_sent: bool = False

    def send(self, data: bytes) -> RawResponse:
        return exchange(self.address, data, timeout=ANSWER_S)

    def raw(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes = b"",
        content_length: int | None = None,
    ) -> bytes:
        host = f"{self.address[0]}:{self.address[1]}"
        return request_bytes(
            method,
            target.encode("latin-1"),
            host=host,
            headers=headers,
            body=body,
            content_length=content_length,
        )

    def probe(
        self,
        e: Endpoint,
        creds: Credentials,
        what: str,
        *,
        body: bytes | None = None,
        expect: Expect = "refused",
        query: str = "",
        path: dict[str, str] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
        content_length: int | None = None,
        content_type: bytes = b"application/json",
        source: SourceKind = KNOWN_SOURCE,
        tenant: int = 1,
    ) -> Probe:
        """``e`` called with ``creds`` and its own path values and body, but for the changes."""
        values = {**self.path_values(e, creds, source=source, tenant=tenant), **(path or {})}
        sent = self.auth_headers(e, creds, source=source, tenant=tenant)
        if e.takes_body:
            sent.append((b"Content-Type", content_type))
        sent += headers or []
        data = self.raw(
            e.method,
            e.fill(values) + (f"?{query}" if query else ""),
            sent,
            self.body(e, creds) if body is None else body,
            content_length,
        )
        return Probe(what=what, request=data, expect=expect)

    def path_values(
        self, e: Endpoint, creds: Credentials, *, source: SourceKind, tenant: int
    ) -> dict[str, str]:
        """The tenant's own ids; the source and its key; "x" for what is not known here."""
        ids = self.a_ids if tenant == 0 else self.b_ids
        values = {}
        for name in e.path_params:
            if name == "source":
                values[name] = source.value
            elif name == "key":
                values[name] = (
                    self.keys[tenant][source].routing_key if creds == "authed" else "0" * 32
                )
            else:
                values[name] = ids.get(name, "x")
        return values

    def auth_headers(
        self, e: Endpoint, creds: Credentials, *, source: SourceKind, tenant: int
    ) -> list[tuple[bytes, bytes]]:
        """B's owner token for a user's endpoint; the source's key where it is a header."""
        if creds != "authed":
            return []
        if e.access == "user":
            return [(b"Authorization", f"Bearer {self.user_token()}".encode())]
        if "source" in e.path_params and "key" not in e.path_params:
            key = self.keys[tenant][source].routing_key
            return [(b"Authorization", f"Bearer {key}".encode())]
        return []

    def template(self, e: Endpoint, creds: Credentials) -> dict[str, Any]:
        """A valid body for ``e``, to put hostile values into."""
        if e.pagerduty_errors:
            example = PAGERDUTY_BODIES.get(e.path, "pagerduty_v2_trigger.json")
            event: dict[str, Any] = json.loads(payload(example))
            key = self.keys[1][SourceKind.PAGERDUTY].routing_key if creds == "authed" else "0" * 32
            event["routing_key"] = key
            if "event_action" in event:
                event["dedup_key"] = f"probe-{uuid.uuid4().hex}"
            return event
        if e.access == "integration":
            return {
                "version": "4",
                "status": "firing",
                "receiver": "helios",
                "alerts": [am_alert("Probe", "probe", "warning", instance="p-1")],
            }
        example = json.loads(e.body_example or "{}")
        return {name: FIELD_EXAMPLES.get(name, value) for name, value in example.items()}

    def body(self, e: Endpoint, creds: Credentials) -> bytes:
        return json.dumps(self.template(e, creds)).encode() if e.takes_body else b""

    def user_token(self) -> str:
        """An owner's token of tenant B, made anew whenever a probe used it up (logout)."""
        if self.b_token:
            me = self.world.http.get("/v1/me", headers={"Authorization": f"Bearer {self.b_token}"})
            if me.status_code == 200:
                return self.b_token
        made = self.world.post("/v1/me/tokens", role=Role.OWNER, tenant=1, json={"name": "probe"})
        assert made.status_code == 201, made.text
        self.b_token = made.json()["token"]
        return self.b_token

    def leaks(self) -> dict[str, str]:
        """What of tenant A must never reach B, or nobody."""
        return {
            "tenant A's id": self.world.tenants[0].tenant_id,
            "tenant A's users": "alpha.example",
            "tenant A's alert names": "DiskFull",
            **{f"tenant A's {name}": value for name, value in self.a_ids.items()},
        }


def _seed_integrations(keys: list[dict[SourceKind, Issued]]) -> Callable[..., None]:
    def seed(store: EventStore, tenants: list[Any], secrets: SecretVault) -> None:
        tenancy = TenancyService(store, secrets=secrets)
        for tenant in tenants:
            made = {
                kind: tenancy.create_integration(
                    tenant_id=tenant.tenant_id,
                    kind=kind,
                    allowed_topics=[TOPIC] if kind is SourceKind.CLOUDWATCH else (),
                )
                for kind in INGEST_KINDS
            }
            keys.append(made)

    return seed


@pytest.fixture(scope="module")
def hostile(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hostile]:
    ca = make_ca()

    async def fetch(url: str) -> bytes:
        if url != CERT_URL:
            raise OSError("no such certificate")
        return ca.leaf_pem

    def app(services: Services) -> Any:
        sns = SnsVerifier(fetch=fetch, trust=[ca.ca_cert])
        return create_app(services, config=API_CONFIG, sns=sns)

    keys: list[dict[SourceKind, Issued]] = []
    made = start_world(
        postgres_url,
        redis_session_url,
        tmp_path_factory.mktemp("hostile"),
        app=app,
        seed=_seed_integrations(keys),
    )
    world = next(made)
    seed_alerts(world)
    host, port = world.base.removeprefix("http://").split(":")
    running = Hostile(
        world=world,
        address=(host, int(port)),
        keys=keys,
        ca=ca,
        a_ids=_own_ids(world, 0),
        b_ids=_own_ids(world, 1),
        a_cursors=_cursors(world, 0),
    )
    yield running
    for pending, _ in running.lying.values():
        pending.close()
    next(made, None)


def _own_ids(world: World, tenant: int) -> dict[str, str]:
    """An id of each kind of resource of a tenant (a silence and a token made for this)."""
    silence = world.post(
        "/v1/silences",
        tenant=tenant,
        json={
            "matchers": [{"name": "service", "op": "=", "value": f"hostile-{tenant}"}],
            "ends_at": "2099-01-01T00:00:00Z",
        },
    )
    token = world.post("/v1/me/tokens", role=Role.OWNER, tenant=tenant, json={"name": "victim"})
    assert silence.status_code == token.status_code == 201, (silence.text, token.text)
    return {
        "alert_id": world.alerts(tenant)[0]["id"],
        "incident_id": world.get("/v1/incidents", tenant=tenant).json()["items"][0]["id"],
        "silence_id": silence.json()["id"],
        "token_id": token.json()["id"],
    }


def _cursors(world: World, tenant: int) -> dict[str, str]:
    """A next-page cursor of each paged list of a tenant."""
    found = {}
    for path in ("/v1/alerts", "/v1/incidents", "/v1/activity"):
        page = world.get(path, tenant=tenant, params={"limit": 1}).json()
        assert page["next_cursor"], (path, page)
        found[path] = page["next_cursor"]
    return found


# --- hostile values ----------------------------------------------------------------------------


def every_field(document: dict[str, Any], raw_json: str) -> bytes:
    """``document`` with each top-level field but credentials set to ``raw_json``."""
    parts = [
        f"{json.dumps(name)}:{json.dumps(value) if name in CREDENTIAL_FIELDS else raw_json}"
        for name, value in document.items()
    ]
    return ("{" + ",".join(parts) + "}").encode()


def string_leaves(value: Any, path: str = "") -> Iterator[str]:
    """The JSON paths (``a.b[0].c``) of every string in ``value``."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from string_leaves(item, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_leaves(item, f"{path}[{index}]")


def replaced(value: Any, path: str, new: Any) -> Any:
    """``value`` with the string at ``path`` replaced by ``new`` (everything else shared)."""
    return _replace(value, "", path, new)


def _replace(value: Any, here: str, path: str, new: Any) -> Any:
    if here == path:
        return new
    if isinstance(value, dict):
        return {k: _replace(v, f"{here}.{k}" if here else k, path, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, f"{here}[{i}]", path, new) for i, v in enumerate(value)]
    return value


def cursor_of(*raw_json: str) -> str:
    return base64.urlsafe_b64encode(f"[{','.join(raw_json)}]".encode()).decode().rstrip("=")


def escaped(raw: bytes) -> str:
    return "".join(f"%{byte:02X}" for byte in raw)


def ignorable(creds: Credentials) -> Expect:
    """Tolerated with credentials; without them, refused (401) before anything else."""
    return "refused" if creds == "anonymous" else "tolerated"


def status_or_refused(creds: Credentials, status: int) -> Expect:
    return "refused" if creds == "anonymous" else status


INVALID_UTF8 = (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80")
HEADERS = (b"x-request-id", b"x-correlation-id", b"idempotency-key", b"x-helios-tenant")
UNDECLARED = ("limit", "cursor", "page", "q")


# --- the cases ---------------------------------------------------------------------------------

Probes = Iterator[Probe]


def deep_nesting(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    arrays = "[" * DEPTH + "]" * DEPTH
    yield h.probe(e, creds, f"{DEPTH} nested arrays", body=arrays.encode())
    objects = '{"a":' * DEPTH + "1" + "}" * DEPTH
    yield h.probe(e, creds, f"{DEPTH} nested objects", body=objects.encode())
    inside = every_field(h.template(e, creds), arrays)
    yield h.probe(e, creds, "nested arrays in every field", body=inside)
    deeper = "[" * (DEPTH * 5) + "]" * (DEPTH * 5)
    yield h.probe(e, creds, f"{DEPTH * 5} nested arrays", body=deeper.encode())


def huge_int_body(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    document = h.template(e, creds)
    for number in HUGE_NUMBERS:
        short = number[:20]
        yield h.probe(e, creds, f"body {short}", body=number.encode())
        yield h.probe(e, creds, f"{short} in every field", body=every_field(document, number))
        if number not in (str(BIG), HUGE_NUMBERS[2]):
            continue
        for leaf in string_leaves(document):
            if leaf in CREDENTIAL_FIELDS:
                continue
            body = json.dumps(replaced(document, leaf, BIG)).replace(str(BIG), number).encode()
            yield h.probe(e, creds, f"{short} at {leaf}", body=body, expect=leaf_expect(e, creds))


def leaf_expect(e: Endpoint, creds: Credentials) -> Expect:
    """A hostile value in one field: an event is stored as sent (a value the source's checks
    do not look at is data, which the worker and projections must cope with); a documented
    body is refused."""
    return ignorable(creds) if e.access == "integration" else "refused"


def huge_int_query(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    if not e.query_params:
        # Undeclared parameters are ignored: one request holds every number.
        query = "&".join(f"{name}={n}" for name, n in zip(UNDECLARED, HUGE_NUMBERS, strict=True))
        yield h.probe(e, creds, "undeclared parameters", query=query, expect=ignorable(creds))
    for number in HUGE_NUMBERS:
        for param in e.query_params:
            # An integer has a range; a text filter may legitimately match nothing.
            ranged = param.integer or param.name == "cursor"
            expect = "refused" if ranged else ignorable(creds)
            query = f"{param.name}={number}"
            yield h.probe(e, creds, f"?{param.name}={number[:20]}", query=query, expect=expect)


def huge_int_path(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    for name in e.path_params:
        for number in HUGE_NUMBERS:
            yield h.probe(e, creds, f"{{{name}}}={number[:20]}", path={name: number})


def huge_int_cursor(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    for number in HUGE_NUMBERS:
        for cursor in (cursor_of(number, '"zzz"'), cursor_of(number), cursor_of('"z"', number)):
            yield h.probe(e, creds, f"cursor with {number[:20]}", query=f"cursor={cursor}")


def invalid_utf8_body(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    document = h.template(e, creds)
    for bad in INVALID_UTF8:
        yield h.probe(e, creds, f"body {bad!r}", body=bad)
        marker = f"probe-{uuid.uuid4().hex}"
        for leaf in [*string_leaves(document)][:8]:
            if leaf not in CREDENTIAL_FIELDS:
                text = json.dumps(replaced(document, leaf, marker)).encode()
                body = text.replace(marker.encode(), bad)
                yield h.probe(e, creds, f"{bad!r} at {leaf}", body=body)


def invalid_utf8_query(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    if not e.query_params:
        query = "&".join(f"{n}={escaped(b)}" for n, b in zip(UNDECLARED, INVALID_UTF8, strict=True))
        yield h.probe(e, creds, "undeclared parameters", query=query, expect=ignorable(creds))
    for bad in INVALID_UTF8 if e.query_params else ():
        query = "&".join(f"{p.name}={escaped(bad)}" for p in e.query_params)
        what = f"every query parameter {bad!r}"
        yield h.probe(e, creds, what, query=query, expect=ignorable(creds))


def invalid_utf8_path(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    for name in e.path_params:
        for bad in INVALID_UTF8:
            yield h.probe(e, creds, f"{{{name}}}={bad!r} escaped", path={name: escaped(bad)})
            yield h.probe(e, creds, f"{{{name}}}={bad!r} raw", path={name: bad.decode("latin-1")})


def invalid_utf8_header(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    headers = [(name, b"v" + bad) for name, bad in zip(HEADERS, INVALID_UTF8, strict=True)]
    if creds != "authed":
        headers.append((b"Authorization", b"Bearer " + b"".join(INVALID_UTF8)))
    # With credentials, a hostile X-Helios-Tenant claims another tenant: ingestion refuses.
    claims = e.access == "integration" and "source" in e.path_params
    expect = "refused" if claims else ignorable(creds)
    yield h.probe(e, creds, "a different invalid sequence in each", headers=headers, expect=expect)


def nul_body(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    document = h.template(e, creds)
    yield h.probe(e, creds, "raw NUL in every field", body=every_field(document, '"a\x00b"'))
    yield h.probe(e, creds, "NUL bytes only", body=b"\x00" * 64)
    for leaf in string_leaves(document):
        if leaf in CREDENTIAL_FIELDS:
            continue
        body = json.dumps(replaced(document, leaf, "a\x00b")).encode()
        yield h.probe(e, creds, f"NUL at {leaf}", body=body, expect=leaf_expect(e, creds))


def nul_query(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    for name in [p.name for p in e.query_params] or ["q"]:
        query = f"{name}=a%00b"
        yield h.probe(e, creds, f"?{query}", query=query, expect=_nul_expect(e, creds))


def _nul_expect(e: Endpoint, creds: Credentials) -> Expect:
    # No parameter of this API may hold a NUL; an undeclared one is ignored.
    return "refused" if e.query_params else ignorable(creds)


def nul_path(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    for name in e.path_params:
        yield h.probe(e, creds, f"{{{name}}}=a%00b", path={name: "a%00b"})
        yield h.probe(e, creds, f"{{{name}}} with a raw NUL", path={name: "a\x00b"})


def nul_header(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    for name in (*HEADERS, b"authorization"):
        value = b"Bearer a\x00b" if name == b"authorization" else b"a\x00b"
        yield h.probe(e, creds, f"{name.decode()} with NUL", headers=[(name, value)])


def oversized_body(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    limit = API_CONFIG.max_body_bytes
    big = b"[" + b"0," * (limit // 2) + b"0]"
    expect = status_or_refused(creds, 413)
    yield h.probe(e, creds, "declared and sent", body=big, expect=expect)
    yield h.probe(e, creds, "declared 2^63 bytes", body=b"", content_length=BIG, expect=expect)
    chunk = b"y" * 65536
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // 65536 + 2))
    chunked = [(b"Transfer-Encoding", b"chunked")]
    body = chunks + b"0\r\n\r\n"
    yield h.probe(e, creds, "chunked, counted", headers=chunked, body=body, expect=expect)


def lying_length_short(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    """Content-Length 100 bytes more than is sent: the server must stop waiting, and say so."""
    if not h.lying_sent:
        # All such requests are sent at once: the server's patience runs out concurrently.
        h.lying_sent = True
        for other, other_creds in LYING:
            body = h.body(other, other_creds)
            probe = h.probe(other, other_creds, "", body=body, content_length=len(body) + 100)
            pending = PendingRequest(h.address, probe.request)
            h.lying[(str(other), other_creds)] = (pending, time.monotonic() + ANSWER_S)
    pending = h.lying.pop((str(e), creds))
    yield Probe(what="Content-Length 100 bytes more than sent", request=b"", pending=pending)


def lying_length_long(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    body = h.body(e, creds)
    yield h.probe(e, creds, "Content-Length half the body", content_length=len(body) // 2)


def content_type(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    text = json.dumps(h.template(e, creds))
    multipart = b'--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--zz--\r\n'
    for kind, body in (
        (b"application/xml", b"<alert><status>firing</status></alert>"),
        (b"application/x-www-form-urlencoded", b"status=firing&alerts=1"),
        (b"multipart/form-data; boundary=zz", multipart),
        (b"multipart/form-data; boundary=", b"--\r\n"),
        (b"application/json; charset=utf-16", text.encode("utf-16")),
        (b"\xff\xfe/\x01", b"\x00"),
    ):
        yield h.probe(e, creds, f"Content-Type {kind!r}", content_type=kind, body=body)
    plain = b"text/plain"
    yield h.probe(e, creds, "JSON as text/plain", content_type=plain, expect=ignorable(creds))


def content_encoding(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    plain = h.body(e, creds)
    for name, body in (
        (b"gzip", gzip.compress(plain)),
        (b"deflate", zlib.compress(plain)),
        (b"br", b"\x8b\x02\x80" + plain),
        (b"gzip, gzip", gzip.compress(gzip.compress(plain))),
    ):
        headers = [(b"Content-Encoding", name)]
        expect = status_or_refused(creds, 415)
        what = f"Content-Encoding {name.decode()}"
        yield h.probe(e, creds, what, headers=headers, body=body, expect=expect)


def _sns_message(**changes: str) -> dict[str, str]:
    message: dict[str, str] = json.loads(payload("sns_cloudwatch_notification.json"))
    for field in ("Signature", "SigningCertURL", "SignatureVersion"):
        message.pop(field)
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {**message, "MessageId": str(uuid.uuid4()), "Timestamp": now, **changes}


def forged_signature(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    secret = h.keys[1][SourceKind.GENERIC].signing_secret
    now = int(time.time())
    event = {"action": "trigger", "summary": f"forged {uuid.uuid4()}", "dedup_key": "forged"}
    body = json.dumps(event).encode()
    good = signatures.sign(secret, now, body).encode()
    for what, header in (
        ("no signature", None),
        ("wrong secret", signatures.signature_header("whsec_not-it", now, body).encode()),
        ("another body's", f"t={now},v1={signatures.sign(secret, now, b'{}')}".encode()),
        ("a day old", signatures.signature_header(secret, now - 86400, body).encode()),
        ("t=2^64", f"t={2**64},v1=".encode() + good),
        ("t=10^400", b"t=1" + b"0" * 400 + b",v1=" + good),
        ("t=NaN", b"t=NaN,v1=" + good),
        ("non-ASCII v1", f"t={now},v1=".encode() + "é".encode() + good[2:]),
        ("latin-1 v1", f"t={now},v1=".encode() + b"\xe9" + good[1:]),
        ("garbage", b"\xff" * 40),
    ):
        signed = [] if header is None else [(b"X-Helios-Signature", header)]
        yield h.probe(
            e, creds, f"generic: {what}", body=body, headers=signed, source=SourceKind.GENERIC
        )
    good_sns = h.ca.sign(_sns_message())
    for what, message in (
        ("tampered Message", {**good_sns, "Message": good_sns["Message"].replace("A", "B")}),
        ("certificate elsewhere", {**good_sns, "SigningCertURL": "https://evil.example/x.pem"}),
        ("certificate over http", {**good_sns, "SigningCertURL": "http" + CERT_URL[5:]}),
        ("signed by another key", make_ca().sign(_sns_message())),
        ("SignatureVersion 3", {**good_sns, "SignatureVersion": "3"}),
        ("Signature not base64", {**good_sns, "Signature": "%%%"}),
        ("topic not allowed", h.ca.sign(_sns_message(TopicArn=TOPIC + "-other"))),
    ):
        body = json.dumps(message).encode()
        yield h.probe(e, creds, f"SNS: {what}", body=body, source=SourceKind.CLOUDWATCH)


def replayed_signature(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    secret = h.keys[1][SourceKind.GENERIC].signing_secret
    event = {"action": "trigger", "summary": f"once {uuid.uuid4()}", "dedup_key": "replayed"}
    body = json.dumps(event).encode()
    header = signatures.signature_header(secret, int(time.time()), body).encode()
    once = h.probe(
        e, creds, "generic: the same signed request again", body=body,
        headers=[(b"X-Helios-Signature", header)], source=SourceKind.GENERIC,
    )  # fmt: skip
    if creds == "authed":
        first = h.send(once.request)
        assert first.status == 202, first.text
    yield once

    def sns(body: bytes, what: str) -> Probe:
        return h.probe(e, creds, what, body=body, source=SourceKind.CLOUDWATCH)

    old = json.dumps(h.ca.sign(_sns_message(Timestamp="2024-03-14T09:22:10.512Z"))).encode()
    yield sns(old, "SNS: a signed message of 2024")
    message = h.ca.sign(_sns_message())
    if creds == "authed":
        first = h.send(sns(json.dumps(message).encode(), "").request)
        assert first.status == 202, first.text
    resent = json.dumps({**message, "Padding": "not signed"}).encode()
    probe = sns(resent, "SNS: the same message, one unsigned field more")
    yield attrs.evolve(probe, expect="duplicate" if creds == "authed" else "refused")


def cross_tenant_ids(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    if e.access == "integration":
        # Tenant A's key, claiming to speak for tenant B.
        claim = [(b"X-Helios-Tenant", h.world.tenants[1].tenant_id.encode())]
        yield h.probe(e, creds, "A's key claiming B", headers=claim, tenant=0, expect=403)
        return
    theirs = {name: h.a_ids[name] for name in e.path_params if name in h.a_ids}
    yield h.probe(e, creds, "A's ids with B's token", path=theirs, expect=404)


def cross_tenant_cursor(h: Hostile, e: Endpoint, creds: Credentials) -> Probes:
    for origin, cursor in h.a_cursors.items():
        # A cursor is a position, not a capability: B gets B's page after it, or a 400.
        what = f"A's cursor of {origin}"
        yield h.probe(e, creds, what, query=f"cursor={cursor}", expect="tolerated")


@attrs.frozen
class Case:
    name: str
    probes: Callable[[Hostile, Endpoint, Credentials], Probes]
    applies: Callable[[Endpoint, Credentials], bool] = lambda e, c: True


def _body(e: Endpoint, c: Credentials) -> bool:
    return e.takes_body


def _path(e: Endpoint, c: Credentials) -> bool:
    return bool(e.path_params)


def _signed(e: Endpoint, c: Credentials) -> bool:
    return e.access == "integration" and "source" in e.path_params


def _paged(e: Endpoint, c: Credentials) -> bool:
    return any(p.name == "cursor" for p in e.query_params)


def _owned(e: Endpoint, c: Credentials) -> bool:
    ids = {"alert_id", "incident_id", "silence_id", "token_id"}
    return c == "authed" and (bool(ids & set(e.path_params)) or _signed(e, c))


CASES = (
    Case("deep-nesting", deep_nesting, _body),
    Case("huge-int-body", huge_int_body, _body),
    Case("huge-int-query", huge_int_query),
    Case("huge-int-path", huge_int_path, _path),
    Case("huge-int-cursor", huge_int_cursor, _paged),
    Case("invalid-utf8-body", invalid_utf8_body, _body),
    Case("invalid-utf8-query", invalid_utf8_query),
    Case("invalid-utf8-path", invalid_utf8_path, _path),
    Case("invalid-utf8-header", invalid_utf8_header),
    Case("nul-body", nul_body, _body),
    Case("nul-query", nul_query),
    Case("nul-path", nul_path, _path),
    Case("nul-header", nul_header),
    Case("oversized-body", oversized_body, _body),
    Case("lying-length-short", lying_length_short, _body),
    Case("lying-length-long", lying_length_long, _body),
    Case("content-type", content_type, _body),
    Case("content-encoding", content_encoding, _body),
    Case("forged-signature", forged_signature, _signed),
    Case("replayed-signature", replayed_signature, _signed),
    Case("cross-tenant-ids", cross_tenant_ids, _owned),
    Case("cross-tenant-cursor", cross_tenant_cursor, lambda e, c: c == "authed" and _paged(e, c)),
)


def _credentials(e: Endpoint) -> tuple[Credentials, ...]:
    return ("public",) if e.access == "public" else ("authed", "anonymous")


MATRIX = [
    (e, case, creds)
    for case in CASES
    for e in ENDPOINTS
    for creds in _credentials(e)
    if case.applies(e, creds)
]
LYING = [(e, creds) for e, case, creds in MATRIX if case.name == "lying-length-short"]


# --- checks ------------------------------------------------------------------------------------


def check_answer(h: Hostile, e: Endpoint, probe: Probe, response: RawResponse) -> None:
    """Never a 5xx; refused means a 4xx; a 4xx is an error document; nothing of A leaks."""
    answer = f"{response.status} {response.content_type} {response.text[:300]!r}"
    where = f"{e} [{probe.what}]: {answer}"
    assert response.status < 500, where
    if probe.expect == "duplicate" and response.status < 400:
        # Refused, or answered as what it is: the message already taken, not taken again.
        assert json.loads(response.body)["status"] == "duplicate", where
    elif probe.expect != "tolerated":
        assert 400 <= response.status < 500, where
    if isinstance(probe.expect, int):
        assert response.status == probe.expect, where
    if response.status >= 400:
        check_error_document(e, response, where)
    sent = probe.request.decode("latin-1")
    for name, secret in h.leaks().items():
        if secret not in sent:
            assert secret not in response.text, f"{name} leaked: {where}"


def check_error_document(e: Endpoint, response: RawResponse, where: str) -> None:
    if e.pagerduty_errors and response.content_type.startswith("application/json"):
        assert {"status", "message"} <= set(json.loads(response.body)), where
        return
    assert response.content_type.startswith("application/problem+json"), where
    document = json.loads(response.body)
    assert document["status"] == response.status, where
    assert document["type"].startswith("urn:helios:problem:") and document["title"], where


def check_healthy(h: Hostile) -> None:
    """Alive, and a valid request is still served."""
    health = h.send(h.raw("GET", "/healthz", []))
    assert health.status == 200, health.text
    token = h.world.tenants[1].tokens[Role.VIEWER].encode()
    me = h.send(h.raw("GET", "/v1/me", [(b"Authorization", b"Bearer " + token)]))
    assert me.status == 200, me.text


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "case", "creds"),
    MATRIX,
    ids=[f"{e} {case.name} {creds}" for e, case, creds in MATRIX],
)
def test_hostile_input_gets_a_4xx_problem_and_the_server_stays_healthy(
    hostile: Hostile, endpoint: Endpoint, case: Case, creds: Credentials
) -> None:
    """Every probe of the case is refused with a 4xx problem (or tolerated), never a 5xx."""
    for probe in case.probes(hostile, endpoint, creds):
        try:
            if probe.pending is not None:
                pending, deadline = probe.pending
                response = pending.answer(deadline=deadline)
            else:
                response = hostile.send(probe.request)
        except NoAnswer as error:
            raise AssertionError(f"{endpoint} [{probe.what}]: {error}") from None
        check_answer(hostile, endpoint, probe, response)
    check_healthy(hostile)


def test_the_suite_probes_every_operation_the_running_app_documents(hostile: Hostile) -> None:
    """The catalogue holds each operation of the served OpenAPI document, and every case runs."""
    served = hostile.world.http.get("/schema/openapi.json").json()
    documented = {
        f"{method.upper()} {path}"
        for path, operations in served["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert documented <= {str(e) for e in ENDPOINTS}
    assert {case.name for _, case, _ in MATRIX} == {case.name for case in CASES}


def test_after_every_probe_an_event_is_still_ingested_and_projected(hostile: Hostile) -> None:
    """The worker and the projections survived whatever the API let through."""
    world = hostile.world
    name = f"Survivor{uuid.uuid4().hex[:8]}"
    world.alertmanager(1, [am_alert(name, "survivor", "critical", instance="s-1")])
    found = world.wait_for(lambda: world.alerts(1, q=name.lower()), timeout_s=30)
    assert found[0]["labels"]["alertname"] == name
