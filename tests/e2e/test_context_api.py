"""What the sender gave, shown back: links and details of every signal on the alert detail, and
of the latest trigger on the list; through a real Helios on loopback (see ``test_query_api``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_query_api import World, _now_iso, am_alert, start_world


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("context"))
    yield next(made)
    next(made, None)


def pagerduty(world: World, **event: Any) -> dict[str, Any]:
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
    pagerduty(
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
        pagerduty(
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
