"""The admin console end to end: the app ``helios up`` serves (API with the console mounted at
/admin), over PostgreSQL, Redis and the embedded queue, with two tenants and an operator.

Pages are driven like a console without scripts would: forms posted with the CSRF token the
page carries, redirects followed, HTML read back.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from test_query_api import PASSWORD, Tenant, World, am_alert, start_world

from helios.apps.application.access import AccessService
from helios.apps.application.envelopes import envelope_message
from helios.apps.application.operators import OperatorService
from helios.apps.composition import open_blobs, open_queue
from helios.apps.settings import Settings
from helios.domain.access import Role
from helios.domain.values import Envelope, SourceKind
from helios.ports.event_store import EventStore

OPERATOR = "ops-alice"
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
DRAFT_P1_FOR_DB = """
version = 1
[[multipliers]]
name = "db is critical"
percent = 300
matchers = ["service=db"]
"""


def seed_console(data_dir: Path) -> Callable[[EventStore, list[Tenant], object], None]:
    """Passwords for every admin, owner and viewer; an operator; a dead letter per tenant."""

    def seed(store: EventStore, tenants: list[Tenant], vault: object) -> None:
        access = AccessService(store)
        for tenant in tenants:
            for role in (Role.ADMIN, Role.OWNER, Role.VIEWER):
                user = next(
                    u for u in access.users(tenant.tenant_id) if u.email == tenant.emails[role]
                )
                access.set_password(
                    tenant_id=tenant.tenant_id, user_id=user.user_id, password=PASSWORD
                )
        OperatorService(store).create(name=OPERATOR, password=PASSWORD, by="cli:test")
        # In a thread of its own: a browser test's thread already runs Playwright's loop.
        worker = threading.Thread(
            target=lambda: asyncio.run(_dead_letters(Settings(data_dir=data_dir), tenants))
        )
        worker.start()
        worker.join()

    return seed


async def _dead_letters(settings: Settings, tenants: list[Tenant]) -> None:
    """One dead envelope per tenant (received three times, never deleted)."""
    async with open_queue(settings, open_blobs(settings)) as queue:
        for tenant in tenants:
            envelope = Envelope(
                ingest_id=f"ing-dead-{tenant.tenant_id}",
                tenant=tenant.tenant_id,
                integration="int-gone",
                source=SourceKind.GENERIC,
                received_at=1_700_000_000_000,
                body=b'{"summary": "disk full"}',
                content_type="application/json",
                headers=(),
            )
            await queue.send(
                [envelope_message(envelope, correlation_id=f"dead-{tenant.tenant_id}")]
            )
        for _ in range(3):
            await queue.receive(max_messages=10, wait_seconds=2, visibility_timeout_s=0)


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("admin")
    made = start_world(postgres_url, redis_session_url, data_dir, seed=seed_console(data_dir))
    yield next(made)
    next(made, None)


class Browser:
    """A cookie-keeping client that posts forms with the CSRF token of the page it read."""

    def __init__(self, world: World) -> None:
        self.http = httpx.Client(base_url=world.base, timeout=15, follow_redirects=True)
        self.token = ""

    def get(self, path: str, **kw: object) -> httpx.Response:
        response = self.http.get(path, **kw)  # type: ignore[arg-type]
        found = CSRF.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, object], *, csrf: bool = True) -> httpx.Response:
        body = {**data, "_csrf_token": self.token} if csrf else data
        response = self.http.post(path, data=body)  # type: ignore[arg-type]
        found = CSRF.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def sign_in(self, tenant: Tenant, role: Role) -> httpx.Response:
        self.get("/admin/sign-in")
        return self.post(
            "/admin/sign-in",
            {"tenant": tenant.tenant_id, "email": tenant.emails[role], "password": PASSWORD},
        )


@pytest.fixture
def console(world: World) -> Iterator[Browser]:
    made = Browser(world)
    yield made
    made.http.close()


def _wait_for_preview(console: Browser, job_path: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = console.http.get(f"{job_path}/progress").json()
        if state["finished"]:
            return console.get(job_path).text
        time.sleep(0.2)
    raise AssertionError("the preview did not finish")


# --- sign-in -----------------------------------------------------------------------------------


def test_an_admin_signs_in_with_a_strict_http_only_session_cookie(
    world: World, console: Browser
) -> None:
    """The session cookie cannot be read by scripts nor sent from another site."""
    console.get("/admin/sign-in")
    tenant = world.tenants[0]
    response = console.http.post(
        "/admin/sign-in",
        follow_redirects=False,
        data={
            "tenant": tenant.tenant_id,
            "email": tenant.emails[Role.ADMIN],
            "password": PASSWORD,
            "_csrf_token": console.token,
        },
    )
    assert response.status_code == 303
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "session" in v
    )
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Path=/admin" in cookie
    page = console.get(response.headers["location"])
    assert page.status_code == 200
    assert f"Rules of {tenant.tenant_id}" in page.text


def test_the_session_cookie_is_secure_when_the_console_is_served_over_tls(
    world: World, console: Browser
) -> None:
    """Behind a TLS-terminating proxy on loopback (a trusted proxy), the cookie is Secure."""
    console.get("/admin/sign-in")
    tenant = world.tenants[0]
    response = console.http.post(
        "/admin/sign-in",
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
        data={
            "tenant": tenant.tenant_id,
            "email": tenant.emails[Role.ADMIN],
            "password": PASSWORD,
            "_csrf_token": console.token,
        },
    )
    assert response.status_code == 303
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "session" in v
    )
    assert "Secure" in cookie


@pytest.mark.parametrize("role", [Role.RESPONDER, Role.VIEWER])
def test_responders_and_viewers_are_refused_with_a_403_page(
    world: World, console: Browser, role: Role
) -> None:
    """Their password is right, but the console is not theirs."""
    response = console.sign_in(world.tenants[0], role)
    assert response.status_code == 403
    assert "Not for your role" in response.text
    assert console.get("/admin/rules").url.path == "/admin/sign-in"


def test_a_wrong_password_is_refused_without_saying_which_field(
    world: World, console: Browser
) -> None:
    console.get("/admin/sign-in")
    tenant = world.tenants[0]
    response = console.post(
        "/admin/sign-in",
        {"tenant": tenant.tenant_id, "email": tenant.emails[Role.ADMIN], "password": "nope"},
    )
    assert response.status_code == 401
    assert "Wrong tenant, email or password." in response.text


def test_a_forged_post_without_the_csrf_token_is_refused(world: World, console: Browser) -> None:
    """A signed-in admin's console posting a form some other page built: 403, nothing done."""
    console.sign_in(world.tenants[0], Role.ADMIN)
    response = console.post("/admin/rules/preview", {"draft": "", "days": "7"}, csrf=False)
    assert response.status_code == 403
    assert "Preview" not in response.text or "rules.preview" not in response.text


def test_pages_redirect_to_the_sign_in_form_without_a_session(console: Browser) -> None:
    for path in ("/admin/rules", "/admin/jobs", "/admin/audit", "/admin/rules/history"):
        assert console.get(path).url.path == "/admin/sign-in", path


def test_an_operator_sees_platform_jobs_but_no_tenant_rules(world: World, console: Browser) -> None:
    console.get("/admin/sign-in")
    jobs = console.post("/admin/sign-in/operator", {"name": OPERATOR, "password": PASSWORD})
    assert jobs.status_code == 200
    assert "whole platform" in jobs.text
    assert "Projections" in jobs.text
    # Both tenants' dead letters.
    assert world.tenants[0].tenant_id in jobs.text
    assert world.tenants[1].tenant_id in jobs.text
    assert console.get("/admin/rules").status_code == 403


# --- rules -------------------------------------------------------------------------------------


def test_a_draft_with_a_bad_field_is_shown_again_with_the_problem_inline(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    response = console.post(
        "/admin/rules/preview", {"draft": "[scoring]\nflapping_penalty = 'x'\n", "days": "7"}
    )
    assert response.status_code == 422
    assert "scoring.flapping_penalty" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "flapping_penalty = &#39;x&#39;" in response.text  # the draft is kept as typed


def test_preview_then_publish_and_the_next_decision_names_the_new_version(
    world: World, console: Browser
) -> None:
    """The draft triples db alerts' scores: the preview shows it, the publish makes it so."""
    world.alertmanager(0, [am_alert("SlowQueries", "db", "warning", instance="db-9")])
    world.wait_for(lambda: any("SlowQueries" in a["summary"] for a in world.alerts(0)))
    console.sign_in(world.tenants[0], Role.ADMIN)
    submitted = console.post("/admin/rules/preview", {"draft": DRAFT_P1_FOR_DB, "days": "7"})
    assert submitted.status_code == 200
    job_path = submitted.url.path
    assert job_path.startswith("/admin/rules/previews/job_")
    page = _wait_for_preview(console, job_path)
    assert "Alerts per priority" in page
    assert "<svg" in page
    assert "Alerts whose priority changes" in page
    assert "db is critical" in page  # the new factor, in the differences
    published = console.post("/admin/rules/publish", {"job_id": job_path.rsplit("/", 1)[1]})
    assert published.status_code == 200
    assert "Published version" in published.text
    version = int(re.search(r"Published version (\d+)", published.text).group(1))  # type: ignore[union-attr]

    world.alertmanager(0, [am_alert("Locks", "db", "warning", instance="db-3")])
    alert = world.wait_for(
        lambda: next((a for a in world.alerts(0) if "Locks" in a["summary"]), None)
    )
    detail = world.get(f"/v1/alerts/{alert['id']}").json()
    assert detail["ruleset_version"] == version


def test_publishing_a_preview_made_before_another_publish_is_refused(
    world: World, console: Browser
) -> None:
    """Two admins preview against the same version; the second to publish must preview again."""
    console.sign_in(world.tenants[1], Role.ADMIN)
    first = console.post("/admin/rules/preview", {"draft": "version = 1\n", "days": "1"}).url.path
    second = console.post("/admin/rules/preview", {"draft": DRAFT_P1_FOR_DB, "days": "1"}).url.path
    _wait_for_preview(console, first)
    _wait_for_preview(console, second)
    assert (
        console.post("/admin/rules/publish", {"job_id": first.rsplit("/", 1)[1]}).status_code == 200
    )
    refused = console.post("/admin/rules/publish", {"job_id": second.rsplit("/", 1)[1]})
    assert refused.status_code == 409
    assert "preview again" in refused.text


def test_the_history_diffs_two_versions_and_offers_a_rollback(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[1], Role.OWNER)
    submitted = console.post(
        "/admin/rules/preview", {"draft": "[scoring]\nrecurrence_points = 3\n", "days": "1"}
    )
    _wait_for_preview(console, submitted.url.path)
    console.post("/admin/rules/publish", {"job_id": submitted.url.path.rsplit("/", 1)[1]})
    history = console.get("/admin/rules/history")
    assert "recurrence_points = 3" in history.text
    assert "diff-add" in history.text
    rollback = console.get("/admin/rules?from_version=0")
    assert "Preview it, then publish it to roll back" in rollback.text


def test_another_tenants_admin_sees_nothing_of_this_tenant(world: World, console: Browser) -> None:
    """Beta's admin cannot open alpha's preview, nor see its jobs or audit entries."""
    console.sign_in(world.tenants[0], Role.ADMIN)
    submitted = console.post("/admin/rules/preview", {"draft": "version = 1\n", "days": "1"})
    alpha_job = submitted.url.path
    other = Browser(world)
    try:
        other.sign_in(world.tenants[1], Role.ADMIN)
        assert other.get(alpha_job).status_code == 404
        assert alpha_job.rsplit("/", 1)[1] not in other.get("/admin/jobs").text
        assert world.tenants[0].emails[Role.ADMIN] not in other.get("/admin/audit").text
        assert world.tenants[0].tenant_id not in other.get("/admin/jobs").text
        # Nor can they redrive alpha's dead letter by its id.
        operator = Browser(world)
        operator.get("/admin/sign-in")
        platform = operator.post(
            "/admin/sign-in/operator", {"name": OPERATOR, "password": PASSWORD}
        )
        operator.http.close()
        alpha_letter = re.search(
            rf'value="([^"]+)" id="dl-\d+"[^<]*</td>\s*<td><a[^>]*>[^<]*</a></td>\s*'
            rf"<td>{world.tenants[0].tenant_id}</td>",
            platform.text,
        )
        assert alpha_letter is not None
        refused = other.post(
            "/admin/jobs/dead-letters/redrive", {"message_id": alpha_letter.group(1)}
        )
        assert "Redriven: 0 dead letter(s)." in refused.text
    finally:
        other.http.close()


# --- jobs and audit ----------------------------------------------------------------------------


def test_an_admin_redrives_their_tenants_dead_letter_and_it_is_audited(
    world: World, console: Browser
) -> None:
    tenant = world.tenants[0]
    console.sign_in(tenant, Role.ADMIN)
    jobs = console.get("/admin/jobs")
    ids = re.findall(r'name="message_id" value="([^"]+)"', jobs.text)
    assert len(ids) == 1
    assert console.get(f"/admin/jobs/dead-letters/{ids[0]}").status_code == 200
    moved = console.post("/admin/jobs/dead-letters/redrive", {"message_id": ids[0]})
    assert "Redriven: 1 dead letter(s)." in moved.text
    audit = console.get("/admin/audit", params={"kind": "dlq.redrive"})
    assert tenant.emails[Role.ADMIN] in audit.text
    assert "redriven=1" in audit.text


def test_the_audit_log_filters_by_actor_kind_and_date(world: World, console: Browser) -> None:
    tenant = world.tenants[0]
    console.sign_in(tenant, Role.ADMIN)
    everything = console.get("/admin/audit")
    assert everything.status_code == 200
    nobody = console.get("/admin/audit", params={"actor": "nobody-at-all"})
    assert "No admin action matches." in nobody.text
    future = console.get("/admin/audit", params={"since": "2999-01-01"})
    assert "No admin action matches." in future.text
    bad = console.get("/admin/audit", params={"since": "yesterday"})
    assert bad.status_code == 422
    assert "since" in bad.text


def test_an_admin_purges_their_tenants_dead_letter_for_good(world: World, console: Browser) -> None:
    tenant = world.tenants[1]
    console.sign_in(tenant, Role.ADMIN)
    ids = re.findall(r'name="message_id" value="([^"]+)"', console.get("/admin/jobs").text)
    assert len(ids) == 1
    purged = console.post("/admin/jobs/dead-letters/purge", {"message_id": ids[0]})
    assert "Purged: 1 dead letter(s)." in purged.text
    assert "No dead letters" in purged.text
    assert console.get(f"/admin/jobs/dead-letters/{ids[0]}").status_code == 404
    audit = console.get("/admin/audit", params={"kind": "dlq.purge"})
    assert "purged=1" in audit.text


def test_the_console_runs_alone_on_its_own_port_as_helios_admin_serves_it(
    tmp_path: Path,
) -> None:
    """The embedded default's services, the console alone: / leads to its sign-in form."""
    import uvicorn
    from threaded import free_port, running_in_thread, wait_for

    from helios.apps.admin.app import create_admin_app

    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", http_port=free_port())

    def serve(services: object) -> uvicorn.Server:
        app = create_admin_app(services)  # type: ignore[arg-type]
        return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))

    with (
        running_in_thread(settings, serve) as failure,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        page = wait_for(lambda: _answer(client, "/"), 20)
        assert page.url.path == "/admin/sign-in"
        assert "Sign in to the admin console" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert client.get("/admin/static/admin.js").status_code == 200
    assert not failure, failure


def _answer(client: httpx.Client, path: str) -> httpx.Response | None:
    try:
        return client.get(path, follow_redirects=True)
    except httpx.TransportError:
        return None
