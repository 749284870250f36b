"""``/v1/insights``: what the analytics worker (run by ``helios up``) published, per tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from test_query_api import World, am_alert, start_world

from helios.apps.composition import Services, open_read_models
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.apps.views import insights
from helios.domain.access import Role

_READ_MODELS: list[str] = []
"""The read-model database of the running world (to keep a report in, as the worker does)."""


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    def app(services: Services) -> Any:
        _READ_MODELS.append(services.settings.effective_read_models_url)
        return create_app(services, config=ApiConfig())

    made = start_world(
        postgres_url, redis_session_url, tmp_path_factory.mktemp("insights"), app=app
    )
    running = next(made)
    running.alertmanager(
        0,
        [
            am_alert("DiskFull", "db", "critical", instance="db-1"),
            am_alert("HighLatency", "api", "warning", instance="api-1"),
        ],
    )
    running.alertmanager(0, [am_alert("DiskFull", "db", "critical", instance="db-1")])
    running.alertmanager(1, [am_alert("BetaOnly", "db", "critical", instance="b-1")])
    yield running
    next(made, None)


def _published(world: World, tenant: int) -> dict[str, Any]:
    """The tenant's overview once it counts every alert sent (three for the first tenant, the
    HA pair's copy either a repeat or a newer signal; one for the second)."""
    sent = 3 if tenant == 0 else 1

    def ready() -> dict[str, Any] | None:
        response = world.get("/v1/insights/overview", tenant=tenant)
        assert response.status_code == 200, response.text
        data: dict[str, Any] | None = response.json()["data"]
        if not data:
            return None
        totals = data["totals"]
        return data if totals.get("signals", 0) + totals.get("duplicates", 0) == sent else None

    found: dict[str, Any] = world.wait_for(ready, timeout_s=60)
    return found


def test_a_viewer_reads_the_overview_of_its_own_tenant_only(world: World) -> None:
    alpha = _published(world, 0)
    beta = _published(world, 1)
    assert alpha["totals"]["alerts"] == 2
    assert alpha["totals"]["signals"] >= 2
    assert {row["value"] for row in alpha["by"]["service"]} == {"db", "api"}
    assert beta["totals"]["alerts"] == 1
    assert {row["value"] for row in beta["by"]["service"]} == {"db"}


def test_trends_state_their_test_and_suggestions_are_ranked(world: World) -> None:
    _published(world, 0)
    trends = world.get("/v1/insights/trends").json()["data"]
    assert "Poisson" in trends["test"]
    assert len(trends["by_hour"]) == 24
    suggestions = world.get("/v1/insights/suggestions").json()["data"]
    assert [s["rank"] for s in suggestions["suggestions"]] == list(
        range(1, len(suggestions["suggestions"]) + 1)
    )


def test_reports_are_listed_per_tenant_and_another_tenants_report_is_a_404(
    world: World,
) -> None:
    settings_url = _read_models_url(world)
    db = open_read_models(settings_url)
    try:
        with db.transaction() as cursor:
            insights.add_report(
                cursor,
                insights.Report(
                    tenant=world.tenants[0].tenant_id,
                    report_id="2030-W01",
                    period_start=1_893_456_000_000,
                    period_end=1_894_060_800_000,
                    created_at=1_894_060_800_000,
                    summary=orjson.dumps({"pages": 3}).decode(),
                    html="<!doctype html><title>Week</title><p>3 pages</p>",
                ),
            )
    finally:
        db.close()
    listed = world.get("/v1/insights/reports").json()["items"]
    assert [(r["id"], r["summary"]) for r in listed] == [("2030-W01", {"pages": 3})]
    page = world.get("/v1/insights/reports/2030-W01")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "3 pages" in page.text
    assert world.get("/v1/insights/reports", tenant=1).json()["items"] == []
    assert world.get("/v1/insights/reports/2030-W01", tenant=1).status_code == 404
    bad = world.get("/v1/insights/reports/a%20b")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "report_id"


def test_every_insight_endpoint_needs_a_token_and_is_in_the_openapi_document(
    world: World,
) -> None:
    assert world.http.get("/v1/insights/overview").status_code == 401
    assert world.get("/v1/insights/overview", role=Role.VIEWER).status_code == 200
    paths = world.http.get("/schema/openapi.json").json()["paths"]
    for path in ("overview", "trends", "suggestions", "reports", "reports/{report_id}"):
        assert f"/v1/insights/{path}" in paths


def _read_models_url(world: World) -> str:
    return _READ_MODELS[-1]
