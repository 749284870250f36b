"""Tenant isolation: every endpoint, called with another tenant's ids or tokens, answers 404 or
401 and never a byte of the other tenant's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_query_api import World, seed_alerts, start_world

from helios.domain.access import Role


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("isolation"))
    running = next(made)
    seed_alerts(running)
    yield running
    next(made, None)


@pytest.fixture(scope="module")
def alpha_ids(world: World) -> dict[str, str]:
    """Ids that exist in tenant 0 (alpha) only."""
    alert = world.alerts(0)[0]
    incident = world.get("/v1/incidents").json()["items"][0]
    silence = world.post(
        "/v1/silences",
        json={
            "matchers": [{"name": "service", "op": "=", "value": "x"}],
            "ends_at": "2099-01-01T00:00:00Z",
        },
    ).json()
    token = world.post("/v1/me/tokens", json={"name": "alpha"}).json()
    return {
        "alert": alert["id"],
        "incident": incident["id"],
        "silence": silence["id"],
        "token": token["id"],
    }


BY_ID = [
    ("GET", "/v1/alerts/{alert}"),
    ("POST", "/v1/alerts/{alert}/acknowledge"),
    ("POST", "/v1/alerts/{alert}/resolve"),
    ("GET", "/v1/incidents/{incident}"),
    ("POST", "/v1/incidents/{incident}/notes"),
    ("POST", "/v1/silences/{silence}/expire"),
    ("POST", "/v1/me/tokens/{token}/revoke"),
]
LISTS = [
    "/v1/alerts",
    "/v1/incidents",
    "/v1/activity",
    "/v1/changes",
    "/v1/silences",
    "/v1/users",
    "/v1/me/tokens",
]


@pytest.mark.parametrize(("method", "template"), BY_ID)
def test_another_tenant_s_ids_answer_404_for_every_role(
    world: World, alpha_ids: dict[str, str], method: str, template: str
) -> None:
    """Beta's users, whatever their role, cannot see or touch alpha's resources."""
    path = template.format(**alpha_ids)
    body = {"text": "x"} if path.endswith("/notes") else None
    for role in (Role.RESPONDER, Role.OWNER):
        response = world.http.request(method, path, headers=world.auth(role, 1), json=body)
        assert response.status_code == 404, (path, role, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        for secret in alpha_ids.values():
            assert secret not in response.text


@pytest.mark.parametrize("path", LISTS)
def test_lists_hold_only_the_caller_s_tenant(
    world: World, alpha_ids: dict[str, str], path: str
) -> None:
    """Beta's lists never name alpha's ids, services or users."""
    response = world.get(path, role=Role.OWNER, tenant=1)
    assert response.status_code == 200
    for leaked in (*alpha_ids.values(), world.tenants[0].tenant_id, "alpha.example", "DiskFull"):
        assert leaked not in response.text


def test_a_token_claiming_another_tenant_is_refused(world: World) -> None:
    """Beta's token rewritten to name alpha's tenant is not a valid token anywhere."""
    kind, _, token_id, secret = world.tenants[1].tokens[Role.OWNER].split(".")
    forged = ".".join((kind, world.tenants[0].tenant_id, token_id, secret))
    for path in ("/v1/alerts", "/v1/me", "/v1/rules"):
        response = world.http.get(path, headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401


def test_an_integration_key_is_not_a_user_token(world: World) -> None:
    """Routing keys authenticate ingestion only."""
    key = world.tenants[0].webhook_key
    response = world.http.get("/v1/alerts", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401
