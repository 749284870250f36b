"""The admin console in Chromium: an admin signs in, edits a rule, reads the preview's
numbers, publishes, and the next decision names the new version; redrives a dead letter; a
forged post is refused. Every screen is checked with axe (no serious or critical violation),
at laptop and tablet widths, and saved as a screenshot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from test_query_api import PASSWORD, World, am_alert

from helios.domain.access import Role

LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 768, "height": 1024}
DRAFT = """[[multipliers]]
name = "db is critical"
percent = 300
matchers = ["service=db"]
"""


def check_screen(page: Page, artifacts: Path, name: str) -> None:
    """No serious or critical axe violation, no sideways scrolling at tablet width, and a
    screenshot at both widths."""
    results: Any = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"
    page.screenshot(path=str(artifacts / f"{name}-laptop.png"), full_page=True)
    page.set_viewport_size(TABLET)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at tablet width"
    page.screenshot(path=str(artifacts / f"{name}-tablet.png"), full_page=True)
    page.set_viewport_size(LAPTOP)


def sign_in(page: Page, world: World, role: Role = Role.ADMIN, tenant: int = 0) -> None:
    page.goto(f"{world.base}/admin/")
    page.get_by_label("Tenant", exact=True).fill(world.tenants[tenant].tenant_id)
    page.get_by_label("Email", exact=True).fill(world.tenants[tenant].emails[role])
    page.locator("#password").fill(PASSWORD)
    # Keyboard only: Enter submits the form.
    page.locator("#password").press("Enter")


@pytest.fixture
def laptop(page: Page) -> Page:
    page.set_viewport_size(LAPTOP)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations, accepted
    return page


def test_an_admin_edits_previews_and_publishes_a_rule_that_the_next_decision_uses(
    laptop: Page, world: World, artifacts: Path
) -> None:
    page = laptop
    world.alertmanager(0, [am_alert("SlowQueries", "db", "warning", instance="db-9")])
    world.wait_for(lambda: any("SlowQueries" in a["summary"] for a in world.alerts(0)))
    page.goto(f"{world.base}/admin/sign-in")
    check_screen(page, artifacts, "01-sign-in")
    sign_in(page, world)
    expect(page.get_by_role("heading", name=re.compile("Rules of"))).to_be_visible()
    check_screen(page, artifacts, "02-rules")

    page.get_by_label("Rules (TOML)").fill("[scoring]\nflapping_penalty = 'x'\n")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_contain_text("scoring.flapping_penalty")
    check_screen(page, artifacts, "03-draft-problems")

    page.get_by_label("Rules (TOML)").fill(DRAFT)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Alerts per priority")).to_be_visible(timeout=60_000)
    counts = page.locator("section", has_text="Alerts per priority").locator("tbody tr")
    before = sum(int(counts.nth(i).locator("td").nth(0).inner_text()) for i in range(5))
    after = sum(int(counts.nth(i).locator("td").nth(1).inner_text()) for i in range(5))
    assert before >= 1 and after == before  # the same alerts, at other priorities
    changes = page.get_by_role("heading", name=re.compile(r"Alerts whose priority changes"))
    assert int(re.findall(r"\d+", changes.inner_text())[0]) >= 1
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.get_by_text("db is critical").first).to_be_visible()
    check_screen(page, artifacts, "04-preview")

    page.get_by_role("button", name=re.compile("Publish version")).click()
    expect(page.get_by_role("status")).to_contain_text("Published version 1")
    check_screen(page, artifacts, "05-history")

    world.alertmanager(0, [am_alert("Locks", "db", "warning", instance="db-3")])
    alert = world.wait_for(
        lambda: next((a for a in world.alerts(0) if "Locks" in a["summary"]), None)
    )
    assert world.get(f"/v1/alerts/{alert['id']}").json()["ruleset_version"] == 1


def test_an_admin_redrives_a_dead_letter_and_finds_it_in_the_audit_log(
    laptop: Page, world: World, artifacts: Path
) -> None:
    page = laptop
    sign_in(page, world)
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Dead letters (1)")).to_be_visible()
    check_screen(page, artifacts, "06-jobs")
    page.locator("input[name=message_id]").first.check()
    page.get_by_role("button", name="Redrive the chosen dead letters").click()
    expect(page.get_by_role("status")).to_contain_text("Redriven: 1")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="dlq.redrive.succeeded")).to_be_visible()
    check_screen(page, artifacts, "07-audit")


def test_an_operator_sees_the_platform_jobs(laptop: Page, world: World, artifacts: Path) -> None:
    page = laptop
    page.goto(f"{world.base}/admin/sign-in")
    page.get_by_label("Operator name").fill("ops-alice")
    page.locator("#operator-password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in as operator").click()
    expect(page.get_by_role("heading", name="Projections", exact=True)).to_be_visible()
    check_screen(page, artifacts, "08-operator-jobs")


def test_a_forged_post_without_the_csrf_token_is_refused(
    laptop: Page, world: World, artifacts: Path
) -> None:
    """The browser holds a valid session, but the form did not come from the console."""
    page = laptop
    sign_in(page, world)
    expect(page.get_by_role("heading", name=re.compile("Rules of"))).to_be_visible()
    forged = page.request.post(
        f"{world.base}/admin/rules/preview", form={"draft": DRAFT, "days": "7"}
    )
    assert forged.status == 403
    page.set_content(forged.text())
    page.screenshot(path=str(artifacts / "09-forged-post-refused.png"))


def test_a_responder_is_shown_the_refusal_page(laptop: Page, world: World, artifacts: Path) -> None:
    page = laptop
    sign_in(page, world, Role.RESPONDER)
    expect(page.get_by_role("heading", name="Not for your role")).to_be_visible()
    check_screen(page, artifacts, "10-responder-refused")
