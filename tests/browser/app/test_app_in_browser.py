"""The responders' app in a real browser against a running Helios: sign in, see an alert
arrive live, read why it has its priority, acknowledge it; offline, acknowledge another and
see it queued, reload and read the kept data under the offline banner; online again, the
queued action is sent exactly once."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect
from test_query_api import PASSWORD, World, am_alert

from helios.domain.access import Role

TIMEOUT_MS = 15_000
STARTED_AT = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
"""When every alert of these tests started firing (one time: a resend is the same alert)."""


def _sign_in(page: Page, world: World) -> None:
    page.goto(f"{world.base}/app/")
    page.get_by_label("Tenant").fill(world.tenants[0].tenant_id)
    page.get_by_label("Email").fill(world.tenants[0].emails[Role.RESPONDER])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )


def _send(world: World, name: str, *, receiver: str = "helios") -> dict[str, Any]:
    """An Alertmanager webhook with one alert (the same alert for a name, whichever receiver
    sends it: an HA pair's two members); the alert as the API lists it."""
    alert = am_alert(name, "checkout", "critical", instance="c-1")
    alert["startsAt"] = STARTED_AT
    body = {"version": "4", "status": "firing", "receiver": receiver, "alerts": [alert]}
    key = world.tenants[0].webhook_key
    assert world.http.post(f"/v1/ingest/alertmanager/{key}", json=body).status_code == 202
    [found] = world.wait_for(lambda: world.alerts(q=name.lower()))
    return dict(found)


def _human_signals(world: World, alert_id: str) -> int:
    detail = world.get(f"/v1/alerts/{alert_id}").json()
    return sum(1 for s in detail["signals"] if s["source"].startswith("user:"))


def _serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_a_responder_sees_an_alert_arrive_live_reads_why_and_acknowledges_it(
    page: Page, world: World, artifacts: Path
) -> None:
    """Signed in on the alert list, a webhook's alert appears without a reload; its page
    explains the score in words and numbers; Acknowledge is recorded as a human signal. No
    request leaves loopback; axe finds nothing serious, in light or dark mode."""
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
    _sign_in(page, world)
    assert _serious_violations(page) == []
    page.get_by_role("link", name="Alerts", exact=True).click()
    # Exact: until the list replaces the dashboard, three of its headings hold "Alerts", and a
    # locator matching several elements fails at once instead of waiting.
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    page.wait_for_timeout(1500)  # the live stream is connected
    name = f"Checkout{uuid.uuid4().hex[:6]}"
    sent = _send(world, name)
    row = page.get_by_role("link", name=re.compile(name))
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    # The HA twin sends it again (its own receiver: a body of its own, past the edge's
    # content dedup): a duplicate on the alert's timeline.
    _send(world, name, receiver="helios-twin")
    for width, height in ((375, 812), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(artifacts / f"alerts-{width}.png"), full_page=True)
    row.click()
    expect(page.get_by_role("heading", name=re.compile(r"^Why P\d: score \d+"))).to_be_visible()
    expect(page.locator("table.factors tbody tr").first).to_be_visible()
    expect(page.locator("ol.timeline .badge", has_text="duplicate").first).to_be_visible(
        timeout=TIMEOUT_MS
    )
    assert _serious_violations(page) == []
    for width, height in ((375, 812), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(artifacts / f"alert-{width}.png"), full_page=True)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status").filter(has_text="Acknowledged.")).to_be_visible()
    # The app asks what became of it: the workers recorded it.
    expect(page.get_by_role("status").filter(has_text="Recorded.")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    world.wait_for(
        lambda: world.get(f"/v1/alerts/{sent['id']}").json()["alert"]["status"] == "acknowledged"
    )
    assert _human_signals(world, sent["id"]) == 1
    # A silence from the alert's labels: Helios previews the one open alert it would cover.
    page.get_by_role("button", name="Silence…").click()
    expect(page.get_by_role("heading", name="Would silence now: 1 open alerts")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.get_by_text(re.compile("Matched on this device"))).to_be_hidden(timeout=TIMEOUT_MS)
    expect(page.locator("section", has_text="Would silence now").get_by_text(name)).to_be_visible()
    page.goto(f"{world.base}/app/#/")
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(artifacts / "dashboard-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(artifacts / "dashboard-1280.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    expect(page.get_by_role("heading", name="Open incidents")).to_be_visible()
    assert _serious_violations(page) == []
    page.screenshot(path=str(artifacts / "dashboard-dark-1280.png"), full_page=True)
    assert hosts == {"127.0.0.1"}


def test_an_incidents_timeline_says_an_alert_joined_and_was_notified_in_one_line(
    page: Page, world: World
) -> None:
    """A new critical alert joins its incident with its notification (one decision): the
    incident's timeline says both on the alert's line."""
    sent = _send(world, f"Joined{uuid.uuid4().hex[:6]}")
    incident_id = world.wait_for(
        lambda: world.get(f"/v1/alerts/{sent['id']}").json()["alert"]["incident_id"]
    )
    _sign_in(page, world)
    page.goto(f"{world.base}/app/#/incidents/{incident_id}")
    line = page.locator("ol.timeline li", has_text=sent["dedup_key"])
    expect(line).to_have_text(
        re.compile(r"alert joined — .+, notified \(triggered\)"), timeout=TIMEOUT_MS
    )


def test_offline_an_acknowledgement_is_queued_kept_over_a_reload_and_sent_once(
    page: Page, context: BrowserContext, world: World, artifacts: Path
) -> None:
    """Offline: Acknowledge queues the action (visible), a reload shows the kept alert under
    the offline banner; online again: the action is sent, and the API holds one human signal."""
    sent = _send(world, f"Offline{uuid.uuid4().hex[:6]}")
    _sign_in(page, world)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.goto(f"{world.base}/app/#/alerts/{sent['id']}")
    expect(page.get_by_role("button", name="Acknowledge")).to_be_enabled(timeout=TIMEOUT_MS)

    context.set_offline(True)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status").filter(has_text="acknowledge queued")).to_be_visible()
    expect(page.get_by_role("button", name="1 queued")).to_be_visible()
    page.get_by_role("button", name="1 queued").click()
    expect(page.get_by_role("heading", name="Waiting to be sent")).to_be_visible()
    time.sleep(1)
    assert _human_signals(world, sent["id"]) == 0

    page.reload()
    expect(page.get_by_text(re.compile(r"Offline — as of \d{1,2}:\d{2}"))).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(page.get_by_role("heading", name=re.compile(sent["summary"]))).to_be_visible()
    expect(page.get_by_role("button", name="1 queued")).to_be_visible()
    # The queued action is still shown on the alert it acts on.
    expect(page.locator("main .badge.status")).to_have_text("acknowledged")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(artifacts / "offline-375.png"), full_page=True)

    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_role("button", name="1 queued")).to_be_hidden(timeout=TIMEOUT_MS)
    world.wait_for(
        lambda: world.get(f"/v1/alerts/{sent['id']}").json()["alert"]["status"] == "acknowledged"
    )
    time.sleep(2)  # time for a second send, had there been one
    assert _human_signals(world, sent["id"]) == 1
