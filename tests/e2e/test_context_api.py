"""What the sender gave, shown back: links and details of every signal on the alert detail and of
the latest trigger on the list; change events (sent by PagerDuty's official client) listed and
shown on the alerts of their service. Through a real Helios on loopback (see
``test_query_api``)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import socket
import ssl
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pagerduty
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_query_api import World, _now_iso, am_alert, start_world


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("context"))
    yield next(made)
    next(made, None)


def pd_event(world: World, **event: Any) -> dict[str, Any]:
    """POST one Events API v2 event for tenant 0; the 202's document."""
    body = {"routing_key": world.tenants[0].pagerduty_key, **event}
    response = world.http.post("/v2/enqueue", json=body)
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


def alert_named(world: World, dedup_key: str) -> dict[str, Any]:
    found: dict[str, Any] = world.wait_for(
        lambda: next((a for a in world.alerts() if a["dedup_key"] == dedup_key), None)
    )
    return found


def test_a_pagerduty_trigger_shows_its_links_images_custom_details_and_client(
    world: World,
) -> None:
    """links and client_url as links; custom_details, images and client in details."""
    key = f"checkout/{uuid.uuid4().hex[:8]}"
    pd_event(
        world,
        event_action="trigger",
        dedup_key=key,
        client="Nagios",
        client_url="https://nagios.example/checkout",
        payload={
            "summary": "Checkout 5xx",
            "source": "checkout-1.example",
            "severity": "critical",
            "timestamp": _now_iso(-30),
            "component": "checkout",
            "custom_details": {"error_rate": 4.7, "runbook": "https://runbooks.example/5xx"},
        },
        links=[{"href": "https://grafana.example/d/checkout", "text": "Dashboard"}],
        images=[{"src": "https://grafana.example/render/1.png", "alt": "5xx rate"}],
    )
    listed = alert_named(world, key)
    detail = world.get(f"/v1/alerts/{listed['id']}").json()

    [signal] = detail["signals"]
    assert signal["links"] == [
        {"href": "https://grafana.example/d/checkout", "text": "Dashboard"},
        {"href": "https://nagios.example/checkout", "text": "Nagios"},
    ]
    assert signal["details"]["payload"]["custom_details"] == {
        "error_rate": 4.7,
        "runbook": "https://runbooks.example/5xx",
    }
    assert signal["details"]["images"] == [
        {"src": "https://grafana.example/render/1.png", "alt": "5xx rate"}
    ]
    assert signal["details"]["client"] == "Nagios"
    assert listed["links"] == signal["links"] and listed["details"] == signal["details"]
    assert detail["alert"]["links"] == signal["links"]


def test_an_alertmanager_alert_shows_its_generator_url_and_runbook_url(world: World) -> None:
    """generatorURL is a link; annotations (runbook_url among them) are in details."""
    name = f"Saturation{uuid.uuid4().hex[:6]}"
    sent = am_alert(name, "payments", "warning", instance="pay-1")
    sent["annotations"]["runbook_url"] = "https://runbooks.example/saturation"
    world.alertmanager(0, [sent])
    listed = world.wait_for(
        lambda: next((a for a in world.alerts() if a["labels"].get("alertname") == name), None)
    )
    detail = world.get(f"/v1/alerts/{listed['id']}").json()

    [signal] = detail["signals"]
    assert {"href": "http://prometheus.local/graph", "text": "Source"} in signal["links"]
    assert signal["details"]["annotations"]["runbook_url"] == "https://runbooks.example/saturation"
    assert listed["details"]["annotations"]["runbook_url"] == "https://runbooks.example/saturation"


def test_the_list_shows_the_links_and_details_of_the_latest_trigger(world: World) -> None:
    """Two triggers of one alert: the list shows the later one's; the detail shows both."""
    key = f"db/{uuid.uuid4().hex[:8]}"
    for at, build in ((-120, "41"), (-60, "42")):
        pd_event(
            world,
            event_action="trigger",
            dedup_key=key,
            payload={
                "summary": f"db slow after build {build}",
                "source": "db-1",
                "severity": "error",
                "timestamp": _now_iso(at),
                "custom_details": {"build": build},
            },
            links=[{"href": f"https://ci.example/builds/{build}", "text": f"build {build}"}],
        )
    listed = world.wait_for(
        lambda: next(
            (a for a in world.alerts() if a["dedup_key"] == key and a["occurrences"] == 2), None
        )
    )
    assert listed["links"] == [{"href": "https://ci.example/builds/42", "text": "build 42"}]
    assert listed["details"]["payload"]["custom_details"] == {"build": "42"}
    detail = world.get(f"/v1/alerts/{listed['id']}").json()
    assert [s["links"][0]["text"] for s in detail["signals"]] == ["build 41", "build 42"]


# --- change events -----------------------------------------------------------------------------


class TlsTerminator:
    """TLS on a loopback port, forwarding the plain bytes to Helios: the official PagerDuty
    client insists on https. The certificate is made here and trusted by ``client_context``."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256())
        )
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self._key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def pending_tasks(self) -> set[asyncio.Task[Any]]:
        return asyncio.all_tasks(self._loop)

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem)

    def __enter__(self) -> TlsTerminator:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        # Close the server and end every connection it forwards before the loop stops: a task
        # left pending would be destroyed with the loop and reported against a later test.
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        # Aborted rather than closed: a TLS close waits for the client's reply, which a
        # client that keeps its connection open never sends.
        for writer in self._writers:
            writer.transport.abort()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.sleep(0)  # the aborted transports release their sockets
        if self._server is not None:
            await self._server.wait_closed()

    async def _start(self) -> int:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
            pem.write(self._key_pem.decode() + self.cert_pem)
            pem.flush()
            context.load_cert_chain(pem.name)
        server = await asyncio.start_server(self._forward, "127.0.0.1", 0, ssl=context)
        self._server = server
        port: int = server.sockets[0].getsockname()[1]
        return port

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers.add(up_writer)

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            finally:
                sink.close()

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )


@pytest.fixture(scope="module")
def pd_client(world: World) -> Iterator[pagerduty.EventsApiV2Client]:
    """PagerDuty's official client (PyPI ``pagerduty``) for tenant 0, through TLS."""
    port = int(world.base.rsplit(":", 1)[1])
    with TlsTerminator(port) as tls:
        client = pagerduty.EventsApiV2Client(
            world.tenants[0].pagerduty_key,
            base_url=f"https://localhost:{tls.port}",
            verify=tls.client_context(),
            trust_env=False,
        )
        yield client
        client.close()


def test_the_tls_terminator_ends_the_connections_still_open_when_it_exits(world: World) -> None:
    """A client connected through it at exit: nothing is left pending on its loop.

    A forwarding task left pending is destroyed by the garbage collector later, during
    whichever test is running then, and its ``finally`` on a closed loop fails that test.
    """
    tls = TlsTerminator(int(world.base.rsplit(":", 1)[1]))
    with contextlib.ExitStack() as client:
        with tls:
            raw = socket.create_connection(("127.0.0.1", tls.port), timeout=10)
            conn = client.enter_context(
                tls.client_context().wrap_socket(raw, server_hostname="localhost")
            )
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert conn.recv(64).startswith(b"HTTP/1.1 200")
        # The terminator has exited; the client still holds its connection open.
        assert not tls.pending_tasks()


def changes(world: World, tenant: int = 0, **params: Any) -> dict[str, Any]:
    response = world.get("/v1/changes", tenant=tenant, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_the_official_client_sends_the_documented_change_event(
    world: World, pd_client: pagerduty.EventsApiV2Client
) -> None:
    """send_change_event succeeds; the change is listed with its links and details, and the
    activity feed names it; no alert is made of it."""
    origin = f"build-agent-{uuid.uuid4().hex[:6]}"
    pd_client.send_change_event(
        payload={
            "summary": "Build Success: Increase snapshot create timeout to 30 seconds",
            "timestamp": _now_iso(-10),
            "source": origin,
            "custom_details": {"build_state": "passed", "build_number": "2"},
        },
        links=[{"href": "https://ci.example/build/2", "text": "View in CI"}],
    )
    [change] = world.wait_for(lambda: changes(world, service=origin)["items"])
    assert change["summary"] == "Build Success: Increase snapshot create timeout to 30 seconds"
    assert change["origin"] == origin and change["source"] == "pagerduty"
    assert change["links"] == [{"href": "https://ci.example/build/2", "text": "View in CI"}]
    assert change["details"]["payload"]["custom_details"]["build_number"] == "2"
    feed = world.get("/v1/activity", params={"kind": "change"}).json()["items"]
    assert any(origin in item["text"] for item in feed)
    assert not [a for a in world.alerts() if a["service"] == origin]


def test_an_alert_shows_the_changes_of_its_service_shortly_before_it_started(
    world: World, pd_client: pagerduty.EventsApiV2Client
) -> None:
    """'deploy v42, 3 min before': same service, inside the window, newest first."""
    service = f"api-{uuid.uuid4().hex[:6]}"
    for summary, source, at in (
        (f"deploy {service} v41", service, -3 * 3600),  # outside the 1 h window
        (f"deploy {service} v42", service, -180),
        (f"deploy other-{service}", f"other-{service}", -120),
    ):
        pd_client.submit(summary=summary, source=source, timestamp=_now_iso(at))
    world.wait_for(lambda: len(changes(world, q=service)["items"]) == 3)
    key = pd_client.trigger(
        "5xx on the api",
        "api-host-1",
        payload={"component": service, "timestamp": _now_iso(0)},
    )
    listed = alert_named(world, key)
    detail = world.get(f"/v1/alerts/{listed['id']}").json()
    [recent] = detail["recent_changes"]
    assert recent["summary"] == f"deploy {service} v42"
    assert 170 <= recent["seconds_before"] <= 190


def test_the_change_list_filters_pages_and_checks_its_parameters(
    world: World, pd_client: pagerduty.EventsApiV2Client
) -> None:
    """Filters combine; cursor pages walk the list once; bad parameters are named; another
    tenant sees none of it."""
    service = f"batch-{uuid.uuid4().hex[:6]}"
    for index in range(3):
        pd_client.submit(summary=f"step {index}", source=service, timestamp=_now_iso(-60 + index))
    whole = world.wait_for(
        lambda: (
            len(changes(world, service=service)["items"]) == 3
            and changes(world, service=service)["items"]
        )
    )
    assert [c["summary"] for c in whole] == ["step 2", "step 1", "step 0"]
    seen, cursor = [], None
    while True:
        page = changes(world, service=service, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in whole]
    assert [c["summary"] for c in changes(world, service=service, q="STEP 1")["items"]] == [
        "step 1"
    ]
    assert changes(world, service=service, since="2099-01-01T00:00:00Z")["items"] == []
    assert changes(world, service=service, source="grafana")["items"] == []
    for params, field in (({"cursor": "nope"}, "cursor"), ({"until": "tomorrow"}, "until")):
        bad = world.get("/v1/changes", params=params)
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert bad.json()["errors"][0]["field"] == field
    assert changes(world, tenant=1)["items"] == []
    assert world.http.get("/v1/changes").status_code == 401
