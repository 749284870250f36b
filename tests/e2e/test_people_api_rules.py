"""The people's API answers for the rules its deciders hold: each refusal of the silence,
incident and access deciders comes back as the problem document it always was (a 400 naming
the field, or a 403), through the real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from test_query_api import World, start_world

from helios.domain.access import Role

FUTURE = "2099-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("people"))
    yield next(made)
    next(made, None)


def errors_of(response: httpx.Response) -> list[tuple[str, str]]:
    body = response.json()
    return [(e["field"], e["message"]) for e in body.get("errors", [])]


@pytest.mark.parametrize("name", ["9lives", "has space", "a/b", "a" * 129])
def test_a_matcher_on_a_name_that_is_no_label_is_a_400_naming_the_matcher(
    world: World, name: str
) -> None:
    response = world.post(
        "/v1/silences",
        json={"matchers": [{"name": name, "op": "=", "value": "x"}], "ends_at": FUTURE},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "invalid silence"
    assert errors_of(response) == [("matchers[0].name", "is not a label name")]


def test_every_bad_field_of_a_silence_is_named_in_one_400(world: World) -> None:
    response = world.post(
        "/v1/silences",
        json={
            "matchers": [{"name": f"l{i}", "op": "=", "value": "v" * 1025} for i in range(65)],
            "comment": "c" * 1025,
            "ends_at": "2001-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 400, response.text
    found = errors_of(response)
    assert found[0] == ("matchers", "at most 64")
    assert ("matchers[64].value", "at most 1024 characters") in found
    assert found[-2:] == [
        ("comment", "at most 1024 characters"),
        ("ends_at", "must be after starts_at and in the future"),
    ]


def test_a_silence_without_an_end_is_a_400_naming_ends_at(world: World) -> None:
    response = world.post(
        "/v1/silences", json={"matchers": [{"name": "a", "op": "=", "value": "b"}], "ends_at": ""}
    )
    assert response.status_code == 400, response.text
    assert [field for field, _ in errors_of(response)] == ["ends_at"]


def test_expiring_an_unknown_silence_is_a_404(world: World) -> None:
    response = world.post("/v1/silences/sil_nope/expire")
    assert response.status_code == 404 and response.json()["detail"] == "no such silence"


@pytest.mark.parametrize("text", ["", "  ", "x" * 4097])
def test_a_bad_note_is_a_400_even_for_an_unknown_incident(world: World, text: str) -> None:
    """The note's rule is checked before the incident is looked up, as it always was."""
    response = world.post("/v1/incidents/inc-unknown/notes", json={"text": text})
    assert response.status_code == 400, response.text
    assert errors_of(response) == [("text", "must be 1..4096 chars")]


def test_a_good_note_for_an_unknown_incident_is_a_404(world: World) -> None:
    response = world.post("/v1/incidents/inc-unknown/notes", json={"text": "hello"})
    assert response.status_code == 404 and response.json()["detail"] == "no such incident"


def test_creating_a_user_above_ones_own_role_is_a_403_saying_so(world: World) -> None:
    """Refused before the password is looked at: a bad password does not change the answer."""
    body = {"email": "boss@people.example", "role": "owner", "password": "short"}
    response = world.post("/v1/users", role=Role.ADMIN, json=body)
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == "an admin cannot create an owner"


def test_a_token_expiry_outside_1_to_3650_days_is_a_400_naming_it(world: World) -> None:
    response = world.post(
        "/v1/me/tokens", role=Role.VIEWER, json={"name": "n", "expires_in_days": 3651}
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "invalid expiry"
    assert errors_of(response) == [("expires_in_days", "must be 1..3650")]


def test_revoking_a_token_that_is_not_ones_own_is_a_404(world: World) -> None:
    response = world.post("/v1/me/tokens/tok_nope/revoke", role=Role.VIEWER)
    assert response.status_code == 404 and response.json()["detail"] == "no such token"
