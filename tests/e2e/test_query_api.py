"""The query and command API end to end: a real uvicorn server running the whole of Helios
(API, ingest worker, projector) over PostgreSQL (store and read models), Redis and the
embedded queue; events go in through the ingestion endpoints and come out of ``/v1``.

``World`` is shared with the isolation and role matrices (``from test_query_api import …``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
import pytest
import uvicorn
from threaded import free_port, running_in_thread, wait_for, wait_until_healthy

from helios.adapters.secrets.envelope import new_kek_text
from helios.adapters.store.factory import migrate, open_event_store
from helios.apps.application.access import AccessService, LoginPolicy
from helios.apps.application.tenancy import TenancyService
from helios.apps.composition import Services, open_read_models, open_secret_vault
from helios.apps.http.config import ApiConfig
from helios.apps.http.server import server_config
from helios.apps.settings import Settings
from helios.domain.access import Role
from helios.domain.values import SourceKind
from helios.ports.event_store import EventStore
from helios.ports.secrets import SecretVault

ROLES = (Role.VIEWER, Role.RESPONDER, Role.ADMIN, Role.OWNER)
PASSWORD = "correct horse battery"


@attrs.define
class Tenant:
    tenant_id: str
    webhook_key: str
    pagerduty_key: str = ""
    tokens: dict[Role, str] = attrs.Factory(dict)
    emails: dict[Role, str] = attrs.Factory(dict)


@attrs.define
class World:
    """A running Helios on loopback with two tenants, each with one user of every role."""

    base: str
    tenants: list[Tenant]
    http: httpx.Client

    def get(
        self, path: str, role: Role = Role.VIEWER, tenant: int = 0, **kw: Any
    ) -> httpx.Response:
        return self.http.get(path, headers=self.auth(role, tenant), **kw)

    def post(
        self, path: str, role: Role = Role.RESPONDER, tenant: int = 0, **kw: Any
    ) -> httpx.Response:
        return self.http.post(path, headers=self.auth(role, tenant), **kw)

    def auth(self, role: Role, tenant: int = 0) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tenants[tenant].tokens[role]}"}

    def alertmanager(self, tenant: int, alerts: list[dict[str, Any]]) -> None:
        body = {"version": "4", "status": "firing", "receiver": "helios", "alerts": alerts}
        key = self.tenants[tenant].webhook_key
        response = self.http.post(f"/v1/ingest/alertmanager/{key}", json=body)
        assert response.status_code == 202, response.text

    def wait_for(self, check: Callable[[], Any], timeout_s: float = 20) -> Any:
        return wait_for(check, timeout_s)

    def alerts(self, tenant: int = 0, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/v1/alerts", tenant=tenant, params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


def am_alert(
    name: str, service: str, severity: str, *, status: str = "firing", **labels: str
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, "severity": severity, **labels},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": "2030-01-01T00:00:00Z" if False else _now_iso(-60),
        "endsAt": _now_iso(0) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": uuid.uuid5(uuid.NAMESPACE_URL, f"{name}/{service}/{labels}").hex[:16],
    }


def _now_iso(offset_s: int) -> str:
    moment = time.time() + offset_s
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + "Z"


def start_world(
    postgres_url: str,
    redis_url: str,
    data_dir: Path,
    *,
    app: Callable[[Services], Any] | None = None,
    seed: Callable[[EventStore, list[Tenant], SecretVault], None] | None = None,
) -> Iterator[World]:
    """Seed two tenants with users and tokens, then run everything in a thread until done.

    ``app`` builds the ASGI app served over the services (default: the API ``helios up``
    serves, as it configures it); ``seed`` adds to the store (and the secret vault the
    services will use) before anything runs.
    """
    schema = f"q_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    store_url = f"{postgres_url}?schema={schema}"
    migrate(store_url)
    port = free_port()
    settings = Settings(
        data_dir=data_dir,
        store_url=store_url,
        read_models_url=f"{postgres_url}?schema={schema}_read",
        secrets_kek=new_kek_text(),
        redis_url=redis_url,
        http_port=port,
        follower_poll_s=0.05,
        worker_wait_s=0.2,
        tick_interval_s=3600,
        auth_cache_s=0.2,
        login_max_failures=3,
        # Short live streams: a probe of /v1/live gets its whole answer within seconds.
        live_stream_s=1.0,
    )
    # Followers open the read models concurrently: create the tables once, first.
    open_read_models(settings.effective_read_models_url).close()
    store = open_event_store(store_url)
    tenancy = TenancyService(store)
    access = AccessService(store, policy=LoginPolicy(max_failures=3))
    tenants = []
    for name in ("alpha", "beta"):
        tenant = tenancy.create_tenant(name)
        issued = tenancy.create_integration(
            tenant_id=tenant.tenant_id, kind=SourceKind.ALERTMANAGER
        )
        pagerduty = tenancy.create_integration(
            tenant_id=tenant.tenant_id, kind=SourceKind.PAGERDUTY
        )
        seeded = Tenant(
            tenant_id=tenant.tenant_id,
            webhook_key=issued.routing_key,
            pagerduty_key=pagerduty.routing_key,
        )
        for role in ROLES:
            email = f"{role.value}@{name}.example"
            password = PASSWORD if role is Role.RESPONDER else None
            user = access.create_user(
                tenant_id=tenant.tenant_id, email=email, role=role, password=password
            )
            token = access.issue_token(tenant_id=tenant.tenant_id, user_id=user.user_id, name="t")
            seeded.tokens[role] = token.token
            seeded.emails[role] = email
        tenants.append(seeded)
    if seed is not None:
        seed(store, tenants, open_secret_vault(settings))
    store.close()

    def serve(services: Services) -> uvicorn.Server:
        assert app is not None
        config = server_config(
            app(services), host="127.0.0.1", port=port, api=ApiConfig(), log_level="warning"
        )
        return uvicorn.Server(config)

    base = f"http://127.0.0.1:{port}"
    with (
        running_in_thread(settings, None if app is None else serve) as failure,
        httpx.Client(base_url=base, timeout=10) as client,
    ):
        wait_until_healthy(client, failure)
        yield World(base=base, tenants=tenants, http=client)
    assert not failure, failure


def seed_alerts(world: World) -> None:
    """Tenant 0: four alerts (one sent twice); tenant 1: one alert."""
    # One dict for both deliveries: its startsAt is read from the clock once, as an HA pair
    # sends the same alert (built twice, the copies could differ by a second).
    disk_full = am_alert("DiskFull", "db", "critical", instance="db-1")
    world.alertmanager(
        0,
        [
            disk_full,
            am_alert("HighLatency", "api", "warning", instance="api-1"),
            am_alert("Errors", "api", "error", instance="api-2"),
            am_alert("Backup", "storage", "info", instance="st-1"),
        ],
    )
    # The same alert again, from the HA twin: deduplicated.
    world.alertmanager(0, [disk_full])
    world.alertmanager(1, [am_alert("BetaOnly", "db", "critical", instance="b-1")])
    world.wait_for(lambda: len(world.alerts(0)) == 4 and len(world.alerts(1)) == 1)
    world.wait_for(lambda: world.get("/v1/incidents").json()["items"])


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("query"))
    running = next(made)
    seed_alerts(running)
    yield running
    next(made, None)


# --- tests -------------------------------------------------------------------------------------


def test_the_alert_list_shows_ingested_alerts_deduplicated_and_scored(world: World) -> None:
    """Four alerts, most recent first, each with a priority and a score."""
    alerts = world.alerts()
    assert len(alerts) == 4
    disk = next(a for a in alerts if a["labels"]["alertname"] == "DiskFull")
    assert disk["status"] == "triggered"
    assert disk["priority"] in ("P1", "P2") and disk["score"] >= 60
    assert disk["sources"] == ["alertmanager"]
    keys = [(a["last_signal_at"], a["dedup_key"]) for a in alerts]
    assert keys == sorted(keys, reverse=True)


def test_filters_combine_on_status_priority_service_label_source_and_text(world: World) -> None:
    """Each filter narrows the list to what it names."""
    assert {a["service"] for a in world.alerts(service="api")} == {"api"}
    assert [a["labels"]["alertname"] for a in world.alerts(label="instance=db-1")] == ["DiskFull"]
    assert len(world.alerts(label=["service=api", "instance=api-2"])) == 1
    assert world.alerts(source="alertmanager") and not world.alerts(source="grafana")
    assert [a["labels"]["alertname"] for a in world.alerts(q="latency")] == ["HighLatency"]
    assert all(a["priority"] == "P5" for a in world.alerts(priority="P5"))
    assert world.alerts(status="resolved") == []
    assert world.alerts(since="2099-01-01T00:00:00Z") == []
    assert len(world.alerts(until="2099-01-01T00:00:00Z")) == 4


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/alerts", {"status": "bogus"}, "status"),
        ("/v1/alerts", {"priority": "P9"}, "priority"),
        ("/v1/alerts", {"label": "no-equals-sign"}, "label[0]"),
        ("/v1/alerts", {"since": "yesterday"}, "since"),
        ("/v1/alerts", {"cursor": "not-a-cursor"}, "cursor"),
        ("/v1/alerts", {"limit": "0"}, "limit"),
        ("/v1/incidents", {"status": "closed"}, "status"),
        ("/v1/activity", {"cursor": "not-a-cursor"}, "cursor"),
        ("/v1/changes", {"since": "yesterday"}, "since"),
        ("/v1/changes", {"until": "2026-13-40"}, "until"),
    ],
)
def test_a_bad_query_parameter_is_a_400_that_names_the_parameter_not_the_body(
    world: World, path: str, params: dict[str, str], field: str
) -> None:
    """A GET has no body: the problem says which query parameter is wrong."""
    response = world.get(path, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:helios:problem:invalid-query"
    assert problem["title"] == "A query parameter is invalid"
    assert "body" not in problem["title"] + problem["detail"]
    assert field.partition("[")[0] in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == [field]


def test_cursor_pages_walk_the_whole_list_once_in_order(world: World) -> None:
    """Pages of one, following next_cursor, give the unpaged list."""
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = world.get("/v1/alerts", params=params).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["id"] for a in world.alerts()]
    bad = world.get("/v1/alerts", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["field"] == "cursor"


def test_lists_carry_an_etag_and_answer_304_when_unchanged(world: World) -> None:
    """If-None-Match with the current ETag gives 304 and no body."""
    first = world.get("/v1/alerts")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = world.http.get("/v1/alerts", headers={**world.auth(Role.VIEWER), "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_alert_detail_explains_signals_decisions_and_score(world: World) -> None:
    """The detail holds both deliveries' signal (one distinct), decisions and factors."""
    disk = next(a for a in world.alerts() if a["labels"]["alertname"] == "DiskFull")
    detail = world.get(f"/v1/alerts/{disk['id']}").json()
    assert detail["alert"]["id"] == disk["id"]
    assert len(detail["signals"]) == 1 and detail["signals"][0]["action"] == "trigger"
    kinds = [d["kind"] for d in detail["decisions"]]
    assert "triggered" in kinds
    # The episode's first score, carried by its opening (engine version 4 on).
    [opened] = [d for d in detail["decisions"] if d["kind"] == "triggered"]
    assert opened["detail"]["priority"] == detail["alert"]["priority"]
    assert opened["detail"]["score"] == detail["alert"]["score"]
    assert detail["ruleset_version"] == 0
    assert detail["factors"][0]["name"] and sum(f["effect"] for f in detail["factors"]) >= 0
    assert any(n["outcome"] == "requested" for n in detail["notifications"])


def test_acknowledge_then_resolve_are_recorded_as_human_signals(world: World) -> None:
    """202 with an action id; the alert turns acknowledged, then resolved, by that user."""
    target = next(a for a in world.alerts() if a["labels"]["alertname"] == "Errors")
    response = world.post(f"/v1/alerts/{target['id']}/acknowledge", json={"note": "on it"})
    assert response.status_code == 202, response.text
    assert response.json()["action_id"] and response.json()["status"] == "accepted"

    def status() -> str:
        found: str = world.get(f"/v1/alerts/{target['id']}").json()["alert"]["status"]
        return found

    world.wait_for(lambda: status() == "acknowledged")
    assert world.post(f"/v1/alerts/{target['id']}/resolve").status_code == 202
    world.wait_for(lambda: status() == "resolved")
    detail = world.get(f"/v1/alerts/{target['id']}").json()
    assert any(s["source"].startswith("user:usr_") for s in detail["signals"])
    activity = world.get("/v1/activity").json()["items"]
    assert {"acknowledged", "resolved"} <= {a["kind"] for a in activity}


def test_a_note_joins_the_incident_timeline(world: World) -> None:
    """POST a note: it is decided, appended and projected into the timeline."""
    incident = world.get("/v1/incidents").json()["items"][0]
    posted = world.post(f"/v1/incidents/{incident['id']}/notes", json={"text": "paged db team"})
    assert posted.status_code == 201, posted.text

    def noted() -> bool:
        timeline = world.get(f"/v1/incidents/{incident['id']}").json()["timeline"]
        return any(
            t["kind"] == "note_added" and t["detail"]["text"] == "paged db team" for t in timeline
        )

    world.wait_for(noted)
    detail = world.get(f"/v1/incidents/{incident['id']}").json()
    assert detail["members"] and detail["members"][0]["alert_id"]
    empty = world.post(f"/v1/incidents/{incident['id']}/notes", json={"text": ""})
    assert empty.status_code == 400 and empty.json()["errors"][0]["field"] == "text"


def test_silences_are_validated_field_by_field_created_listed_and_expired(world: World) -> None:
    """A bad regex and a past end are both named; a good silence is active until expired."""
    bad = world.post(
        "/v1/silences",
        json={
            "matchers": [{"name": "service", "op": "=~", "value": "("}],
            "ends_at": "2001-01-01T00:00:00Z",
        },
    )
    assert bad.status_code == 400
    assert {e["field"] for e in bad.json()["errors"]} == {"matchers[0].value", "ends_at"}
    wrong_op = world.post(
        "/v1/silences",
        json={
            "matchers": [{"name": "a", "op": "~", "value": "x"}],
            "ends_at": "2099-01-01T00:00:00Z",
        },
    )
    assert wrong_op.status_code == 400 and wrong_op.json()["errors"]
    made = world.post(
        "/v1/silences",
        json={
            "matchers": [{"name": "service", "op": "=", "value": "db"}],
            "ends_at": "2099-01-01T00:00:00Z",
            "comment": "maintenance",
        },
    )
    assert made.status_code == 201, made.text
    silence_id = made.json()["id"]
    listed = {s["id"]: s for s in world.get("/v1/silences").json()["items"]}
    assert listed[silence_id]["state"] == "active"
    expired = world.post(f"/v1/silences/{silence_id}/expire")
    assert expired.status_code == 200 and expired.json()["state"] == "expired"


def test_rules_and_me_describe_the_tenant_and_the_caller(world: World) -> None:
    """The default ruleset (version 0) and the caller's identity and role."""
    rules = world.get("/v1/rules").json()
    assert rules["version"] == 0 and rules["ruleset"]["group_by"] == ["service"]
    me = world.get("/v1/me", role=Role.ADMIN).json()
    assert me["user"]["role"] == "admin" and me["tenant_id"] == world.tenants[0].tenant_id
    assert me["token_kind"] == "personal"


def test_login_gives_a_session_and_repeated_failures_lock_the_user_out(world: World) -> None:
    """Right password: a session token that works and can log out; three wrong: 429."""
    tenant = world.tenants[1]
    login = {
        "tenant": tenant.tenant_id,
        "email": tenant.emails[Role.RESPONDER],
        "password": PASSWORD,
    }
    session = world.http.post("/v1/auth/login", json=login)
    assert session.status_code == 201, session.text
    headers = {"Authorization": f"Bearer {session.json()['token']}"}
    assert world.http.get("/v1/me", headers=headers).json()["token_kind"] == "session"
    assert world.http.post("/v1/auth/logout", headers=headers).status_code == 204
    world.wait_for(lambda: world.http.get("/v1/me", headers=headers).status_code == 401)
    wrong = {**login, "password": "not the password"}
    codes = [world.http.post("/v1/auth/login", json=wrong).status_code for _ in range(3)]
    assert codes[:2] == [401, 401] and codes[2] == 429
    locked = world.http.post("/v1/auth/login", json=login)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0


def test_personal_tokens_are_shown_once_listed_without_secret_and_revocable(world: World) -> None:
    """Create, use, list (no secret), revoke: then 401."""
    created = world.post(
        "/v1/me/tokens", role=Role.VIEWER, json={"name": "script", "expires_in_days": 30}
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert world.http.get("/v1/alerts", headers=headers).status_code == 200
    listed = world.get("/v1/me/tokens").json()["items"]
    assert created.json()["id"] in [t["id"] for t in listed]
    assert token not in json.dumps(listed)
    revoked = world.post(f"/v1/me/tokens/{created.json()['id']}/revoke", role=Role.VIEWER)
    assert revoked.status_code == 204
    world.wait_for(lambda: world.http.get("/v1/alerts", headers=headers).status_code == 401)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/alerts", {"q": "disk\x00"}, "q"),
        ("/v1/alerts", {"service": "db\x00"}, "service"),
        ("/v1/alerts", {"source": "\x00"}, "source"),
        ("/v1/alerts", {"label": "service=db\x00"}, "label"),
        ("/v1/activity", {"kind": "x\x00"}, "kind"),
        ("/v1/alerts/a%00b", {}, "alert_id"),
        ("/v1/incidents/i%00", {}, "incident_id"),
    ],
)
def test_a_nul_character_in_a_filter_or_an_id_is_a_400_naming_it(
    world: World, path: str, params: dict[str, str], field: str
) -> None:
    """PostgreSQL cannot take NUL in text: the API refuses it instead of failing with a 500."""
    response = world.get(path, params=params)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
