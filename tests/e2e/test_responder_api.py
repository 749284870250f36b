"""What the responders' app needs of the API, end to end on a running Helios: actions that
a retry cannot repeat (``Idempotency-Key``), actions conditional on what the person saw
(``If-Match`` → 412), the live stream of the tenant's activity (``/v1/live``), and ``/app/``
when no app was built."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_query_api import World, am_alert, seed_alerts, start_world

from helios.domain.access import Role

_RESPONDER = Role.RESPONDER
_VIEWER = Role.VIEWER


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("responder"))
    running = next(made)
    seed_alerts(running)
    yield running
    next(made, None)


def _fresh_alert(world: World, name: str) -> dict[str, Any]:
    world.alertmanager(0, [am_alert(name, "web", "critical", instance="w-1")])
    [found] = world.wait_for(lambda: world.alerts(q=name.lower()))
    return dict(found)


def _human_signals(world: World, alert_id: str) -> list[dict[str, Any]]:
    detail = world.get(f"/v1/alerts/{alert_id}").json()
    return [s for s in detail["signals"] if s["source"].startswith("user:")]


def test_an_acknowledgement_retried_with_one_key_is_one_human_signal(world: World) -> None:
    """Three posts with one key: one action id, one human signal; the key with resolve: 422."""
    alert = _fresh_alert(world, f"Retried{uuid.uuid4().hex[:6]}")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    path = f"/v1/alerts/{alert['id']}"
    answers = [
        world.http.post(f"{path}/acknowledge", headers={**world.auth(_RESPONDER), **key})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.json()["action_id"] for a in answers}) == 1
    reused = world.http.post(f"{path}/resolve", headers={**world.auth(_RESPONDER), **key})
    assert reused.status_code == 422
    assert reused.headers["content-type"].startswith("application/problem+json")
    world.wait_for(lambda: world.get(path).json()["alert"]["status"] == "acknowledged")
    assert len(_human_signals(world, alert["id"])) == 1


def test_an_action_on_a_version_the_alert_has_left_is_a_412_naming_the_current_one(
    world: World,
) -> None:
    """If-Match with an old version: 412 and the ETag of the current version; with the
    current one: 202; a malformed one: 400 naming If-Match."""
    alert = _fresh_alert(world, f"Versioned{uuid.uuid4().hex[:6]}")
    path = f"/v1/alerts/{alert['id']}/acknowledge"
    version = alert["version"]
    assert version > 0
    stale = world.http.post(
        path, headers={**world.auth(_RESPONDER), "If-Match": f'"{version - 1}"'}
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["type"] == "urn:helios:problem:precondition-failed"
    assert stale.headers["etag"] == f'"{version}"'
    bad = world.http.post(path, headers={**world.auth(_RESPONDER), "If-Match": "yesterday"})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["If-Match"]
    current = world.http.post(path, headers={**world.auth(_RESPONDER), "If-Match": f'"{version}"'})
    assert current.status_code == 202, current.text


def test_a_note_retried_with_one_key_is_recorded_once(world: World) -> None:
    """Two posts of one note under one key: the same answer, one line on the timeline."""
    incident = world.get("/v1/incidents").json()["items"][0]["id"]
    text = f"looking {uuid.uuid4().hex[:6]}"
    headers = {**world.auth(_RESPONDER), "Idempotency-Key": uuid.uuid4().hex}
    answers = [
        world.http.post(f"/v1/incidents/{incident}/notes", headers=headers, json={"text": text})
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()

    def notes() -> list[Any]:
        timeline = world.get(f"/v1/incidents/{incident}").json()["timeline"]
        return [t for t in timeline if t["kind"] == "note_added" and t["detail"]["text"] == text]

    world.wait_for(notes)
    assert len(notes()) == 1


def _events(text: str) -> list[dict[str, str]]:
    """The events of a server-sent event stream, as field → value."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and ": " in line)
        if fields and not block.startswith(":"):
            events.append(fields)
    return events


def test_the_live_stream_resumes_after_the_last_event_id_and_shows_only_the_tenants_lines(
    world: World,
) -> None:
    """From Last-Event-ID 0: the tenant's lines in log order, none of the other tenant's;
    from the last id seen: only what came after it; a bad id: 400 naming the header."""
    response = world.http.get("/v1/live", headers={**world.auth(_VIEWER), "Last-Event-ID": "0"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = [e for e in _events(response.text) if e.get("event") == "activity"]
    ids = [int(e["id"]) for e in lines]
    assert ids and ids == sorted(ids)
    other = world.http.get("/v1/activity", headers=world.auth(_VIEWER, tenant=1)).json()
    assert not {i["id"] for i in other["items"]} & set(ids)
    name = f"Live{uuid.uuid4().hex[:6]}"
    _fresh_alert(world, name)
    resumed = world.http.get(
        "/v1/live", headers={**world.auth(_VIEWER), "Last-Event-ID": str(ids[-1])}
    )
    newer = [e for e in _events(resumed.text) if e.get("event") == "activity"]
    assert newer and all(int(e["id"]) > ids[-1] for e in newer)
    assert any(name in e["data"] for e in newer)
    bad = world.http.get("/v1/live", headers={**world.auth(_VIEWER), "Last-Event-ID": "x"})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["Last-Event-ID"]


def test_a_new_live_client_starts_at_the_latest_line(world: World) -> None:
    """No Last-Event-ID: a ready event whose id is the tenant's latest line, no old lines."""
    latest = world.get("/v1/activity", params={"limit": 1}).json()["items"][0]["id"]
    response = world.http.get("/v1/live", headers=world.auth(_VIEWER))
    events = [e for e in _events(response.text) if "event" in e]
    assert events[0]["event"] == "ready"
    assert int(events[0]["id"]) >= latest
    assert all(int(e["id"]) > latest for e in events if e.get("event") == "activity")


def test_the_live_stream_needs_a_token(world: World) -> None:
    """No token: 401 problem, no stream."""
    response = world.http.get("/v1/live")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_action_reads_pending_then_recorded_and_another_tenant_cannot_read_it(
    world: World,
) -> None:
    """The 202's action id: recorded once the workers ran; an id never used: pending; an id
    no action can have, or the alert asked through the other tenant: 404."""
    alert = _fresh_alert(world, f"Outcome{uuid.uuid4().hex[:6]}")
    accepted = world.http.post(
        f"/v1/alerts/{alert['id']}/acknowledge", headers=world.auth(_RESPONDER)
    ).json()
    path = f"/v1/alerts/{alert['id']}/actions/{accepted['action_id']}"
    world.wait_for(lambda: world.get(path).json()["state"] == "recorded")
    assert world.get(path).json() == {
        "action_id": accepted["action_id"],
        "alert_id": alert["id"],
        "state": "recorded",
        "reason": "",
    }
    unknown = world.get(f"/v1/alerts/{alert['id']}/actions/{uuid.uuid4().hex}").json()
    assert unknown["state"] == "pending"
    assert world.get(path, tenant=1).status_code == 404
    assert world.get(f"/v1/alerts/{alert['id']}/actions/not-an-id").status_code == 404


def test_a_silence_preview_lists_the_open_alerts_it_would_cover_and_creates_nothing(
    world: World,
) -> None:
    """Equality and RE2 patterns against the tenant's open alerts only; a pattern RE2 refuses
    is a 400 naming the matcher's value; no silence is created."""
    silences_before = world.get("/v1/silences").json()["items"]

    def preview(*matchers: tuple[str, str, str]) -> Any:
        body = {"matchers": [{"name": n, "op": o, "value": v} for n, o, v in matchers]}
        return world.http.post("/v1/silences/preview", headers=world.auth(_VIEWER), json=body)

    exact = preview(("alertname", "=", "DiskFull")).json()
    assert [a["labels"]["alertname"] for a in exact["items"]] == ["DiskFull"]
    assert exact["complete"] is True and exact["scanned"] >= 1
    pattern = preview(("alertname", "=~", "Disk.*|High.*"), ("service", "!=", "api")).json()
    assert {a["labels"]["alertname"] for a in pattern["items"]} == {"DiskFull"}
    # Tenant 1's BetaOnly is another tenant's: never previewed here.
    assert preview(("alertname", "=", "BetaOnly")).json()["items"] == []
    refused = preview(("alertname", "=~", "(unclosed"))
    assert refused.status_code == 400
    assert [e["field"] for e in refused.json()["errors"]] == ["matchers[0].value"]
    assert world.get("/v1/silences").json()["items"] == silences_before
