"""The admin console's users, integrations and feature-flags pages end to end: the app
``helios up`` serves (API with the console at /admin) over PostgreSQL, Redis and the embedded
queue, invitations emailed through the real SMTP sink, two tenants and an operator.

Pages are driven like a console without scripts: forms posted with the CSRF token the page
carries, redirects followed, HTML read back; each action is checked where it matters (the API,
the ingest endpoint, the audit page).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from test_admin_console import OPERATOR, Browser, seed_console
from test_query_api import PASSWORD, Tenant, World, am_alert, start_world
from test_user_lifecycle_api import link_token, mail_to, parts

from helios.adapters.smtp import SmtpMailer
from helios.apps.application.tenancy import hash_key
from helios.apps.composition import Services
from helios.apps.http.app import create_app
from helios.domain import tenancy
from helios.domain.access import Role
from helios.domain.values import SourceKind
from helios.ports.event_store import AppendBatch, EventStore, StreamAppend
from services import SmtpSink

LEGACY_SECRET = "a secret from before the secret store"
USER_LINK = re.compile(r'href="/admin/users/(usr_[0-9a-f]+)">([^<]+)</a>')


@pytest.fixture(scope="module")
def world(
    postgres_url: str,
    redis_session_url: str,
    smtp_sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    def app(services: Services) -> Any:
        return create_app(services, mailer=SmtpMailer(host=smtp_sink.host, port=smtp_sink.port))

    data_dir = tmp_path_factory.mktemp("admin-people")
    console_seed = seed_console(data_dir)

    def seed(store: EventStore, tenants: list[Tenant], vault: object) -> None:
        console_seed(store, tenants, vault)
        record_legacy_integration(store, tenants[1].tenant_id)

    made = start_world(postgres_url, redis_session_url, data_dir, app=app, seed=seed)
    yield next(made)
    next(made, None)


@pytest.fixture
def console(world: World) -> Iterator[Browser]:
    made = Browser(world)
    yield made
    made.http.close()


def record_legacy_integration(store: EventStore, tenant_id: str) -> None:
    """An integration as versions before the secret store recorded it: its secret in the log."""
    created = tenancy.IntegrationCreated(
        tenant_id=tenant_id,
        integration_id="int_0ld5ecre7",
        kind=SourceKind.GENERIC,
        name="old-sender",
        key_hash=hash_key("legacy-routing-key"),
        at=1,
        signing_secret=LEGACY_SECRET,
    )
    stream = tenancy.tenant_stream_id(tenant_id)
    version = len(store.read_stream(stream))
    store.append(
        AppendBatch(
            streams=(StreamAppend(stream_id=stream, expected_version=version, events=(created,)),)
        )
    )


def fresh_email() -> str:
    return f"u{uuid.uuid4().hex[:10]}@people.example"


def user_ids(page: str) -> dict[str, str]:
    """Email → user id, from the users page."""
    return {email: user_id for user_id, email in USER_LINK.findall(page)}


def invite(console: Browser, email: str, role: str = "responder") -> str:
    """Invite ``email``; their user id."""
    done = console.post("/admin/users/invite", {"email": email, "role": role})
    assert done.status_code == 200, done.text
    assert f"Invited {email}" in done.text
    return user_ids(done.text)[email]


# --- users -------------------------------------------------------------------------------------


def test_an_admin_sees_the_tenants_users_with_their_role_and_status(
    world: World, console: Browser
) -> None:
    tenant = world.tenants[0]
    console.sign_in(tenant, Role.ADMIN)
    page = console.get("/admin/users")
    assert page.status_code == 200
    ids = user_ids(page.text)
    assert set(tenant.emails.values()) <= set(ids)
    assert all(email.endswith("@alpha.example") or "@people" in email for email in ids)
    assert re.search(r"owner@alpha\.example</a></td>\s*<td>owner</td>\s*<td>active</td>", page.text)


def test_a_responder_an_operator_and_nobody_are_kept_off_the_users_page(
    world: World, console: Browser
) -> None:
    assert console.get("/admin/users").url.path == "/admin/sign-in"
    assert console.sign_in(world.tenants[0], Role.RESPONDER).status_code == 403
    operator = Browser(world)
    try:
        operator.get("/admin/sign-in")
        operator.post("/admin/sign-in/operator", {"name": OPERATOR, "password": PASSWORD})
        for path in ("/admin/users", "/admin/integrations", "/admin/flags"):
            assert operator.get(path).status_code == 403, path
    finally:
        operator.http.close()


def test_an_invitation_is_emailed_and_its_link_lets_the_user_sign_in(
    world: World, console: Browser, smtp_sink: SmtpSink
) -> None:
    tenant = world.tenants[0]
    console.sign_in(tenant, Role.ADMIN)
    email = fresh_email()
    user_id = invite(console, email)
    assert "invited" in console.get(f"/admin/users/{user_id}").text
    (message,) = mail_to(world, smtp_sink, email)
    accepted = world.http.post(
        "/v1/users/invitations/accept",
        json={"token": link_token(message), "password": "a long new passphrase"},
    )
    assert accepted.status_code == 200, accepted.text
    login = world.http.post(
        "/v1/auth/login",
        json={"tenant": tenant.tenant_id, "email": email, "password": "a long new passphrase"},
    )
    assert login.status_code in (200, 201), login.text
    audit = console.get("/admin/audit", params={"kind": "user.created"})
    assert email in audit.text
    assert tenant.emails[Role.ADMIN] in audit.text  # who invited them, by email


def test_the_emailed_link_opens_the_consoles_page_that_sets_the_password(
    world: World, console: Browser, smtp_sink: SmtpSink
) -> None:
    """Without scripts: the token typed in, a mismatch and a forged token refused by field."""
    tenant = world.tenants[1]
    console.sign_in(tenant, Role.OWNER)
    email = fresh_email()
    invite(console, email, role="admin")
    (message,) = mail_to(world, smtp_sink, email)
    assert f"{world.base}/admin/accept-invitation#token=hxi." in parts(message)["text/plain"]
    token = link_token(message)
    guest = Browser(world)
    try:
        form = guest.get("/admin/accept-invitation")
        assert form.status_code == 200 and 'for="token"' in form.text
        differ = guest.post(
            "/admin/accept-invitation", {"token": token, "password": "p" * 12, "confirm": "q"}
        )
        assert differ.status_code == 400 and "<code>confirm</code>" in differ.text
        forged = guest.post(
            "/admin/accept-invitation",
            {"token": token[:-4] + "AAAA", "password": "p" * 12, "confirm": "p" * 12},
        )
        assert forged.status_code == 400 and "<code>token</code>" in forged.text
        done = guest.post(
            "/admin/accept-invitation",
            {
                "token": token,
                "password": "a long new passphrase",
                "confirm": "a long new passphrase",
            },
        )
        assert done.status_code == 200
        assert f"Welcome, {email}" in done.text
        signed = guest.post(
            "/admin/sign-in",
            {"tenant": tenant.tenant_id, "email": email, "password": "a long new passphrase"},
        )
        assert f"{email} · admin of {tenant.tenant_id}" in signed.text
        again = guest.post(
            "/admin/accept-invitation",
            {"token": token, "password": "another passphrase", "confirm": "another passphrase"},
        )
        assert again.status_code == 400  # a link works once
    finally:
        guest.http.close()


def test_sending_an_invitation_again_makes_the_first_link_stop_working(
    world: World, console: Browser, smtp_sink: SmtpSink
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    email = fresh_email()
    user_id = invite(console, email)
    console.get(f"/admin/users/{user_id}")
    again = console.post(f"/admin/users/{user_id}/invitation", {})
    assert "A new invitation email is on its way" in again.text
    first, second = (link_token(m) for m in mail_to(world, smtp_sink, email, count=2))
    accept = {"password": "a long new passphrase", "confirm": "a long new passphrase"}
    used = [
        console.post("/admin/accept-invitation", {**accept, "token": t}).status_code
        for t in (first, second)
    ]
    assert sorted(used) == [200, 400]  # exactly one of the two links works


def test_a_crafted_address_puts_no_words_of_its_own_on_the_pages(
    world: World, console: Browser
) -> None:
    """The notices after an action name what the log holds, never text from the address."""
    console.sign_in(world.tenants[0], Role.ADMIN)
    for path, param in (
        ("/admin/users", "invited"),
        ("/admin/flags", "done"),
        ("/admin/integrations", "revoked"),
    ):
        page = console.get(path, params={param: "Your session ended: call 555-0100"})
        assert page.status_code == 200
        assert "555-0100" not in page.text, path


def test_an_invitation_with_a_bad_email_is_refused_naming_the_field(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    refused = console.post("/admin/users/invite", {"email": "not-an-address", "role": "viewer"})
    assert refused.status_code == 422
    assert "<code>email</code>" in refused.text
    assert 'value="not-an-address" aria-invalid="true"' in refused.text


def test_an_invitation_form_without_the_csrf_token_is_refused(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    email = fresh_email()
    refused = console.post("/admin/users/invite", {"email": email, "role": "viewer"}, csrf=False)
    assert refused.status_code == 403
    assert email not in console.get("/admin/users").text


def test_only_an_owner_makes_someone_an_admin(world: World, console: Browser) -> None:
    tenant = world.tenants[0]
    console.sign_in(tenant, Role.ADMIN)
    target = user_ids(console.get("/admin/users").text)[tenant.emails[Role.VIEWER]]
    refused = console.post(f"/admin/users/{target}/role", {"role": "admin"})
    assert refused.status_code == 409
    assert "Refused: an admin cannot" in refused.text
    assert "<td>viewer</td>" in refused.text
    owner = Browser(world)
    try:
        owner.sign_in(tenant, Role.OWNER)
        owner.get(f"/admin/users/{target}")
        done = owner.post(f"/admin/users/{target}/role", {"role": "admin"})
        assert done.status_code == 200
        assert "Role changed." in done.text
        assert "<td>admin</td>" in done.text
        back = owner.post(f"/admin/users/{target}/role", {"role": "viewer"})
        assert "<td>viewer</td>" in back.text
    finally:
        owner.http.close()
    audit = console.get("/admin/audit", params={"kind": "user.role_changed"})
    assert tenant.emails[Role.OWNER] in audit.text


def test_the_last_owner_cannot_be_demoted_and_the_refusal_is_shown_inline(
    world: World, console: Browser
) -> None:
    tenant = world.tenants[1]
    console.sign_in(tenant, Role.OWNER)
    me = user_ids(console.get("/admin/users").text)[tenant.emails[Role.OWNER]]
    console.get(f"/admin/users/{me}")
    refused = console.post(f"/admin/users/{me}/role", {"role": "admin"})
    assert refused.status_code == 409
    assert "the last owner cannot be demoted" in refused.text
    assert refused.headers["content-type"].startswith("text/html")  # a page, not a JSON string
    assert 'role="alert"' in refused.text


def test_deactivating_a_user_ends_their_tokens_and_reactivating_lets_them_back(
    world: World, console: Browser
) -> None:
    tenant = world.tenants[1]
    console.sign_in(tenant, Role.ADMIN)
    target = user_ids(console.get("/admin/users").text)[tenant.emails[Role.RESPONDER]]
    assert world.get("/v1/alerts", role=Role.RESPONDER, tenant=1).status_code == 200
    page = console.get(f"/admin/users/{target}")
    assert "data-confirm=" in page.text  # the browser asks first
    done = console.post(f"/admin/users/{target}/deactivate", {})
    assert "Deactivated" in done.text
    world.wait_for(
        lambda: world.get("/v1/alerts", role=Role.RESPONDER, tenant=1).status_code == 401
    )
    login = {"tenant": tenant.tenant_id, "email": tenant.emails[Role.RESPONDER]}
    assert (
        world.http.post("/v1/auth/login", json={**login, "password": PASSWORD}).status_code == 401
    )
    back = console.post(f"/admin/users/{target}/reactivate", {})
    assert "Reactivated" in back.text
    assert world.http.post("/v1/auth/login", json={**login, "password": PASSWORD}).status_code in (
        200,
        201,
    )
    audit = console.get("/admin/audit", params={"kind": "user."}).text
    assert "user.deactivated" in audit and "user.reactivated" in audit


def test_an_admin_cannot_deactivate_themselves(world: World, console: Browser) -> None:
    tenant = world.tenants[0]
    console.sign_in(tenant, Role.ADMIN)
    me = user_ids(console.get("/admin/users").text)[tenant.emails[Role.ADMIN]]
    console.get(f"/admin/users/{me}")
    refused = console.post(f"/admin/users/{me}/deactivate", {})
    assert refused.status_code == 409
    assert "Refused:" in refused.text


def test_an_admin_lists_a_users_sessions_and_revokes_one(world: World, console: Browser) -> None:
    tenant = world.tenants[0]
    login = world.http.post(
        "/v1/auth/login",
        json={
            "tenant": tenant.tenant_id,
            "email": tenant.emails[Role.RESPONDER],
            "password": PASSWORD,
        },
    )
    session = login.json()["token"]
    headers = {"Authorization": f"Bearer {session}"}
    assert world.http.get("/v1/alerts", headers=headers).status_code == 200
    console.sign_in(tenant, Role.ADMIN)
    target = user_ids(console.get("/admin/users").text)[tenant.emails[Role.RESPONDER]]
    page = console.get(f"/admin/users/{target}").text
    assert "<td>session</td>" in page and "<td>personal</td>" in page
    token_ids = re.findall(r'name="token_id" value="([^"]+)"', page)
    assert len(token_ids) >= 2
    # Newest first: the session just started is the first one offered.
    done = console.post(f"/admin/users/{target}/revoke", {"token_id": token_ids[0]})
    assert "Revoked." in done.text
    world.wait_for(lambda: world.http.get("/v1/alerts", headers=headers).status_code == 401)
    # The user's personal token still works.
    assert world.get("/v1/alerts", role=Role.RESPONDER).status_code == 200


def test_another_tenants_admin_sees_and_touches_nothing_of_this_tenants_users(
    world: World, console: Browser
) -> None:
    alpha, beta = world.tenants
    console.sign_in(alpha, Role.OWNER)
    alpha_viewer = user_ids(console.get("/admin/users").text)[alpha.emails[Role.VIEWER]]
    other = Browser(world)
    try:
        other.sign_in(beta, Role.OWNER)
        listed = other.get("/admin/users").text
        assert "alpha.example" not in listed
        assert other.get(f"/admin/users/{alpha_viewer}").status_code == 404
        assert other.post(f"/admin/users/{alpha_viewer}/deactivate", {}).status_code == 404
        assert other.post(f"/admin/users/{alpha_viewer}/role", {"role": "owner"}).status_code == 404
    finally:
        other.http.close()
    assert "<td>viewer</td>" in console.get(f"/admin/users/{alpha_viewer}").text


# --- integrations ------------------------------------------------------------------------------


def _integration_ids(page: str) -> list[str]:
    return re.findall(r'<code class="hint">(int_[0-9a-f]+)</code>', page)


def test_integrations_are_listed_with_kind_last_seen_and_delivery_counts(
    world: World, console: Browser
) -> None:
    world.alertmanager(0, [am_alert("Counted", "web", "warning", instance="w-1")])
    console.sign_in(world.tenants[0], Role.ADMIN)
    page = world.wait_for(
        lambda: (
            (p := console.get("/admin/integrations").text)
            and re.search(r'<td class="num">[1-9]\d*</td><td class="num">0</td>', p)
            and p
        )
    )
    assert "alertmanager" in page and "pagerduty" in page
    assert "UTC" in page  # a last-seen time
    assert "never" in page  # the pagerduty integration never sent anything


def test_an_integration_whose_secret_was_recorded_in_plain_text_is_marked_legacy(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[1], Role.ADMIN)
    page = console.get("/admin/integrations").text
    row = re.search(r"old-sender.*?</tr>", page, re.S)
    assert row is not None
    assert "legacy: recorded in plain text, rotate it" in row.group(0)
    assert LEGACY_SECRET not in page
    assert page.count("legacy: recorded in plain text") == 1  # the other integrations are not


def test_a_new_integrations_key_is_shown_once_and_never_again(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    console.get("/admin/integrations")
    created = console.post("/admin/integrations", {"kind": "generic", "name": "deploys"})
    assert created.status_code == 201
    key = re.search(r'<code id="routing-key">([^<]+)</code>', created.text)
    secret = re.search(r'<code id="signing-secret">([^<]+)</code>', created.text)
    assert key is not None and secret is not None
    listed = console.get("/admin/integrations").text
    assert "deploys" in listed
    assert key.group(1) not in listed and secret.group(1) not in listed
    audit = console.get("/admin/audit", params={"kind": "integration.created"}).text
    assert "deploys" in audit and world.tenants[0].emails[Role.ADMIN] in audit


def test_a_rotated_key_and_the_previous_one_are_both_accepted_during_the_overlap(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[1], Role.ADMIN)
    console.get("/admin/integrations")
    created = console.post("/admin/integrations", {"kind": "alertmanager", "name": "rotating"})
    old = re.search(r'<code id="routing-key">([^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    integration = re.search(r"<code>(int_[0-9a-f]+)</code>", created.text).group(1)  # type: ignore[union-attr]
    console.get("/admin/integrations")
    rotated = console.post(f"/admin/integrations/{integration}/rotate", {"grace": "600"})
    assert rotated.status_code == 201
    new = re.search(r'<code id="routing-key">([^<]+)</code>', rotated.text).group(1)  # type: ignore[union-attr]
    assert new != old
    assert f"{world.base}/v1/ingest/alertmanager/{new}" in rotated.text
    assert "Previous key" in rotated.text
    body = {"version": "4", "status": "firing", "receiver": "helios", "alerts": []}
    for key in (old, new):
        sent = world.http.post(f"/v1/ingest/alertmanager/{key}", json=body)
        assert sent.status_code == 202, (key == new, sent.text)
    audit = console.get("/admin/audit", params={"kind": "integration.key_rotated"}).text
    assert world.tenants[1].emails[Role.ADMIN] in audit


def test_a_pagerduty_integration_is_given_the_events_api_address(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    console.get("/admin/integrations")
    created = console.post("/admin/integrations", {"kind": "pagerduty", "name": "pd"})
    key = re.search(r'<code id="routing-key">([^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    assert f"<code>{world.base}/v2/enqueue</code>" in created.text
    event = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "disk full", "source": "db-1", "severity": "critical"},
    }
    # A new key reaches the API's key directory within HELIOS_API_KEY_MISS_REFRESH_S (an
    # unknown key re-reads the index at most that often): until then PagerDuty's 400.
    deadline = time.monotonic() + 10
    status = world.http.post("/v2/enqueue", json=event).status_code
    while status == 400 and time.monotonic() < deadline:
        time.sleep(0.3)
        status = world.http.post("/v2/enqueue", json=event).status_code
    assert status == 202


def test_a_bad_overlap_is_refused_naming_the_grace_field(world: World, console: Browser) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    integration = _integration_ids(console.get("/admin/integrations").text)[0]
    refused = console.post(f"/admin/integrations/{integration}/rotate", {"grace": "-5"})
    assert refused.status_code == 422
    assert "<code>grace</code>" in refused.text


def test_a_signing_secret_is_set_and_a_short_one_refused(world: World, console: Browser) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    console.get("/admin/integrations")
    created = console.post("/admin/integrations", {"kind": "generic", "name": "signed"})
    integration = re.search(r"<code>(int_[0-9a-f]+)</code>", created.text).group(1)  # type: ignore[union-attr]
    console.get("/admin/integrations")
    short = console.post(
        f"/admin/integrations/{integration}/signing-secret", {"grace": "60", "signing_secret": "x"}
    )
    assert short.status_code == 422
    assert "<code>signing_secret</code>" in short.text
    done = console.post(f"/admin/integrations/{integration}/signing-secret", {"grace": "60"})
    assert done.status_code == 201
    assert 'id="signing-secret"' in done.text
    assert "Previous secret" in done.text


def test_a_revoked_integrations_key_is_refused(world: World, console: Browser) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    console.get("/admin/integrations")
    created = console.post("/admin/integrations", {"kind": "alertmanager", "name": "doomed"})
    key = re.search(r'<code id="routing-key">([^<]+)</code>', created.text).group(1)  # type: ignore[union-attr]
    integration = re.search(r"<code>(int_[0-9a-f]+)</code>", created.text).group(1)  # type: ignore[union-attr]
    page = console.get("/admin/integrations").text
    assert "Revoke doomed" in page and "data-confirm=" in page
    done = console.post(f"/admin/integrations/{integration}/revoke", {})
    assert "Revoked doomed" in done.text
    body = {"version": "4", "status": "firing", "receiver": "helios", "alerts": []}
    refused = world.wait_for(
        lambda: (
            (r := world.http.post(f"/v1/ingest/alertmanager/{key}", json=body)).status_code != 202
            and r
        )
    )
    assert refused.status_code in (401, 403, 404)
    assert "integration.revoked" in console.get("/admin/audit").text


def test_another_tenants_admin_cannot_see_or_rotate_this_tenants_integrations(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    alpha = _integration_ids(console.get("/admin/integrations").text)
    other = Browser(world)
    try:
        other.sign_in(world.tenants[1], Role.ADMIN)
        page = other.get("/admin/integrations").text
        assert not set(alpha) & set(_integration_ids(page))
        assert other.post(f"/admin/integrations/{alpha[0]}/rotate", {}).status_code == 404
        assert other.post(f"/admin/integrations/{alpha[0]}/revoke", {}).status_code == 404
        assert other.post(f"/admin/integrations/{alpha[0]}/signing-secret", {}).status_code == 404
    finally:
        other.http.close()


# --- feature flags -----------------------------------------------------------------------------


def test_an_admin_defines_switches_and_rolls_out_a_flag_with_its_history(
    world: World, console: Browser
) -> None:
    tenant = world.tenants[0]
    console.sign_in(tenant, Role.ADMIN)
    empty = console.get("/admin/flags")
    assert "No flag is defined" in empty.text
    defined = console.post("/admin/flags", {"name": "new_banner", "description": "shows it"})
    assert "new_banner is off, rollout 100%." in defined.text
    on = console.post("/admin/flags/new_banner/switch", {"enabled": "on"})
    assert "new_banner is on" in on.text
    rolled = console.post("/admin/flags/new_banner/rollout", {"percent": "25"})
    assert "new_banner is on, rollout 25%." in rolled.text
    history = re.findall(
        r"<td><code>new_banner</code></td><td>([^<]+)</td><td>([^<]+)</td>", rolled.text
    )
    assert history == [
        ("rollout 25%", tenant.emails[Role.ADMIN]),
        ("on", tenant.emails[Role.ADMIN]),
        ("defined", tenant.emails[Role.ADMIN]),
    ]
    assert "flag.rollout" in console.get("/admin/audit", params={"kind": "flag."}).text


def test_a_rollout_outside_0_to_100_is_refused_naming_the_percent_field(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[1], Role.ADMIN)
    console.get("/admin/flags")
    console.post("/admin/flags/no_incident_grouping/switch", {"enabled": "on"})
    for bad in ("101", "-1", "half"):
        refused = console.post("/admin/flags/no_incident_grouping/rollout", {"percent": bad})
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"].startswith("text/html")
        assert "<code>percent</code>" in refused.text
        assert 'aria-invalid="true"' in refused.text
    assert '<td class="num">100%</td>' in console.get("/admin/flags").text


def test_a_badly_named_flag_is_refused_naming_the_field(world: World, console: Browser) -> None:
    console.sign_in(world.tenants[1], Role.ADMIN)
    console.get("/admin/flags")
    refused = console.post("/admin/flags", {"name": "Bad Name!", "description": ""})
    assert refused.status_code == 422
    assert "<code>name</code>" in refused.text


def test_another_tenants_admin_sees_none_of_this_tenants_flags(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    console.get("/admin/flags")
    console.post("/admin/flags", {"name": "alpha_only", "description": ""})
    other = Browser(world)
    try:
        other.sign_in(world.tenants[1], Role.ADMIN)
        assert "alpha_only" not in other.get("/admin/flags").text
    finally:
        other.http.close()


# --- without an SMTP relay -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def no_relay(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("admin-no-relay")
    made = start_world(postgres_url, redis_session_url, data_dir, seed=seed_console(data_dir))
    yield next(made)
    next(made, None)


def test_without_an_smtp_relay_an_invitation_is_refused_plainly_and_nobody_is_invited(
    no_relay: World,
) -> None:
    console = Browser(no_relay)
    try:
        console.sign_in(no_relay.tenants[0], Role.ADMIN)
        email = fresh_email()
        refused = console.post("/admin/users/invite", {"email": email, "role": "viewer"})
        assert refused.status_code == 503
        assert "No SMTP relay is configured" in refused.text
        assert email not in user_ids(console.get("/admin/users").text)
    finally:
        console.http.close()
