"""PagerDuty's change events endpoint, ``/v2/change/enqueue``, and PagerDuty's 404 for any other
path under ``/v2/``: real HTTP requests into ``create_app`` (see ``test_ingest_api``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from embedded_api import (  # noqa: F401  (fixtures are registered by being imported here)
    asyncio_backend,
    embedded_api,
    local_ca,
)
from test_ingest_api import Api, payload

from helios.domain.values import SourceKind

pytestmark = pytest.mark.anyio


def change_event(routing_key: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(payload("pagerduty_v2_change.json"))
    event["routing_key"] = routing_key
    event.update(changes)
    return event


async def test_the_documented_change_event_is_answered_as_pagerduty_does(
    api: Api,
) -> None:
    """202 ``Change event processed``; the raw body is enqueued as a change envelope."""
    issued = api.integration(SourceKind.PAGERDUTY)
    body = json.dumps(change_event(issued.routing_key)).encode()
    response = await api.client.post("/v2/change/enqueue", content=body)
    assert response.status_code == 202, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "success", "message": "Change event processed"}
    [(envelope, _)] = await api.drain(expected=1)
    assert envelope.source is SourceKind.PAGERDUTY_CHANGE
    assert envelope.body == body
    assert envelope.tenant == api.tenant
    assert envelope.integration == issued.integration.integration_id


async def test_an_invalid_change_event_gets_pagerdutys_400_naming_each_field(
    api: Api,
) -> None:
    """Field errors in PagerDuty's shape; nothing is enqueued."""
    issued = api.integration(SourceKind.PAGERDUTY)
    event = change_event(issued.routing_key, links="not a list")
    event["payload"] = {"summary": "", "timestamp": "last tuesday", "source": 7}
    response = await api.client.post("/v2/change/enqueue", json=event)
    assert response.status_code == 400
    document = response.json()
    assert document["status"] == "invalid event"
    assert document["message"] == "Event object is invalid"
    assert set(document["errors"]) == {
        "'payload.summary' is missing or blank",
        "'payload.timestamp' is not an ISO 8601 time",
        "'payload.source' must be a string",
        "'links' must be an array",
    }
    missing = await api.client.post("/v2/change/enqueue", json={"routing_key": "k"})
    assert missing.json()["errors"] == ["'payload' is missing or not an object"]
    assert await api.drain() == []


async def test_a_routing_key_that_is_not_a_pagerduty_integrations_is_a_400(
    api: Api,
) -> None:
    """Unknown keys and keys of other kinds of integration: PagerDuty's invalid event (the
    latter saying which kind the key is and where it works)."""
    other = api.integration(SourceKind.ALERTMANAGER)
    unknown = await api.client.post("/v2/change/enqueue", json=change_event("x" * 32))
    assert unknown.status_code == 400
    assert unknown.json()["errors"] == ["'routing_key' is not a valid routing key"]
    response = await api.client.post("/v2/change/enqueue", json=change_event(other.routing_key))
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error.startswith("'routing_key' belongs to an alertmanager integration")
    assert error.endswith("POST /v2/change/enqueue takes the key of a pagerduty integration")
    assert await api.drain() == []


async def test_the_same_change_sent_twice_at_once_is_enqueued_once(api: Api) -> None:
    """A retried request within the dedup window is answered 202 again, not recorded twice."""
    issued = api.integration(SourceKind.PAGERDUTY)
    body = json.dumps(change_event(issued.routing_key)).encode()
    for _ in range(2):
        response = await api.client.post("/v2/change/enqueue", content=body)
        assert response.status_code == 202
        assert response.json()["message"] == "Change event processed"
    assert len(await api.drain(expected=1)) == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/v2/change/enqueu", 404),
        ("POST", "/v2/nothing/here", 404),
        ("POST", "/v2/", 404),
        ("GET", "/v2/enqueue", 405),
        ("GET", "/v2/change/enqueue", 405),
    ],
)
async def test_anything_else_under_v2_is_answered_in_pagerdutys_shape(
    api: Api, method: str, path: str, status: int
) -> None:
    """A PagerDuty client pointed at a wrong path gets JSON it can read, not a problem."""
    response = await api.client.request(method, path, json={"routing_key": "k"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["status"] and document["message"]
    assert "type" not in document


async def test_helios_own_paths_still_answer_problem_documents(api: Api) -> None:
    """Only /v2/ speaks PagerDuty."""
    response = await api.client.post("/v1/nothing/here")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
