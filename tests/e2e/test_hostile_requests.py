"""What a hostile or broken client sends, against a real uvicorn server on loopback.

Each request is answered with a 4xx problem document that names what is wrong, in bounded
time, and never with a 500: out-of-range cursors, JSON nested a thousand deep, non-ASCII
signatures, compressed bodies, bodies shorter than their Content-Length, and password guessing
(whose lockout must neither reveal which emails exist nor lock the owner out from elsewhere).

The server runs the whole API (ingestion and ``/v1``) over a memory event store, SQLite read
models, the embedded queue and the in-process limiter: nothing here needs a server of its own.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import uvicorn
from threaded import free_port, wait_until_healthy

from helios.apps.application.access import AccessService
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import open_services
from helios.apps.http import signatures
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.http.server import server_config
from helios.apps.settings import Settings
from helios.domain.access import Role
from helios.domain.values import SourceKind

PASSWORD = "correct horse battery"
MAX_FAILURES = 3
BODY_TIMEOUT_S = 0.5
CONFIG = ApiConfig(body_timeout_s=BODY_TIMEOUT_S, key_miss_refresh_s=1e-9)
# Long enough that a server without a body timeout is caught, short enough to fail fast.
PATIENCE_S = 15.0


@attrs.frozen(kw_only=True)
class Site:
    """A running API and what was seeded in it."""

    base: str
    port: int
    tenant: str
    token: str
    """An owner's personal token: may call every endpoint."""
    generic_key: str
    signing_secret: str
    pagerduty_key: str
    alertmanager_key: str

    def client(self, address: str = "127.0.0.1") -> httpx.Client:
        """A client whose connections come from ``address`` (any of 127.0.0.0/8)."""
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=self.base, transport=transport, timeout=PATIENCE_S)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _seed(services: Any, site: dict[str, Any]) -> None:
    tenancy = TenancyService(services.store, secrets=services.secrets)
    tenant = tenancy.create_tenant("acme").tenant_id
    generic = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.GENERIC)
    pagerduty = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY)
    alertmanager = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.ALERTMANAGER)
    access = AccessService(services.store)
    owner = access.create_user(
        tenant_id=tenant, email="owner@acme.example", role=Role.OWNER, password=PASSWORD
    )
    for name in ("ana", "bo", "cy"):
        access.create_user(
            tenant_id=tenant, email=f"{name}@acme.example", role=Role.VIEWER, password=PASSWORD
        )
    token = access.issue_token(tenant_id=tenant, user_id=owner.user_id, name="probe").token
    site.update(
        tenant=tenant,
        token=token,
        generic_key=generic.routing_key,
        signing_secret=generic.signing_secret,
        pagerduty_key=pagerduty.routing_key,
        alertmanager_key=alertmanager.routing_key,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir: Path = tmp_path_factory.mktemp("hostile")
    port = free_port()
    settings = Settings(
        data_dir=data_dir, store_url="memory://", http_port=port, login_max_failures=MAX_FAILURES
    )
    seeded: dict[str, Any] = {}
    servers: list[uvicorn.Server] = []
    failure: list[BaseException] = []

    async def main() -> None:
        async with open_services(settings) as services:
            _seed(services, seeded)
            app = create_app(services, config=CONFIG)
            server = uvicorn.Server(
                server_config(app, host="127.0.0.1", port=port, api=CONFIG, log_level="warning")
            )
            servers.append(server)
            await server.serve()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # reported by the fixture, not swallowed
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as http:
        wait_until_healthy(http, failure)
    yield Site(base=base, port=port, **seeded)
    servers[0].should_exit = True
    thread.join(timeout=30)
    assert not failure, failure


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem document of ``response``, which must have ``status``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["status"] == status
    return document


def fields(document: dict[str, Any]) -> list[str]:
    return [e["field"] for e in document.get("errors", [])]


def cursor_of(*position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


# --- paging cursors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "position"),
    [
        ("/v1/alerts", (2**63, "k")),
        ("/v1/alerts", (2**64 - 1, "k")),
        ("/v1/alerts", (-(2**63) - 1, "k")),
        ("/v1/incidents", (2**63, "inc")),
        ("/v1/incidents", (2**64 - 1, "inc")),
        ("/v1/incidents", (1, "inc\x00")),
        ("/v1/activity", (2**63,)),
        ("/v1/changes", (2**63, "chg")),
    ],
)
def test_a_cursor_holding_an_integer_beyond_64_bits_is_a_400_naming_the_cursor(
    site: Site, path: str, position: tuple[object, ...]
) -> None:
    """The database cannot compare with it (nor, in PostgreSQL, take a NUL): the API says the
    cursor is invalid."""
    with site.client() as client:
        response = client.get(path, params={"cursor": cursor_of(*position)}, headers=site.auth())
    assert fields(problem(response, 400)) == ["cursor"]


# --- deeply nested JSON ------------------------------------------------------------------------

DEEP = 1000


def _deep(document: dict[str, Any], key: str) -> bytes:
    """``document`` with ``key`` holding arrays nested ``DEEP`` levels."""
    encoded = json.dumps({**document, key: None}).encode()
    return encoded.replace(b"null", b"[" * DEEP + b"]" * DEEP)


def _deep_requests(site: Site) -> list[tuple[str, bytes, dict[str, str]]]:
    auth = site.auth()
    now = int(time.time())
    generic = _deep({"action": "trigger", "summary": "s", "dedup_key": "d"}, "details")
    return [
        ("/v1/auth/login", _deep({"tenant": site.tenant, "email": "a@b.c"}, "password"), {}),
        ("/v1/auth/login", b"[" * DEEP + b"]" * DEEP, {}),
        ("/v1/me/tokens", _deep({"name": "n"}, "expires_in_days"), auth),
        ("/v1/users", _deep({"email": "x@acme.example"}, "role"), auth),
        ("/v1/silences", _deep({"ends_at": "2099-01-01T00:00:00Z"}, "matchers"), auth),
        ("/v1/incidents/inc_x/notes", _deep({}, "text"), auth),
        ("/v1/alerts/a_x/acknowledge", _deep({}, "note"), auth),
        (
            f"/v1/ingest/generic/{site.generic_key}",
            generic,
            {"X-Helios-Signature": signatures.signature_header(site.signing_secret, now, generic)},
        ),
        (
            f"/v1/ingest/alertmanager/{site.alertmanager_key}",
            _deep({"version": "4", "status": "firing", "alerts": []}, "commonLabels"),
            {},
        ),
    ]


def test_a_json_body_nested_a_thousand_deep_is_a_400_on_every_route_that_decodes_json(
    site: Site,
) -> None:
    """Login (no token), the command endpoints and ingestion: 400 naming the body."""
    answers = {}
    with site.client() as client:
        for path, body, headers in _deep_requests(site):
            response = client.post(
                path, content=body, headers={**headers, "Content-Type": "application/json"}
            )
            answers[path] = (response.status_code, response.text[:300])
    for path, (status, text) in answers.items():
        assert status == 400, (path, status, text)
        assert '"field":"body"' in text, (path, text)
        assert "nested" in text, (path, text)


@pytest.mark.parametrize("path", ["/v2/enqueue", "/v2/change/enqueue"])
def test_a_pagerduty_event_nested_a_thousand_deep_gets_pagerdutys_400(
    site: Site, path: str
) -> None:
    """The drop-in endpoints answer in PagerDuty's shape, naming the body."""
    body = _deep(
        {
            "routing_key": site.pagerduty_key,
            "event_action": "trigger",
            "payload": {"summary": "s", "source": "h", "severity": "info"},
        },
        "links",
    )
    with site.client() as client:
        response = client.post(path, content=body)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["status"] == "invalid event"
    assert any(e.startswith("'body'") for e in response.json()["errors"])


# --- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [b"caf\xe9", "\u00e9t\u00e9".encode(), b"0" * 63 + b"\xff"],
    ids=["latin-1", "utf-8", "high-byte"],
)
def test_a_signature_that_is_not_ascii_hex_is_a_400_naming_the_header(
    site: Site, value: bytes
) -> None:
    """It cannot be an HMAC: the header is malformed, not the credentials."""
    body = json.dumps({"action": "trigger", "summary": "s", "dedup_key": "d"}).encode()
    header = b"t=%d,v1=%s" % (int(time.time()), value)
    with site.client() as client:
        response = client.post(
            f"/v1/ingest/generic/{site.generic_key}",
            content=body,
            headers=[(b"X-Helios-Signature", header), (b"Content-Type", b"application/json")],
        )
    assert fields(problem(response, 400)) == ["X-Helios-Signature"]


# --- compressed bodies -------------------------------------------------------------------------


def test_a_compressed_body_is_a_415_saying_the_encoding_is_not_supported(site: Site) -> None:
    """Not a misleading 'not valid UTF-8': login, commands and ingestion alike."""
    import gzip

    login = gzip.compress(json.dumps({"tenant": "t", "email": "a@b.c", "password": "p"}).encode())
    now = int(time.time())
    event = gzip.compress(b'{"action":"trigger","summary":"s","dedup_key":"d"}')
    requests = [
        ("/v1/auth/login", login, {}),
        ("/v1/me/tokens", gzip.compress(b'{"name":"n"}'), site.auth()),
        (
            f"/v1/ingest/generic/{site.generic_key}",
            event,
            {"X-Helios-Signature": signatures.signature_header(site.signing_secret, now, event)},
        ),
        (f"/v1/ingest/alertmanager/{site.alertmanager_key}", gzip.compress(b"{}"), {}),
    ]
    with site.client() as client:
        for path, body, headers in requests:
            response = client.post(
                path,
                content=body,
                headers={**headers, "Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
            document = problem(response, 415)
            assert "gzip" in document["detail"] and "not supported" in document["detail"], path
            assert fields(document) == ["Content-Encoding"], path


@pytest.mark.parametrize("path", ["/v2/enqueue", "/v2/change/enqueue"])
def test_a_compressed_pagerduty_event_gets_a_415_in_pagerdutys_shape(site: Site, path: str) -> None:
    """The drop-in endpoints keep PagerDuty's error shape."""
    import gzip

    with site.client() as client:
        response = client.post(
            path,
            content=gzip.compress(b"{}"),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    assert response.status_code == 415, response.text
    assert "gzip" in response.json()["message"]


def test_identity_content_encoding_is_accepted(site: Site) -> None:
    """``identity`` means not encoded at all."""
    with site.client() as client:
        response = client.post(
            "/v1/me/tokens",
            json={"name": "identity"},
            headers={**site.auth(), "Content-Encoding": "identity"},
        )
    assert response.status_code == 201, response.text


# --- bodies shorter than their Content-Length --------------------------------------------------


def _exchange(port: int, head: bytes, body: bytes) -> tuple[bytes, bool]:
    """Send ``head`` and a short ``body``, then wait: what the server sends, and whether it
    closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S) as sock:
        sock.sendall(head + body)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return received, False
            if not chunk:
                return received, True
            received += chunk


@pytest.mark.parametrize("route", ["login", "ingest", "pagerduty"])
def test_a_body_shorter_than_its_content_length_is_answered_408_and_the_connection_closed(
    site: Site, route: str
) -> None:
    """The server stops waiting after the body timeout instead of holding the connection."""
    path = {
        "login": "/v1/auth/login",
        "ingest": f"/v1/ingest/alertmanager/{site.alertmanager_key}",
        "pagerduty": "/v2/enqueue",
    }[route]
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    ).encode()
    started = time.monotonic()
    received, closed = _exchange(site.port, head, b'{"tenant":')
    waited = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 "), (received[:300], waited)
    assert closed, "the connection was kept open"
    if route != "pagerduty":
        assert b"application/problem+json" in received
        assert b"urn:helios:problem:request-timeout" in received


def test_a_body_that_trickles_in_slower_than_the_timeout_is_cut_off(site: Site) -> None:
    """The timeout bounds the whole body, not the gap between two chunks."""
    head = (
        b"POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", site.port), timeout=PATIENCE_S) as sock:
        sock.sendall(head)
        received = b""
        sent = 0
        while not received and sent < 200:
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sent += 1
            time.sleep(BODY_TIMEOUT_S / 5)
            sock.setblocking(False)
            try:
                received = sock.recv(65536)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
    assert received.startswith(b"HTTP/1.1 408 "), (received[:200], sent)


# --- user emails -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["eve\x00@acme.example", "eve@acme.example\r\nBcc: x@y.z", "\u202eeve@acme.example"]
)
def test_a_user_email_with_control_characters_is_a_400_naming_the_email(
    site: Site, email: str
) -> None:
    """Refused by the access rules, answered field by field."""
    with site.client() as client:
        response = client.post(
            "/v1/users", json={"email": email, "role": "viewer"}, headers=site.auth()
        )
    assert fields(problem(response, 400)) == ["email"]


# --- login lockout -----------------------------------------------------------------------------


def _login(client: httpx.Client, tenant: str, email: str, password: str) -> httpx.Response:
    return client.post(
        "/v1/auth/login", json={"tenant": tenant, "email": email, "password": password}
    )


def _shape(response: httpx.Response) -> tuple[int, dict[str, Any], int]:
    """What a client can tell from an answer: status, document and Retry-After."""
    document = response.json()
    document.pop("request_id", None)
    return response.status_code, document, int(response.headers.get("retry-after", "0"))


def test_an_unknown_email_is_answered_exactly_like_a_known_one_lockout_included(
    site: Site,
) -> None:
    """Same statuses, same documents, same Retry-After for a user that exists and one that
    does not: a lockout reveals nothing."""
    with site.client("127.0.0.3") as client:
        known = [
            _shape(_login(client, site.tenant, "ana@acme.example", "wrong password!"))
            for _ in range(MAX_FAILURES + 1)
        ]
        unknown = [
            _shape(_login(client, site.tenant, "nobody@acme.example", "wrong password!"))
            for _ in range(MAX_FAILURES + 1)
        ]
        unknown_tenant = [
            _shape(_login(client, "ten_nope", "ana@acme.example", "wrong password!"))
            for _ in range(MAX_FAILURES + 1)
        ]
    assert [status for status, _, _ in known] == [401] * (MAX_FAILURES - 1) + [429, 429]
    for other in (unknown, unknown_tenant):
        assert [answer[:2] for answer in other] == [answer[:2] for answer in known]
        # A lockout lasts from each email's first failure; the password checks before it take
        # a varying time on a busy machine. (With a fixed clock the deadlines are equal to the
        # millisecond: tests/unit/api/test_logins.py.)
        assert all(
            abs(mine - theirs) <= 5 for (*_, mine), (*_, theirs) in zip(other, known, strict=True)
        )


def test_a_lockout_from_one_address_does_not_lock_the_owner_out_from_another(site: Site) -> None:
    """Guessing from 127.0.0.4 locks that address out; the user still logs in from 127.0.0.5."""
    email = "bo@acme.example"
    with site.client("127.0.0.4") as attacker, site.client("127.0.0.5") as owner:
        guesses = [
            _login(attacker, site.tenant, email, f"guess number {n}").status_code
            for n in range(MAX_FAILURES + 2)
        ]
        assert guesses[-1] == 429, guesses
        assert _login(attacker, site.tenant, email, PASSWORD).status_code == 429
        answer = _login(owner, site.tenant, email, PASSWORD)
        assert answer.status_code == 201, answer.text
        # ...and a mistyped password from there counts only against that address.
        assert _login(owner, site.tenant, email, "typo password").status_code == 401


def test_a_lockout_counts_one_account_only(site: Site) -> None:
    """Failures against one email do not lock another email out from the same address."""
    with site.client("127.0.0.6") as client:
        for n in range(MAX_FAILURES + 1):
            _login(client, site.tenant, "cy@acme.example", f"guess number {n}")
        assert _login(client, site.tenant, "cy@acme.example", PASSWORD).status_code == 429
        assert _login(client, site.tenant, "owner@acme.example", PASSWORD).status_code == 201


def test_the_client_address_comes_from_x_forwarded_for_only_behind_a_trusted_proxy(
    site: Site,
) -> None:
    """From 127.0.0.1 (trusted by default) the header names the client; from elsewhere it is
    ignored, so a client cannot pick the address its failures count against."""
    email = "ana@acme.example"
    behind_proxy = {"X-Forwarded-For": "198.51.100.23"}
    with site.client("127.0.0.1") as proxy, site.client("127.0.0.7") as direct:
        for n in range(MAX_FAILURES):
            direct.post(
                "/v1/auth/login",
                json={"tenant": site.tenant, "email": email, "password": f"guess {n}"},
                headers=behind_proxy,
            )
        locked_out = direct.post(
            "/v1/auth/login",
            json={"tenant": site.tenant, "email": email, "password": PASSWORD},
            headers=behind_proxy,
        )
        assert locked_out.status_code == 429  # counted against 127.0.0.7, not the header
        forwarded = proxy.post(
            "/v1/auth/login",
            json={"tenant": site.tenant, "email": email, "password": PASSWORD},
            headers=behind_proxy,
        )
        assert forwarded.status_code == 201, forwarded.text
