"""The ingestion API end to end: real HTTP requests into ``create_app`` over real services.

The queue is the embedded SQLite queue in a temporary directory, or SQS on the moto server
(``sqs_endpoint``); limits and idempotency keys are in memory, or in Redis (``redis_url``).
What a test asserts on the queue is what a worker would receive.
"""

from __future__ import annotations

import base64
import datetime
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from queues import QUEUE_KINDS, open_test_queue

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.adapters.memory.limits import InMemoryIdempotencyStore, InMemoryRateLimiter
from helios.adapters.sqs import MemoryBlobStore
from helios.adapters.store.factory import open_event_store
from helios.apps.application.envelopes import decode_envelope
from helios.apps.application.tenancy import Issued, TenancyService
from helios.apps.composition import Services
from helios.apps.http import signatures
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.http.sns import SnsVerifier, string_to_sign
from helios.apps.settings import Settings
from helios.domain.identity import stable_hash
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, SourceKind
from helios.ports.idempotency import Started
from helios.ports.queue import OutgoingMessage, Queue, QueueUnavailable, SeenAs, SendsOnce

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "payloads"
TOPIC = "arn:aws:sns:eu-west-1:210987654321:helios-cloudwatch-alarms"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem"
T0_MS = 1_790_000_000_000

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def payload(name: str) -> bytes:
    """An example payload from tests/fixtures/payloads (captured or written from the docs)."""
    [found] = FIXTURES.glob(f"*/{name}")
    return found.read_bytes()


@attrs.define
class Clock:
    now_ms: int = T0_MS

    def __call__(self) -> int:
        return self.now_ms


class FlakyQueue:
    """A queue that can be switched off: sends then fail as an unreachable queue's do."""

    def __init__(self, inner: Queue) -> None:
        self.inner = inner
        self.down = False

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.down:
            raise QueueUnavailable("switched off by the test", retry_after_s=7)
        await self.inner.send(messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FlakySendsOnce(FlakyQueue):
    """A ``FlakyQueue`` over a queue that deduplicates in its commit (``SendsOnce``)."""

    async def send_once(self, message: OutgoingMessage, *, seen_as: SeenAs, now_ms: int) -> bool:
        if self.down:
            raise QueueUnavailable("switched off by the test", retry_after_s=7)
        assert isinstance(self.inner, SendsOnce)
        return await self.inner.send_once(message, seen_as=seen_as, now_ms=now_ms)


@attrs.define
class Api:
    client: httpx.AsyncClient
    services: Services
    queue: FlakyQueue
    tenancy: TenancyService
    clock: Clock
    tenant: str
    other_tenant: str
    ca: Ca

    def integration(self, kind: SourceKind, *, tenant: str | None = None, **kw: Any) -> Issued:
        return self.tenancy.create_integration(tenant_id=tenant or self.tenant, kind=kind, **kw)

    async def drain(self, expected: int | None = None) -> list[tuple[Envelope, Any]]:
        """Every envelope on the queue now (received and deleted), with its attributes."""
        found: list[tuple[Envelope, Any]] = []
        for _ in range(20):
            batch = await self.queue.inner.receive(max_messages=10, wait_seconds=0.2)
            if not batch:
                if expected is None or len(found) >= expected:
                    break
                continue
            found.extend((decode_envelope(m.body), m.attributes) for m in batch)
            await self.queue.inner.delete(batch)
        return found


@attrs.frozen
class Ca:
    """A self-made CA and an SNS-like signing certificate issued by it."""

    ca_cert: x509.Certificate
    key: rsa.RSAPrivateKey
    leaf_pem: bytes

    def sign(self, message: dict[str, str]) -> dict[str, str]:
        signed = {**message, "SignatureVersion": "2", "SigningCertURL": CERT_URL}
        signature = self.key.sign(string_to_sign(signed), padding.PKCS1v15(), hashes.SHA256())
        return {**signed, "Signature": base64.b64encode(signature).decode()}


def make_ca() -> Ca:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Helios Test Root CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("sns.eu-west-1.amazonaws.com")]), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Ca(ca_cert=ca_cert, key=key, leaf_pem=leaf.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def ca() -> Ca:
    return make_ca()


@pytest.fixture(params=QUEUE_KINDS)
async def queue(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Queue]:
    async with open_test_queue(request, tmp_path, monkeypatch, purpose="api") as opened:
        yield opened


async def make_api(
    queue: Queue,
    ca: Ca,
    *,
    config: ApiConfig | None = None,
    limiter: Any = None,
    idempotency: Any = None,
) -> AsyncIterator[Api]:
    store = open_event_store("memory://")
    flaky = (FlakySendsOnce if isinstance(queue, SendsOnce) else FlakyQueue)(queue)
    services = Services(
        settings=Settings(store_url="memory://"),
        store=store,
        queue=flaky,  # type: ignore[arg-type]
        blobs=MemoryBlobStore(),
        limiter=limiter or InMemoryRateLimiter(),
        idempotency=idempotency or InMemoryIdempotencyStore(),
    )
    clock = Clock(now_ms=int(time.time() * 1000))
    tenancy = TenancyService(store, clock=clock, secrets=services.secrets)

    async def fetch(url: str) -> bytes:
        if url != CERT_URL:
            raise OSError("not found")
        return ca.leaf_pem

    sns = SnsVerifier(fetch=fetch, trust=[ca.ca_cert])
    # Keys created by the test are looked up at once, not after the miss refresh interval.
    config = attrs.evolve(config or ApiConfig(), key_miss_refresh_s=1e-9)
    app = create_app(services, config=config, sns=sns, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://helios.test") as client:
        yield Api(
            client=client,
            services=services,
            queue=flaky,
            tenancy=tenancy,
            clock=clock,
            tenant=tenancy.create_tenant("acme").tenant_id,
            other_tenant=tenancy.create_tenant("globex").tenant_id,
            ca=ca,
        )
    store.close()


@pytest.fixture
async def api(queue: Queue, ca: Ca) -> AsyncIterator[Api]:
    async for made in make_api(queue, ca):
        yield made


@pytest.fixture
async def api_embedded(tmp_path: Path, ca: Ca) -> AsyncIterator[Api]:
    """The API on the embedded queue only, for tests whose point is not the queue."""
    async with EmbeddedQueue(path=tmp_path / "q.db", poll_interval_s=0.02) as embedded:
        async for made in make_api(embedded, ca):
            yield made


def pd_event(routing_key: str, **changes: Any) -> dict[str, Any]:
    event = json.loads(payload("pagerduty_v2_trigger.json"))
    event["routing_key"] = routing_key
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


# --- PagerDuty drop-in --------------------------------------------------------------------------


async def test_a_pagerduty_trigger_is_answered_202_and_its_envelope_is_on_the_queue(
    api: Api,
) -> None:
    """The 202 echoes the dedup key; the envelope carries the raw body, tenant and correlation."""
    issued = api.integration(SourceKind.PAGERDUTY)
    body = json.dumps(pd_event(issued.routing_key)).encode()
    response = await api.client.post(
        "/v2/enqueue", content=body, headers={"X-Correlation-ID": "corr-42"}
    )
    assert response.status_code == 202
    assert response.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "prod-eu-1/checkout/CheckoutHighErrorRate",
    }
    [(envelope, attributes)] = await api.drain(expected=1)
    assert envelope.body == body
    assert envelope.tenant == api.tenant == attributes.tenant
    assert envelope.integration == issued.integration.integration_id
    assert envelope.source is SourceKind.PAGERDUTY
    assert attributes.correlation_id == "corr-42"


async def test_a_keyless_trigger_gets_the_key_the_normalizer_will_derive(api_embedded: Api) -> None:
    """``pd-`` + stable_hash(ingest_id) of the envelope actually enqueued."""
    api = api_embedded
    issued = api.integration(SourceKind.PAGERDUTY)
    response = await api.client.post(
        "/v2/enqueue", json=pd_event(issued.routing_key, dedup_key=None)
    )
    assert response.status_code == 202
    [(envelope, _)] = await api.drain(expected=1)
    assert response.json()["dedup_key"] == "pd-" + stable_hash(envelope.ingest_id)


async def test_an_invalid_pagerduty_event_gets_pagerdutys_400_naming_each_field(
    api_embedded: Api,
) -> None:
    """Field-level errors in PagerDuty's shape; nothing is enqueued."""
    api = api_embedded
    issued = api.integration(SourceKind.PAGERDUTY)
    event = pd_event(issued.routing_key, event_action="trigger")
    event["payload"] = {"summary": "", "severity": "apocalyptic"}
    response = await api.client.post("/v2/enqueue", json=event)
    assert response.status_code == 400
    document = response.json()
    assert document["status"] == "invalid event"
    assert document["message"] == "Event object is invalid"
    assert "'payload.summary' is missing or blank" in document["errors"]
    assert "'payload.source' is missing or blank" in document["errors"]
    assert any(e.startswith("'payload.severity' is invalid") for e in document["errors"])
    resolve = await api.client.post(
        "/v2/enqueue", json={"routing_key": issued.routing_key, "event_action": "resolve"}
    )
    assert resolve.json()["errors"] == ["'dedup_key' is missing or blank"]
    assert await api.drain() == []


async def test_an_unknown_routing_key_is_a_pagerduty_400(api_embedded: Api) -> None:
    """PagerDuty has no 401: a wrong routing key is an invalid event."""
    api = api_embedded
    response = await api.client.post("/v2/enqueue", json=pd_event("x" * 32))
    assert response.status_code == 400
    assert response.json()["errors"] == ["'routing_key' is not a valid routing key"]


@pytest.mark.parametrize("kind", [SourceKind.ALERTMANAGER, SourceKind.GRAFANA])
async def test_the_key_of_a_tool_with_a_pagerduty_receiver_works_on_v2_enqueue(
    api_embedded: Api, kind: SourceKind
) -> None:
    """Alertmanager's pagerduty_configs (or Grafana's PagerDuty contact point) given the key of
    its webhook integration: accepted, recorded as PagerDuty input of that integration."""
    api = api_embedded
    issued = api.integration(kind)
    response = await api.client.post("/v2/enqueue", json=pd_event(issued.routing_key))
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "success"
    [(envelope, _)] = await api.drain(expected=1)
    assert envelope.source is SourceKind.PAGERDUTY
    assert envelope.integration == issued.integration.integration_id
    result = normalize(envelope, Ruleset())
    assert isinstance(result, Normalized)
    assert [s.source for s in result.signals] == [SourceKind.PAGERDUTY.value]


@pytest.mark.parametrize(
    ("kind", "works_on"),
    [
        (SourceKind.GENERIC, "POST /v1/ingest/generic"),
        (SourceKind.CLOUDWATCH, "POST /v1/ingest/cloudwatch"),
    ],
)
async def test_a_signed_sources_key_on_v2_enqueue_is_told_which_kind_it_is_and_where_it_works(
    api_embedded: Api, kind: SourceKind, works_on: str
) -> None:
    """Its format carries a signature PagerDuty's has no room for: a 400 that says so plainly,
    not 'is not a valid routing key'."""
    api = api_embedded
    issued = api.integration(kind)
    change = json.loads(payload("pagerduty_v2_change.json"))
    for path, event in (
        ("/v2/enqueue", pd_event(issued.routing_key)),
        ("/v2/change/enqueue", {**change, "routing_key": issued.routing_key}),
    ):
        response = await api.client.post(path, json=event)
        assert response.status_code == 400, path
        [error] = response.json()["errors"]
        assert error.startswith(f"'routing_key' belongs to a {kind.value} integration")
        assert works_on in error
        assert error.endswith(
            "takes the key of a pagerduty, alertmanager or grafana integration"
            if path == "/v2/enqueue"
            else "takes the key of a pagerduty integration"
        )
    assert await api.drain() == []


async def test_a_pagerduty_key_on_a_webhook_endpoint_is_told_where_it_works(
    api_embedded: Api,
) -> None:
    """403 naming the key's kind and its endpoint, and which kinds the endpoint takes."""
    api = api_embedded
    issued = api.integration(SourceKind.PAGERDUTY)
    response = await api.client.post(
        f"/v1/ingest/alertmanager/{issued.routing_key}", content=payload("webhook_v4_firing.json")
    )
    assert response.status_code == 403
    detail = response.json()["detail"]
    assert detail.startswith("this key belongs to a pagerduty integration")
    assert "POST /v2/enqueue" in detail
    assert "takes the key of an alertmanager integration" in detail
    assert await api.drain() == []


# --- authentication -----------------------------------------------------------------------------


async def test_a_wrong_key_is_refused_401_with_a_problem_document(api_embedded: Api) -> None:
    """Unknown key, missing key: 401 problem+json, nothing enqueued."""
    api = api_embedded
    body = payload("webhook_v4_firing.json")
    for headers in ({"Authorization": "Bearer not-a-key"}, {}):
        response = await api.client.post("/v1/ingest/alertmanager", content=body, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["type"] == "urn:helios:problem:unauthorized"
    assert await api.drain() == []


async def test_another_tenants_key_or_another_sources_key_is_forbidden(api_embedded: Api) -> None:
    """A key only ever speaks for its own tenant and its own source kind."""
    api = api_embedded
    theirs = api.integration(SourceKind.ALERTMANAGER, tenant=api.other_tenant)
    body = payload("webhook_v4_firing.json")
    response = await api.client.post(
        f"/v1/ingest/alertmanager/{theirs.routing_key}",
        content=body,
        headers={"X-Helios-Tenant": api.tenant},
    )
    assert response.status_code == 403
    grafana = await api.client.post(f"/v1/ingest/grafana/{theirs.routing_key}", content=body)
    assert grafana.status_code == 403
    assert await api.drain() == []
    accepted = await api.client.post(f"/v1/ingest/alertmanager/{theirs.routing_key}", content=body)
    assert accepted.status_code == 202
    [(envelope, _)] = await api.drain(expected=1)
    assert envelope.tenant == api.other_tenant


async def test_a_rotated_key_keeps_working_for_its_grace_period_only(api_embedded: Api) -> None:
    """Both keys work during the grace period; the old one is refused after it."""
    api = api_embedded
    issued = api.integration(SourceKind.ALERTMANAGER)
    rotated = api.tenancy.rotate_routing_key(
        integration_id=issued.integration.integration_id, grace_ms=60_000
    )
    body = payload("webhook_v4_firing.json")
    for key in (issued.routing_key, rotated.routing_key):
        response = await api.client.post(
            "/v1/ingest/alertmanager",
            content=body,
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": key},
        )
        assert response.status_code == 202, response.text
    api.clock.now_ms += 60_001
    late = await api.client.post(
        "/v1/ingest/alertmanager",
        content=body,
        headers={"Authorization": f"Bearer {issued.routing_key}"},
    )
    assert late.status_code == 401


# --- generic HMAC -------------------------------------------------------------------------------


def generic_body(summary: str = "Disk full on db-1") -> bytes:
    return json.dumps({"action": "trigger", "summary": summary, "dedup_key": "db-1/disk"}).encode()


async def test_a_signed_generic_event_is_accepted_and_a_bad_stale_or_replayed_one_refused(
    api: Api,
) -> None:
    """HMAC over ``timestamp.body``; 5 minutes tolerance; one use per signature."""
    issued = api.integration(SourceKind.GENERIC)
    secret = issued.signing_secret
    now_s = api.clock() // 1000
    url = f"/v1/ingest/generic/{issued.routing_key}"
    body = generic_body()

    async def post(header: str, content: bytes = body) -> httpx.Response:
        return await api.client.post(url, content=content, headers={"X-Helios-Signature": header})

    good = signatures.signature_header(secret, now_s, body)
    assert (await post(good)).status_code == 202
    assert (await post(good)).status_code == 401  # replayed
    assert (
        await post(signatures.signature_header("whsec_wrong-secret-123", now_s, body))
    ).status_code == 401
    stale = signatures.signature_header(secret, now_s - 301, generic_body("other"))
    assert (await post(stale, generic_body("other"))).status_code == 401
    assert (await post("garbage")).status_code == 400  # malformed: cannot hold a signature
    envelopes = await api.drain(expected=1)
    assert len(envelopes) == 1


async def test_during_a_secret_rotation_both_secrets_verify(api_embedded: Api) -> None:
    """The previous signing secret stays valid for the grace period."""
    api = api_embedded
    issued = api.integration(SourceKind.GENERIC)
    rotated = api.tenancy.rotate_signing_secret(
        integration_id=issued.integration.integration_id, grace_ms=60_000
    )
    now_s = api.clock() // 1000
    for index, secret in enumerate((issued.signing_secret, rotated.signing_secret)):
        body = generic_body(f"event {index}")
        response = await api.client.post(
            f"/v1/ingest/generic/{issued.routing_key}",
            content=body,
            headers={"X-Helios-Signature": signatures.signature_header(secret, now_s, body)},
        )
        assert response.status_code == 202, response.text


# --- CloudWatch through SNS ---------------------------------------------------------------------


async def test_sns_messages_are_verified_against_the_signing_certificate(api_embedded: Api) -> None:
    """Valid signature and allowed topic: accepted; tampered, wrong host or topic: refused."""
    api = api_embedded
    issued = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    url = f"/v1/ingest/cloudwatch/{issued.routing_key}"
    message = json.loads(payload("sns_cloudwatch_notification.json"))
    for field in ("Signature", "SigningCertURL", "SignatureVersion"):
        message.pop(field)
    message["Timestamp"] = format_rfc3339(api.clock())  # within the replay window
    signed = api.ca.sign(message)
    assert (await api.client.post(url, json=signed)).status_code == 202
    tampered = {**signed, "Message": signed["Message"].replace("ALARM", "OK")}
    assert (await api.client.post(url, json=tampered)).status_code == 401
    elsewhere = {**signed, "SigningCertURL": "https://evil.example.com/cert.pem"}
    assert (await api.client.post(url, json=elsewhere)).status_code == 401
    other_topic = api.ca.sign({**message, "TopicArn": TOPIC.replace("alarms", "other")})
    assert (await api.client.post(url, json=other_topic)).status_code == 403
    assert len(await api.drain(expected=1)) == 1


async def test_a_subscription_confirmation_is_recorded_only_for_an_allowed_topic(
    api_embedded: Api,
) -> None:
    """The confirmation is enqueued (the worker confirms it); another topic's is refused."""
    api = api_embedded
    allowed = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    none = api.integration(SourceKind.CLOUDWATCH)
    message = json.loads(payload("sns_subscription_confirmation.json"))
    for field in ("Signature", "SigningCertURL", "SignatureVersion"):
        message.pop(field)
    message["Timestamp"] = format_rfc3339(api.clock())  # within the replay window
    signed = api.ca.sign(message)
    refused = await api.client.post(f"/v1/ingest/cloudwatch/{none.routing_key}", json=signed)
    assert refused.status_code == 403
    accepted = await api.client.post(f"/v1/ingest/cloudwatch/{allowed.routing_key}", json=signed)
    assert accepted.status_code == 202
    [(envelope, _)] = await api.drain(expected=1)
    assert json.loads(envelope.body)["Type"] == "SubscriptionConfirmation"


# --- size and shape -----------------------------------------------------------------------------


async def test_an_oversized_body_is_refused_413_declared_or_streamed(api_embedded: Api) -> None:
    """Over 512 KiB by Content-Length, or counted while streaming a chunked body."""
    api = api_embedded
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    big = b"x" * (512 * 1024 + 1)
    assert (await api.client.post(url, content=big)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(9):
            yield b"y" * (64 * 1024)

    streamed = await api.client.post(url, content=chunks())
    assert streamed.status_code == 413
    pd = await api.client.post("/v2/enqueue", content=big)
    assert pd.status_code == 413
    assert pd.json()["status"] == "invalid event"
    assert await api.drain() == []


async def test_a_malformed_body_is_a_400_problem_with_field_errors(api_embedded: Api) -> None:
    """RFC 9457 problem+json naming each bad field; never a 500."""
    api = api_embedded
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    bad = {"alerts": [{"status": "burning", "labels": []}, 7]}
    response = await api.client.post(url, json=bad)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert fields == {
        "alerts[0].labels": "must be an object",
        "alerts[0].status": "must be firing or resolved",
        "alerts[1]": "must be an object",
    }
    for body in (b"", b"{", b"[]", b"\xff\xfe", b'"text"'):
        assert (await api.client.post(url, content=body)).status_code == 400
    assert (
        await api.client.post(f"/v1/ingest/nagios/{issued.routing_key}", content=b"{}")
    ).status_code == 404
    assert await api.drain() == []


# --- idempotency and dedup ---------------------------------------------------------------------


async def test_an_idempotency_key_replays_refuses_another_body_and_reports_in_flight(
    api: Api,
) -> None:
    """Same key + body → same answer, one envelope; other body → 422; in flight → 409."""
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    body = payload("webhook_v4_firing.json")
    first = await api.client.post(url, content=body, headers={"Idempotency-Key": "k-1"})
    again = await api.client.post(url, content=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    other = await api.client.post(
        url, content=payload("webhook_v4_resolved.json"), headers={"Idempotency-Key": "k-1"}
    )
    assert other.status_code == 422
    scope = f"{api.tenant}/{issued.integration.integration_id}"
    import hashlib

    claim = await api.services.idempotency.begin(
        scope=scope, key="k-2", fingerprint=hashlib.sha256(body).hexdigest(), now_ms=api.clock()
    )
    assert isinstance(claim, Started)
    busy = await api.client.post(url, content=body, headers={"Idempotency-Key": "k-2"})
    assert busy.status_code == 409
    assert len(await api.drain(expected=1)) == 1


async def test_an_idempotency_key_over_255_characters_is_refused_400_naming_the_header(
    api_embedded: Api,
) -> None:
    """Never truncated: two long keys sharing their first 255 characters stay two keys."""
    api = api_embedded
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    body = payload("webhook_v4_firing.json")
    prefix = "k" * 255
    for key in (prefix + "1", prefix + "2"):
        refused = await api.client.post(url, content=body, headers={"Idempotency-Key": key})
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["errors"] == [
            {"field": "Idempotency-Key", "message": "must be at most 255 characters, not 256"}
        ]
    pd = await api.client.post(
        "/v2/enqueue",
        json=pd_event(api.integration(SourceKind.PAGERDUTY).routing_key),
        headers={"Idempotency-Key": prefix + "1"},
    )
    assert pd.status_code == 400
    assert pd.json()["errors"] == ["'Idempotency-Key' must be at most 255 characters, not 256"]
    assert await api.drain() == []
    accepted = await api.client.post(url, content=body, headers={"Idempotency-Key": prefix})
    assert accepted.status_code == 202


async def test_identical_bodies_without_a_key_are_accepted_once_in_the_window(
    api_embedded: Api,
) -> None:
    """An Alertmanager retry with the same bytes is not enqueued twice."""
    api = api_embedded
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    body = payload("webhook_v4_firing.json")
    statuses = [(await api.client.post(url, content=body)).json()["status"] for _ in range(3)]
    assert statuses == ["accepted", "duplicate", "duplicate"]
    api.clock.now_ms += 11_000
    assert (await api.client.post(url, content=body)).json()["status"] == "accepted"
    assert len(await api.drain(expected=2)) == 2


async def test_identical_bodies_sent_at_once_are_enqueued_once(api_embedded: Api) -> None:
    """Concurrent retries of one webhook: every answer a 202, one envelope on the queue."""
    api = api_embedded
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    body = payload("webhook_v4_firing.json")
    answers: list[httpx.Response] = []

    async def post() -> None:
        answers.append(await api.client.post(url, content=body))

    async with anyio.create_task_group() as tasks:
        for _ in range(6):
            tasks.start_soon(post)
    assert [answer.status_code for answer in answers] == [202] * 6
    statuses = sorted(answer.json()["status"] for answer in answers)
    assert statuses == ["accepted"] + ["duplicate"] * 5
    assert len(await api.drain(expected=1)) == 1


# --- rate limits and failures -------------------------------------------------------------------


async def test_an_integration_over_its_rate_gets_429_with_retry_after(
    tmp_path: Path, ca: Ca
) -> None:
    """GCRA per integration: the burst passes, the next request waits."""
    config = ApiConfig(rate_per_integration=0.5, burst_per_integration=2)
    async with EmbeddedQueue(path=tmp_path / "q.db") as queue:
        async for api in make_api(queue, ca, config=config):
            issued = api.integration(SourceKind.PAGERDUTY)
            answers = [
                await api.client.post(
                    "/v2/enqueue", json=pd_event(issued.routing_key, dedup_key=f"k{i}")
                )
                for i in range(3)
            ]
            assert [a.status_code for a in answers] == [202, 202, 429]
            assert int(answers[2].headers["retry-after"]) == 2
            assert answers[2].json()["status"] == "throttle event"


async def test_when_the_queue_is_down_the_answer_is_503_and_a_retry_is_accepted(api: Api) -> None:
    """Nothing is acknowledged that is not on the queue; the Idempotency-Key is released."""
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    body = payload("webhook_v4_firing.json")
    api.queue.down = True
    headers = {"Idempotency-Key": "retry-me"}
    refused = await api.client.post(url, content=body, headers=headers)
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "7"
    pd = await api.client.post(
        "/v2/enqueue", json=pd_event(api.integration(SourceKind.PAGERDUTY).routing_key)
    )
    assert pd.status_code == 503
    assert await api.drain() == []
    api.queue.down = False
    accepted = await api.client.post(url, content=body, headers=headers)
    assert accepted.status_code == 202
    [(envelope, _)] = await api.drain(expected=1)
    assert envelope.body == body
    metrics = (await api.client.get("/metrics")).text
    assert 'helios_queue_errors_total{queue="ingest",error="unavailable"} 2' in metrics


class FirstSendFails:
    """A queue whose first send waits for ``release``, then fails; later sends go through."""

    def __init__(self, inner: Queue) -> None:
        self.inner = inner
        self.entered = anyio.Event()
        self.release = anyio.Event()
        self.sends = 0

    async def send(self, messages: Sequence[OutgoingMessage]) -> None:
        await self._first_fails()
        await self.inner.send(messages)

    async def send_once(self, message: OutgoingMessage, *, seen_as: SeenAs, now_ms: int) -> bool:
        await self._first_fails()
        assert isinstance(self.inner, SendsOnce)
        return await self.inner.send_once(message, seen_as=seen_as, now_ms=now_ms)

    async def _first_fails(self) -> None:
        self.sends += 1
        if self.sends == 1:
            self.entered.set()
            await self.release.wait()
            raise QueueUnavailable("the first send fails", retry_after_s=3)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def gated_api(tmp_path: Path, ca: Ca) -> AsyncIterator[tuple[Api, FirstSendFails]]:
    async with EmbeddedQueue(path=tmp_path / "q.db") as embedded:
        gated = FirstSendFails(embedded)
        async for made in make_api(gated, ca):  # type: ignore[arg-type]
            yield made, gated


async def test_a_twin_sent_while_the_first_is_enqueuing_is_enqueued_too(
    gated_api: tuple[Api, FirstSendFails],
) -> None:
    """The first request's enqueue then fails: the twin was not told "duplicate" on its behalf."""
    api, gated = gated_api
    issued = api.integration(SourceKind.ALERTMANAGER)
    url = f"/v1/ingest/alertmanager/{issued.routing_key}"
    body = payload("webhook_v4_firing.json")
    answers: dict[str, httpx.Response] = {}

    async def post(name: str) -> None:
        answers[name] = await api.client.post(url, content=body)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(post, "first")
        with anyio.fail_after(5):
            await gated.entered.wait()
        await post("twin")
        gated.release.set()
    assert answers["first"].status_code == 503
    assert answers["twin"].status_code == 202
    assert answers["twin"].json()["status"] == "accepted"
    [(envelope, _)] = await api.drain(expected=1)
    assert envelope.body == body


@pytest.mark.redis
async def test_with_redis_limits_and_keys_work_and_an_outage_follows_the_ports_policy(
    redis_url: str, tmp_path: Path, ca: Ca
) -> None:
    """Redis up: idempotency replays, limits apply. Redis down: limits fail open, an explicit
    Idempotency-Key fails closed (503), and identical bodies are still enqueued once: the
    embedded queue remembers them in its own commit (``SendsOnce``), not in Redis."""
    from helios.adapters.redis.connection import connect
    from helios.adapters.redis.idempotency import RedisIdempotencyStore
    from helios.adapters.redis.rate_limit import RedisRateLimiter

    config = ApiConfig(rate_per_integration=0.5, burst_per_integration=3)
    for url, up in ((redis_url, True), ("redis://127.0.0.1:1/0", False)):
        client = connect(url)
        async with EmbeddedQueue(path=tmp_path / f"q{up}.db") as queue:
            async for api in make_api(
                queue,
                ca,
                config=config,
                limiter=RedisRateLimiter(client),
                idempotency=RedisIdempotencyStore(client),
            ):
                issued = api.integration(SourceKind.ALERTMANAGER)
                target = f"/v1/ingest/alertmanager/{issued.routing_key}"
                body = payload("webhook_v4_firing.json")
                keyed = [
                    (await api.client.post(target, content=body, headers={"Idempotency-Key": "a"}))
                    for _ in range(2)
                ]
                plain = [(await api.client.post(target, content=body)) for _ in range(3)]
                if up:
                    assert [r.status_code for r in keyed] == [202, 202]
                    assert keyed[0].json() == keyed[1].json()
                    assert [r.status_code for r in plain] == [202, 429, 429]
                    assert plain[0].json()["status"] == "accepted"
                else:
                    assert [r.status_code for r in keyed] == [503, 503]
                    assert [r.status_code for r in plain] == [202, 202, 202]
                    statuses = [r.json()["status"] for r in plain]
                    assert statuses == ["accepted", "duplicate", "duplicate"]
                    assert len(await api.drain(expected=1)) == 1
                    ready = await api.client.get("/readyz")
                    assert ready.status_code == 503
                    assert ready.json()["checks"]["limiter"].startswith("failed")
        await client.aclose()


# --- operations ---------------------------------------------------------------------------------


async def test_health_readiness_and_metrics_are_served(api_embedded: Api) -> None:
    """healthz is up, readyz checks every service, metrics count envelopes by outcome."""
    api = api_embedded
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"store": "ok", "queue": "ok", "limiter": "ok"}
    issued = api.integration(SourceKind.ALERTMANAGER)
    response = await api.client.post(
        f"/v1/ingest/alertmanager/{issued.routing_key}",
        content=payload("webhook_v4_firing.json"),
        headers={"X-Request-ID": "req-7"},
    )
    assert response.headers["x-request-id"] == "req-7"
    metrics = await api.client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert 'helios_envelopes_total{source="alertmanager",outcome="accepted"} 1' in text
    assert 'route="/v1/ingest/alertmanager/{key}",status="202"' in text
    assert issued.routing_key not in text
    # The backlog gauges: the accepted envelope waits in the queue (no worker runs here).
    assert 'helios_queue_depth{queue="ingest"} 1' in text
    assert 'helios_queue_dead_letters{queue="ingest"} 0' in text
    assert 'helios_queue_oldest_message_age_seconds{queue="ingest"} ' in text
    assert 'helios_dependency_up{dependency="queue"} 1' in text
    assert 'helios_dependency_up{dependency="store"} 1' in text

    # Refused deliveries are counted too, by what was wrong: the alert rules watch them.
    bad = await api.client.post(
        f"/v1/ingest/alertmanager/{issued.routing_key}", content=b'{"alerts": 7}'
    )
    assert bad.status_code == 400
    unknown = await api.client.post("/v1/ingest/alertmanager/not-a-key", content=b"{}")
    assert unknown.status_code == 401
    text = (await api.client.get("/metrics")).text
    assert 'helios_envelopes_total{source="alertmanager",outcome="rejected"} 1' in text
    assert 'helios_envelopes_total{source="alertmanager",outcome="unauthorized"} 1' in text


async def test_the_schema_page_is_html_and_the_openapi_document_is_json_as_documented(
    api_embedded: Api,
) -> None:
    """``/schema`` is a page for people; the OpenAPI document is ``/schema/openapi.json``, and
    docs/ingestion.md says so."""
    api = api_embedded
    page = await api.client.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    document = await api.client.get("/schema/openapi.json")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.")
    assert "/v2/enqueue" in document.json()["paths"]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ingestion.md").read_text()
    rows = {line.split("|")[1].strip(): line.split("|")[2] for line in docs.splitlines()
            if line.startswith("| `GET /schema")}  # fmt: skip
    assert "OpenAPI document" in rows["`GET /schema/openapi.json`"]
    assert "HTML" in rows["`GET /schema`"]
