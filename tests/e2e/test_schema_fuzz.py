"""Fuzz the query API from its own OpenAPI 3.1 schema (schemathesis) against a running Helios:
no request, however odd, may get a 5xx, and every answer must match the schema (status code,
content type, body). Kept short: a few examples per operation (< 60 s in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_query_api import World, seed_alerts, start_world

from helios.domain.access import Role


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("fuzz"))
    running = next(made)
    seed_alerts(running)
    yield running
    next(made, None)


@pytest.fixture(scope="module")
def api_schema(world: World) -> Any:
    loaded = schemathesis.openapi.from_url(f"{world.base}/schema/openapi.json")
    # The query API only: ingestion has its own tests, and logins would lock users out.
    return loaded.include(path_regex=r"^/v1/(?!ingest|auth/)")


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
CHECKS.append(response_schema_conformance)


def test_no_request_gets_a_server_error_and_every_answer_matches_the_schema(
    api_schema: Any, world: World
) -> None:
    """Every operation, with an owner's token so each handler runs (not only the guard)."""
    headers = world.auth(Role.OWNER, 1)
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    calls: list[int] = []

    for operation in operations:

        @settings(
            max_examples=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            calls.append(response.status_code)

        fuzz()
    assert len(calls) >= 4 * len(operations)
    assert any(200 <= code < 300 for code in calls) and 400 in calls
