"""The official PagerDuty client (PyPI ``pagerduty`` 7.2) against a running Helios.

Helios runs whole in a thread (API, ingest worker, projector) over SQLite and the embedded
queue; the API is served over TLS with a self-signed certificate made here, because the client
refuses any base URL but ``https://``. Events go in through ``EventsApiV2Client`` exactly as an
integration sends them, and come out of the query API.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from threaded import free_port, running_in_thread, wait_for, wait_until_healthy

from helios.adapters.store.factory import open_event_store
from helios.apps.application.access import AccessService
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import Services, open_read_models
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.settings import Settings
from helios.domain.access import Role
from helios.domain.values import SourceKind

pagerduty = pytest.importorskip("pagerduty", reason="pip install pagerduty (the dev extra)")


@attrs.frozen
class Tls:
    certfile: Path
    keyfile: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certfile))


def self_signed(directory: Path) -> Tls:
    """A certificate for localhost and 127.0.0.1, valid for a day, signed by its own key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Tls(certfile=certfile, keyfile=keyfile)


@attrs.define
class Running:
    """Helios on loopback: its https base URL, a PagerDuty routing key and a viewer token."""

    base: str
    routing_key: str
    token: str
    tls: Tls
    http: httpx.Client

    def events_client(self) -> Any:
        return pagerduty.EventsApiV2Client(
            self.routing_key, base_url=self.base, verify=self.tls.client_context()
        )

    def alerts(self, **params: Any) -> dict[str, dict[str, Any]]:
        response = self.http.get("/v1/alerts", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        return {item["dedup_key"]: item for item in response.json()["items"]}

    def incidents(self) -> list[dict[str, Any]]:
        response = self.http.get("/v1/incidents", params={"limit": 200})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def wait_for(self, check: Callable[[], Any], timeout_s: float = 30) -> Any:
        return wait_for(check, timeout_s)


@pytest.fixture(scope="module")
def helios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("pagerduty")
    tls = self_signed(data_dir)
    settings = Settings(
        data_dir=data_dir,
        follower_poll_s=0.05,
        worker_wait_s=0.2,
        tick_interval_s=3600,
        auth_cache_s=0.2,
    )
    open_read_models(settings.effective_read_models_url).close()
    store = open_event_store(settings.effective_store_url)
    tenancy = TenancyService(store)
    tenant = tenancy.create_tenant("acme").tenant_id
    routing_key = tenancy.create_integration(tenant_id=tenant, kind=SourceKind.PAGERDUTY)
    access = AccessService(store)
    viewer = access.create_user(tenant_id=tenant, email="v@acme.example", role=Role.VIEWER)
    token = access.issue_token(tenant_id=tenant, user_id=viewer.user_id, name="test").token
    store.close()

    port = free_port()

    def serve(services: Services) -> uvicorn.Server:
        return uvicorn.Server(
            uvicorn.Config(
                create_app(services, config=ApiConfig()),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="on",
                ssl_certfile=str(tls.certfile),
                ssl_keyfile=str(tls.keyfile),
                timeout_graceful_shutdown=5,
            )
        )

    base = f"https://localhost:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    with (
        running_in_thread(settings, serve) as failure,
        httpx.Client(
            base_url=base, verify=tls.client_context(), headers=headers, timeout=10
        ) as http,
    ):
        wait_until_healthy(http, failure)
        yield Running(
            base=base, routing_key=routing_key.routing_key, token=token, tls=tls, http=http
        )
    assert not failure, failure


def _as_ha_member(member: int) -> list[dict[str, str]]:
    # The members of an HA pair differ in their own URL (Alertmanager's client_url): the
    # bodies differ, so the API's content deduplication does not merge them; only the worker's
    # signal identity can.
    return [{"href": f"http://am-{member}:9093/#/alerts", "text": f"am-{member}"}]


def test_an_ha_pairs_two_timestamp_less_triggers_are_one_occurrence(helios: Running) -> None:
    """Two triggers without payload.timestamp, 200 ms apart, as both members of an HA pair
    send them: one occurrence, score 50 (error), one duplicate."""
    with helios.events_client() as client:
        for member in (1, 2):
            key = client.trigger(
                summary="[FIRING:1] DiskFilling storage (db-1:9100 warning)",
                source="Alertmanager",
                dedup_key="ha-disk-filling",
                severity="error",
                links=_as_ha_member(member),
            )
            assert key == "ha-disk-filling"
            time.sleep(0.2)

    alert = helios.wait_for(
        lambda: (found := helios.alerts().get("ha-disk-filling")) and found["duplicates"] and found
    )

    assert alert["status"] == "triggered"
    assert alert["occurrences"] == 1
    assert alert["score"] == 50
    assert alert["duplicates"] == 1


def test_an_acknowledge_for_a_key_never_triggered_shows_no_alert(helios: Running) -> None:
    """Answered like PagerDuty answers it, then ignored: no alert appears, while a trigger
    sent after it does appear."""
    with helios.events_client() as client:
        assert client.acknowledge("never-triggered") == "never-triggered"
        assert client.resolve("never-triggered-either") == "never-triggered-either"
        client.trigger(summary="Disk 91% on db-7", source="db-7", dedup_key="after-the-ignored")

    alerts = helios.wait_for(lambda: (found := helios.alerts()).get("after-the-ignored") and found)
    # The list leaves status "none" out unless asked for: ask too.
    without_status = helios.alerts(status="none")
    for key in ("never-triggered", "never-triggered-either"):
        assert key not in alerts
        assert key not in without_status


def test_alerts_of_two_services_from_alertmanager_open_two_incidents(helios: Running) -> None:
    """source is "Alertmanager" for both; the labels Alertmanager lists name the service."""
    with helios.events_client() as client:
        for service, alertname in (("checkout", "CheckoutLatency"), ("storage", "DiskFilling")):
            client.trigger(
                summary=f"[FIRING:1] {alertname} {service}",
                source="Alertmanager",
                dedup_key=f"group-{alertname}",
                severity="critical",
                custom_details={
                    "firing": (
                        f"Labels:\n - alertname = {alertname}\n - service = {service}\n"
                        f"Annotations:\n - summary = {alertname}\nSource: http://prom/graph\n"
                    ),
                    "resolved": "",
                    "num_firing": "1",
                    "num_resolved": "0",
                },
            )

    alerts = helios.wait_for(
        lambda: (
            (found := helios.alerts()).get("group-CheckoutLatency")
            and found.get("group-DiskFilling")
            and found
        )
    )
    assert alerts["group-CheckoutLatency"]["service"] == "checkout"
    assert alerts["group-DiskFilling"]["service"] == "storage"
    groups = helios.wait_for(
        lambda: (
            {i["group_key"] for i in helios.incidents()} >= {"service=checkout", "service=storage"}
        )
    )
    assert groups
