"""Silence patterns through the real HTTP app: RE2 syntax refused field by field, and a
pathological pattern that cannot stall ingestion for anyone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_query_api import World, am_alert, start_world

LONGEST_VALUE = "a" * 1023 + "!"


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("regex"))
    yield next(made)
    next(made, None)


def _silence(world: World, op: str, value: str) -> object:
    return world.post(
        "/v1/silences",
        json={
            "matchers": [
                {"name": "service", "op": "=", "value": "regex"},
                {"name": "path", "op": op, "value": value},
            ],
            # Started in the past: alerts are sent as having fired a minute ago, and only a
            # signal inside the window is matched against the patterns at all.
            "starts_at": "2020-01-01T00:00:00Z",
            "ends_at": "2099-01-01T00:00:00Z",
        },
    )


@pytest.mark.parametrize(
    "pattern",
    [r"(a)\1", r"(?=x)x", r"(?<!x)y", "a" * 1025],
    ids=["backref", "ahead", "behind", "long"],
)
def test_a_pattern_re2_cannot_read_is_a_400_naming_the_matcher(world: World, pattern: str) -> None:
    """problem+json whose only error is matchers[1].value, for =~ and !~ alike."""
    for op in ("=~", "!~"):
        response = _silence(world, op, pattern)
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in response.json()["errors"]] == ["matchers[1].value"]


def test_a_pathological_silence_neither_stalls_its_tenant_nor_another(world: World) -> None:
    """(a+)+$ is accepted; a 1,024-character value is decided, and both tenants' alerts land
    (a short value the pattern matches is silenced: the patterns were really evaluated)."""
    for pattern in (r"(a+)+$", r"(a|aa)+b"):
        response = _silence(world, "=~", pattern)
        assert response.status_code == 201, response.text
    world.alertmanager(
        0,
        [
            am_alert("Slow", "regex", "critical", path=LONGEST_VALUE),
            am_alert("Short", "regex", "critical", path="aaaa"),
        ],
    )
    world.alertmanager(1, [am_alert("Other", "db", "critical", instance="b-1")])
    assert world.http.get("/healthz").status_code == 200
    world.wait_for(lambda: world.alerts(1), timeout_s=60)
    made = world.wait_for(lambda: len(world.alerts(0)) == 2 and world.alerts(0), timeout_s=60)
    silenced = {a["labels"]["path"]: a["silenced"] for a in made}
    assert silenced == {LONGEST_VALUE: False, "aaaa": True}
