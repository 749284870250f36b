"""The app's Insights page in a real browser: what analytics published for the tenant (the
overview, trends in words, ranked suggestions with their what-if, the weekly reports), kept
for offline; an admin's suggestion leads to the admin console's rules preview, pre-filled."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from insight_documents import NOISY_ID, REPORT_ID, add_report, publish
from playwright.sync_api import BrowserContext, Page, expect
from test_admin_console import seed_console
from test_query_api import PASSWORD, World, start_world

from helios.apps.composition import Services
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.http.responder_app import is_built
from helios.domain.access import Role

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Insights published for the first tenant only (the second has none yet)."""
    if not is_built():
        pytest.fail("the app is not built: bash scripts/build_app.sh")
    read_models: list[str] = []

    def app(services: Services) -> Any:
        read_models.append(services.settings.effective_read_models_url)
        return create_app(services, config=ApiConfig())

    data_dir = tmp_path_factory.mktemp("app-insights")
    made = start_world(
        postgres_url, redis_session_url, data_dir, app=app, seed=seed_console(data_dir)
    )
    running = next(made)
    publish(read_models[-1], running.tenants[0].tenant_id)
    add_report(read_models[-1], running.tenants[0].tenant_id)
    yield running
    next(made, None)


def _sign_in(page: Page, world: World, tenant: int = 0) -> None:
    page.goto(f"{world.base}/app/")
    page.get_by_label("Tenant").fill(world.tenants[tenant].tenant_id)
    page.get_by_label("Email").fill(world.tenants[tenant].emails[Role.RESPONDER])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )


def _serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def _suggestion(page: Page, title: str) -> Any:
    return page.get_by_role("article", name=re.compile(title))


def test_a_responder_reads_the_overview_trends_and_a_suggestions_what_if(
    page: Page, context: BrowserContext, world: World, artifacts: Path
) -> None:
    """Insights is in the navigation; its numbers are those analytics published; offline, a
    reload shows the kept copy; a responder is not offered the rules preview."""
    _sign_in(page, world)
    page.get_by_role("link", name="Insights", exact=True).click()
    expect(page.get_by_role("heading", name="Insights", level=1)).to_be_visible()
    overview = page.get_by_role("region", name="Last 30 days")
    expect(overview.get_by_text("795", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(overview.get_by_text("25 %", exact=True)).to_be_visible()  # noise ratio
    expect(overview.get_by_text("4 min / 25 min")).to_be_visible()  # MTTA p50 / p90
    expect(
        overview.get_by_role("img", name=re.compile(r"Signals per day: 795 in 30 days"))
    ).to_be_visible()
    expect(
        page.get_by_text("up 200 % week over week (10 → 30), p = 0.002 — significant")
    ).to_be_visible()
    expect(page.get_by_text(re.compile(r"up 40 % .* p = 0\.31 — not significant"))).to_be_visible()
    noisy = _suggestion(page, "DiskFull pages")
    expect(noisy.get_by_text("would have cut 21 pages to 0", exact=False)).to_be_visible()
    what_if = noisy.locator(".what-if dl")
    expect(what_if.get_by_text("Pages of this alert")).to_be_visible()
    assert what_if.locator("dd").all_inner_texts()[:2] == ["21 → 0", "41 → 20"]
    expect(noisy.locator("code")).to_contain_text('matchers = ["alertname=DiskFull"]')
    expect(page.get_by_role("link", name="Open in the rules preview")).to_have_count(0)
    assert _serious_violations(page) == []
    for width, height in ((375, 812), (1280, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(artifacts / f"insights-{width}.png"), full_page=True)
    # The weekly report opens in the app, its own page in a frame.
    page.get_by_role("link", name=f"Week {REPORT_ID}").click()
    report = page.frame_locator("iframe.report")
    expect(report.get_by_text("12 pages this week")).to_be_visible(timeout=TIMEOUT_MS)
    assert _serious_violations(page) == []
    # Offline: the page is read from the copy kept.
    page.goto(f"{world.base}/app/#/insights")
    expect(noisy).to_be_visible(timeout=TIMEOUT_MS)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_text(re.compile(r"Offline — as of"))).to_be_visible(timeout=TIMEOUT_MS)
        expect(_suggestion(page, "DiskFull pages").get_by_text("21 → 0")).to_be_visible()
    finally:
        context.set_offline(False)


def test_an_admin_opens_a_suggestion_in_the_rules_preview_pre_filled(
    page: Page, world: World
) -> None:
    """Signed in to the app with an admin's token and to the console: the suggestion's link
    opens the console's rules page with the change at the end of the draft."""
    tenant = world.tenants[0]
    page.goto(f"{world.base}/admin/sign-in")
    form = page.get_by_role("region", name="Tenant admin or owner")
    form.get_by_label("Tenant").fill(tenant.tenant_id)
    form.get_by_label("Email").fill(tenant.emails[Role.ADMIN])
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile("/sign-in"), timeout=TIMEOUT_MS)
    page.goto(f"{world.base}/app/")
    page.get_by_role("button", name="Personal token").click()
    page.get_by_label("Personal API token").fill(tenant.tokens[Role.ADMIN])
    page.get_by_role("button", name="Sign in").click()
    # Signed in (the token kept) before leaving the page, or the insights page starts signed out.
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )
    page.goto(f"{world.base}/app/#/insights")
    link = _suggestion(page, "DiskFull pages").get_by_role("link", name="Open in the rules preview")
    expect(link).to_have_attribute(
        "href", re.compile(re.escape("/admin/rules?proposal=")), timeout=TIMEOUT_MS
    )
    # Only a suggestion that proposes a rule change has one.
    expect(page.get_by_role("link", name="Open in the rules preview")).to_have_count(1)
    link.click()
    expect(page.get_by_role("heading", name=re.compile("^Rules of"))).to_be_visible()
    draft = page.get_by_label("Rules (TOML)").input_value()
    assert draft.rstrip().endswith('matchers = ["alertname=DiskFull"]\nservice = "db"')
    assert NOISY_ID not in draft


def test_before_analytics_has_published_the_page_says_so(page: Page, world: World) -> None:
    _sign_in(page, world, tenant=1)
    page.goto(f"{world.base}/app/#/insights")
    expect(page.get_by_role("heading", name="Nothing published yet")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    assert _serious_violations(page) == []
