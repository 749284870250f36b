"""Field checks at the edge: a body the worker would quarantine is refused with a 4xx instead.

Each case here used to be answered 202 and then rejected by the worker's normalizer, where the
sender never sees the reason. Real HTTP requests into ``create_app`` over the embedded queue
(built as in ``test_ingest_api``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from embedded_api import (  # noqa: F401  (fixtures are registered by being imported here)
    asyncio_backend,
    embedded_api,
    local_ca,
)
from test_ingest_api import TOPIC, Api, payload, pd_event

from helios.apps.http import signatures
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import SourceKind

pytestmark = pytest.mark.anyio


def webhook(**alert_changes: Any) -> dict[str, Any]:
    """The example Alertmanager webhook with its first alert changed."""
    document = json.loads(payload("alertmanager_v4_firing.json"))
    document["alerts"][0].update(alert_changes)
    return document


def labels(**extra: Any) -> dict[str, Any]:
    return {"alertname": "CheckoutHighErrorRate", "service": "checkout", **extra}


ALERTMANAGER_CASES = {
    "a numeric label value": (
        webhook(labels=labels(port=8080)),
        "alerts[0].labels.port",
        "must be a string, not a number",
    ),
    "a NUL in a label name": (
        webhook(labels=labels(**{"bad\u0000name": "x"})),
        "alerts[0].labels",
        "invalid label name 'bad\\x00name'",
    ),
    "5,001 labels": (
        webhook(labels={f"l{i}": "v" for i in range(5001)}),
        "alerts[0].labels",
        "has 5001 labels, at most 64 allowed",
    ),
    "a 400,000-character label value": (
        webhook(labels=labels(huge="x" * 400_000)),
        "alerts[0].labels.huge",
        "is 400000 characters, at most 1024 allowed",
    ),
    "startsAt in year 99999": (
        webhook(startsAt="99999-01-01T00:00:00Z"),
        "alerts[0].startsAt",
        "not an RFC 3339 timestamp: '99999-01-01T00:00:00Z'",
    ),
}


@pytest.mark.parametrize("case", sorted(ALERTMANAGER_CASES))
async def test_an_alertmanager_body_the_worker_would_quarantine_is_refused_400_naming_the_field(
    api: Api, case: str
) -> None:
    """The sender learns what is wrong; nothing reaches the queue."""
    body, field, message = ALERTMANAGER_CASES[case]
    issued = api.integration(SourceKind.ALERTMANAGER)
    response = await api.client.post(f"/v1/ingest/alertmanager/{issued.routing_key}", json=body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {"field": field, "message": message} in response.json()["errors"]
    assert await api.drain() == []


async def test_a_pagerduty_event_the_worker_would_quarantine_gets_pagerdutys_400(
    api: Api,
) -> None:
    """A 2,000-character ``payload.source`` (a label value) and a link without ``href``."""
    issued = api.integration(SourceKind.PAGERDUTY)
    event = pd_event(issued.routing_key, links=[{"text": "no href"}])
    event["payload"]["source"] = "s" * 2000
    response = await api.client.post("/v2/enqueue", json=event)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [
            "'links[0].href' is required",
            "'payload.source' is 2000 characters, at most 1024 allowed",
        ],
    }
    assert await api.drain() == []


async def test_a_grafana_body_the_worker_would_quarantine_is_refused_400(
    api: Api,
) -> None:
    """A Grafana link field that is not a string."""
    issued = api.integration(SourceKind.GRAFANA)
    document = json.loads(payload("grafana_webhook_firing.json"))
    document["alerts"][0]["dashboardURL"] = 42
    response = await api.client.post(f"/v1/ingest/grafana/{issued.routing_key}", json=document)
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"field": "alerts[0].dashboardURL", "message": "must be a string, not a number"}
    ]
    assert await api.drain() == []


async def test_a_signed_generic_event_the_worker_would_quarantine_is_refused_400(
    api: Api,
) -> None:
    """A correctly signed body whose ``occurred_at`` is not a time; the signature stays unused."""
    issued = api.integration(SourceKind.GENERIC)
    url = f"/v1/ingest/generic/{issued.routing_key}"
    now_s = api.clock() // 1000
    body = json.dumps({"action": "trigger", "occurred_at": "yesterday"}).encode()
    header = signatures.signature_header(issued.signing_secret, now_s, body)
    response = await api.client.post(url, content=body, headers={"X-Helios-Signature": header})
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {"field": "occurred_at", "message": "not an RFC 3339 timestamp: 'yesterday'"}
    ]
    # Refused before the signature was remembered: the same request is refused for its body
    # again, not as a replay.
    again = await api.client.post(url, content=body, headers={"X-Helios-Signature": header})
    assert again.status_code == 400
    assert await api.drain() == []


async def test_a_signed_cloudwatch_alarm_the_worker_would_quarantine_is_refused_400(
    api: Api,
) -> None:
    """The alarm inside the SNS message has a ``StateChangeTime`` that is not a time."""
    issued = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    message = json.loads(payload("sns_cloudwatch_notification.json"))
    for field in ("Signature", "SigningCertURL", "SignatureVersion"):
        message.pop(field)
    alarm = json.loads(message["Message"])
    alarm["StateChangeTime"] = "the day before"
    message["Message"] = json.dumps(alarm)
    message["Timestamp"] = format_rfc3339(api.clock())
    response = await api.client.post(
        f"/v1/ingest/cloudwatch/{issued.routing_key}", json=api.ca.sign(message)
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"] == [
        {
            "field": "Message.StateChangeTime",
            "message": "not an RFC 3339 timestamp: 'the day before'",
        }
    ]
    assert await api.drain() == []
