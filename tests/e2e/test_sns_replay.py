"""SNS messages have a replay window: a stale ``Timestamp`` is refused, a ``MessageId`` counts once.

Messages are signed for real with a local CA's certificate, as ``test_ingest_api`` makes them,
and posted to ``create_app`` over the embedded queue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from embedded_api import (  # noqa: F401  (fixtures are registered by being imported here)
    asyncio_backend,
    embedded_api,
    local_ca,
)
from test_ingest_api import TOPIC, Api, Ca, make_api, payload

from helios.adapters.embedded_queue import EmbeddedQueue
from helios.apps.http.config import ApiConfig
from helios.domain.timestamps import format_rfc3339, parse_rfc3339
from helios.domain.values import SourceKind

pytestmark = pytest.mark.anyio
MINUTE_MS = 60_000


def alarm_message(at_ms: int, *, message_id: str = "7b3f2c1e-9a4d-5e6f-8a1b-2c3d4e5f6a7b") -> Any:
    """The example CloudWatch notification, unsigned, published at ``at_ms``."""
    message = json.loads(payload("sns_cloudwatch_notification.json"))
    for field in ("Signature", "SigningCertURL", "SignatureVersion"):
        message.pop(field)
    message["Timestamp"] = format_rfc3339(at_ms)
    message["MessageId"] = message_id
    return message


async def test_a_validly_signed_message_from_2024_is_refused_naming_its_timestamp(
    api: Api,
) -> None:
    """The signature verifies, but the message is far outside the replay window: 401."""
    issued = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    signed = api.ca.sign(alarm_message(parse_rfc3339("2024-05-01T10:00:00Z")))
    response = await api.client.post(f"/v1/ingest/cloudwatch/{issued.routing_key}", json=signed)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    [error] = response.json()["errors"]
    assert error["field"] == "Timestamp"
    assert "3900 s" in error["message"]
    assert await api.drain() == []


async def test_a_message_sns_still_retries_is_accepted_and_an_older_or_future_one_refused(
    api: Api,
) -> None:
    """SNS retries an HTTP delivery for at most an hour: 59 minutes old passes, 2 hours and
    10 minutes ahead of the API's clock do not."""
    issued = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    url = f"/v1/ingest/cloudwatch/{issued.routing_key}"
    now = api.clock()
    statuses = [
        (
            await api.client.post(url, json=api.ca.sign(alarm_message(at, message_id=f"m{i}")))
        ).status_code
        for i, at in enumerate((now - 59 * MINUTE_MS, now - 120 * MINUTE_MS, now + 10 * MINUTE_MS))
    ]
    assert statuses == [202, 401, 401]
    assert len(await api.drain(expected=1)) == 1


async def test_a_resent_message_id_is_a_duplicate_after_the_content_window_and_with_new_fields(
    api: Api,
) -> None:
    """The MessageId is remembered for the whole window: a resend 11 s later, or with an
    unsigned field added (new bytes, same signature), is not enqueued again; once the window
    has passed, the message is refused as stale, so it is never enqueued twice."""
    issued = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    url = f"/v1/ingest/cloudwatch/{issued.routing_key}"
    signed = api.ca.sign(alarm_message(api.clock()))
    first = await api.client.post(url, json=signed)
    assert first.json()["status"] == "accepted"
    api.clock.now_ms += 11_000
    again = await api.client.post(url, json=signed)
    padded = await api.client.post(url, json={**signed, "Padding": "not signed"})
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    assert (padded.status_code, padded.json()["status"]) == (202, "duplicate")
    api.clock.now_ms += 3900 * 1000
    late = await api.client.post(url, json={**signed, "Padding": "other"})
    assert late.status_code == 401
    assert len(await api.drain(expected=1)) == 1


async def test_message_ids_are_remembered_per_integration(api: Api) -> None:
    """Two integrations subscribed to one topic both get the message."""
    first = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    second = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
    signed = api.ca.sign(alarm_message(api.clock()))
    for issued in (first, second):
        response = await api.client.post(f"/v1/ingest/cloudwatch/{issued.routing_key}", json=signed)
        assert response.json()["status"] == "accepted"
    assert len(await api.drain(expected=2)) == 2


async def test_the_replay_window_is_configurable(tmp_path: Path, ca: Ca) -> None:
    """With a 60 s window, a message two minutes old is refused."""
    async with EmbeddedQueue(path=tmp_path / "q.db") as queue:
        async for api in make_api(queue, ca, config=ApiConfig(sns_max_age_s=60)):
            issued = api.integration(SourceKind.CLOUDWATCH, allowed_topics=[TOPIC])
            url = f"/v1/ingest/cloudwatch/{issued.routing_key}"
            old = api.ca.sign(alarm_message(api.clock() - 2 * MINUTE_MS, message_id="old"))
            fresh = api.ca.sign(alarm_message(api.clock() - 30_000, message_id="fresh"))
            assert (await api.client.post(url, json=old)).status_code == 401
            assert (await api.client.post(url, json=fresh)).status_code == 202
