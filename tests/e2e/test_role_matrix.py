"""Roles: every endpoint against every role. viewer reads; responder also acknowledges,
resolves, writes notes and changes silences; admin also lists and creates users; owner may
create owners. Rules are read-only through this API for everyone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_query_api import ROLES, World, seed_alerts, start_world

from helios.domain.access import Role


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("roles"))
    running = next(made)
    seed_alerts(running)
    yield running
    next(made, None)


FUTURE = "2099-01-01T00:00:00Z"
# (method, path template, body, least role allowed)
MATRIX = [
    ("GET", "/v1/me", None, Role.VIEWER),
    ("GET", "/v1/alerts", None, Role.VIEWER),
    ("GET", "/v1/alerts/{alert}", None, Role.VIEWER),
    ("GET", "/v1/incidents", None, Role.VIEWER),
    ("GET", "/v1/incidents/{incident}", None, Role.VIEWER),
    ("GET", "/v1/activity", None, Role.VIEWER),
    ("GET", "/v1/live", None, Role.VIEWER),
    (
        "POST",
        "/v1/silences/preview",
        {"matchers": [{"name": "a", "op": "=", "value": "b"}]},
        Role.VIEWER,
    ),
    ("GET", "/v1/alerts/{alert}/actions/00000000000000000000000000000000", None, Role.VIEWER),
    ("GET", "/v1/changes", None, Role.VIEWER),
    ("GET", "/v1/silences", None, Role.VIEWER),
    ("GET", "/v1/rules", None, Role.VIEWER),
    ("GET", "/v1/me/tokens", None, Role.VIEWER),
    ("POST", "/v1/alerts/{alert}/acknowledge", None, Role.RESPONDER),
    ("POST", "/v1/alerts/{alert}/resolve", None, Role.RESPONDER),
    ("POST", "/v1/incidents/{incident}/notes", {"text": "n"}, Role.RESPONDER),
    (
        "POST",
        "/v1/silences",
        {"matchers": [{"name": "a", "op": "=", "value": "b"}], "ends_at": FUTURE},
        Role.RESPONDER,
    ),
    ("POST", "/v1/silences/{silence}/expire", None, Role.RESPONDER),
    ("GET", "/v1/users", None, Role.ADMIN),
    ("POST", "/v1/users", {"email": "new-{role}@x.example", "role": "viewer"}, Role.ADMIN),
]


@pytest.fixture(scope="module")
def ids(world: World) -> dict[str, str]:
    silence = world.post(
        "/v1/silences",
        json={"matchers": [{"name": "a", "op": "=", "value": "b"}], "ends_at": FUTURE},
    )
    return {
        "alert": world.alerts()[0]["id"],
        "incident": world.get("/v1/incidents").json()["items"][0]["id"],
        "silence": silence.json()["id"],
    }


@pytest.mark.parametrize("case", MATRIX, ids=[f"{m} {t}" for m, t, _, _ in MATRIX])
def test_each_role_may_do_exactly_what_its_rank_allows(
    world: World, ids: dict[str, str], case: tuple[str, str, object, Role]
) -> None:
    """Below the least role: 403 problem; at or above: a 2xx."""
    method, template, body, least = case
    for role in ROLES:
        payload = body
        if isinstance(body, dict) and "email" in body:
            payload = {**body, "email": f"new-{role.value}@x.example"}
        response = world.http.request(
            method, template.format(**ids), headers=world.auth(role), json=payload
        )
        if role.allows(least):
            assert 200 <= response.status_code < 300, (template, role, response.text)
        else:
            assert response.status_code == 403, (template, role, response.text)
            assert response.json()["type"] == "urn:helios:problem:forbidden"


def test_no_token_is_401_with_a_bearer_challenge(world: World) -> None:
    """Every protected endpoint without a token."""
    response = world.http.get("/v1/alerts")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_an_admin_cannot_create_an_owner_but_an_owner_can(world: World) -> None:
    """Roles are granted up to the granter's own."""
    body = {"email": "boss@x.example", "role": "owner"}
    assert world.post("/v1/users", role=Role.ADMIN, json=body).status_code == 403
    assert world.post("/v1/users", role=Role.OWNER, json=body).status_code == 201


def test_rules_cannot_be_changed_through_this_api(world: World) -> None:
    """Only GET exists on /v1/rules: writes are the admin app's."""
    for method in ("POST", "PUT", "DELETE"):
        assert (
            world.http.request(method, "/v1/rules", headers=world.auth(Role.OWNER)).status_code
            == 405
        )
