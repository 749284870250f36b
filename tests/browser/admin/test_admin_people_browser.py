"""The console's people and integrations pages in Chromium: an owner invites an admin, the
invitation is read in the SMTP sink, its link is followed to choose a password, and the new
admin signs in; an integration is created and its key rotated, and both keys are accepted
during the overlap. Every screen is checked with axe and saved as a screenshot."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from test_admin_browser import LAPTOP, check_screen, sign_in
from test_admin_console import seed_console
from test_query_api import World, start_world
from test_user_lifecycle_api import mail_to, parts

from helios.adapters.smtp import SmtpMailer
from helios.apps.composition import Services
from helios.apps.http.app import create_app
from helios.domain.access import Role
from services import SmtpSink

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def world(
    postgres_url: str,
    redis_session_url: str,
    smtp_sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    """The browser tests' world, with invitations sent to the SMTP sink."""

    def app(services: Services) -> Any:
        return create_app(services, mailer=SmtpMailer(host=smtp_sink.host, port=smtp_sink.port))

    data_dir = tmp_path_factory.mktemp("admin-people-browser")
    made = start_world(
        postgres_url, redis_session_url, data_dir, app=app, seed=seed_console(data_dir)
    )
    yield next(made)
    next(made, None)


@pytest.fixture
def laptop(page: Page) -> Page:
    page.set_viewport_size(LAPTOP)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations, accepted
    return page


def test_an_owner_invites_an_admin_who_accepts_by_email_and_signs_in(
    laptop: Page, world: World, smtp_sink: SmtpSink, artifacts: Path
) -> None:
    page = laptop
    tenant = world.tenants[0]
    email = f"new-{uuid.uuid4().hex[:8]}@alpha.example"
    sign_in(page, world, Role.OWNER)
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name=re.compile("Users of"))).to_be_visible()
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"Invited {email}")
    expect(page.get_by_role("row", name=re.compile(re.escape(email)))).to_contain_text("invited")
    check_screen(page, artifacts, "10-users")

    (message,) = mail_to(world, smtp_sink, email)
    link = re.search(r"https?://\S+#token=\S+", parts(message)["text/plain"])
    assert link is not None
    page.get_by_role("button", name="Sign out").click()
    page.goto(link.group(0))
    expect(page.get_by_label(re.compile("Invitation code"))).to_be_hidden()  # filled from the link
    assert "#token" not in page.url  # and dropped from the address bar
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("The same password again").fill(NEW_PASSWORD)
    check_screen(page, artifacts, "11-accept-invitation")
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_role("status")).to_contain_text("you are a admin")
    check_screen(page, artifacts, "12-invitation-accepted")

    page.get_by_role("link", name="Sign in to the admin console").click()
    page.get_by_label("Tenant", exact=True).fill(tenant.tenant_id)
    page.get_by_label("Email", exact=True).fill(email)
    page.locator("#password").fill(NEW_PASSWORD)
    page.locator("#password").press("Enter")
    expect(page.get_by_text(f"{email} · admin of {tenant.tenant_id}")).to_be_visible()
    page.get_by_role("link", name="Users").click()
    row = page.get_by_role("row", name=re.compile(re.escape(email)))
    expect(row).to_contain_text("active")
    row.get_by_role("link").click()
    expect(page.get_by_role("cell", name="session").first).to_be_visible()
    check_screen(page, artifacts, "13-user")


def test_an_admin_rotates_a_key_and_both_keys_are_accepted_during_the_overlap(
    laptop: Page, world: World, artifacts: Path
) -> None:
    page = laptop
    sign_in(page, world, Role.ADMIN, tenant=1)
    page.get_by_role("link", name="Integrations").click()
    page.get_by_label("Kind").select_option("alertmanager")
    page.get_by_label("Name (optional)").fill("prometheus-eu")
    page.get_by_role("button", name="Create the integration").click()
    old = page.locator("#routing-key").inner_text()
    check_screen(page, artifacts, "14-integration-created")

    page.get_by_role("link", name="Back to the integrations").click()
    assert old not in page.content()  # shown once only
    page.get_by_text(re.compile("Rotate or revoke prometheus-eu")).click()
    details = page.locator("details", has_text="prometheus-eu")
    grace = details.get_by_label(re.compile("seconds the current routing key"))
    expect(grace).to_have_value("86400")  # the command line's default
    grace.fill("600")
    check_screen(page, artifacts, "15-integrations")
    details.get_by_role("button", name="Rotate the routing key").click()
    new = page.locator("#routing-key").inner_text()
    assert new != old
    expect(page.get_by_role("row", name=re.compile("Previous key"))).to_contain_text("UTC")
    check_screen(page, artifacts, "16-key-rotated")

    body = {"version": "4", "status": "firing", "receiver": "helios", "alerts": []}
    for key in (old, new):
        sent = world.http.post(f"/v1/ingest/alertmanager/{key}", json=body)
        assert sent.status_code == 202, sent.text
    page.get_by_role("link", name="Back to the integrations").click()
    expect(page.get_by_role("row", name=re.compile("prometheus-eu"))).to_contain_text(
        "previous key accepted until"
    )
    page.get_by_role("link", name="Feature flags").click()
    page.get_by_label("Name (lower case, digits and _)").fill("beta_banner")
    page.get_by_role("button", name="Define the flag (off)").click()
    percent = page.get_by_label("Percent of alerts for beta_banner")
    percent.fill("150")
    assert percent.evaluate("field => field.validity.rangeOverflow")  # the browser says so
    # A client that does not check: the server names the field.
    percent.evaluate("field => { field.form.noValidate = true; }")
    page.get_by_role("button", name="Set the rollout of beta_banner").click()
    expect(page.get_by_role("alert")).to_contain_text("percent")
    expect(page.get_by_label("Percent of alerts for beta_banner")).to_have_attribute(
        "aria-invalid", "true"
    )
    check_screen(page, artifacts, "17-flags")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="integration.key_rotated")).to_be_visible()
    check_screen(page, artifacts, "18-audit")
