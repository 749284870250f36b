"""The rate test, week-over-week trends and the ranked suggestions."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.application.analytics import documents
from helios.apps.application.analytics.stats import binomial_two_sided, poisson_rate_change
from helios.ports.analytics import Fact

MINUTE = 60_000
DAY = 24 * 60 * MINUTE
WEEK = 7 * DAY
UNTIL = 1_900_000_000_000


def test_the_binomial_p_value_is_exact_for_small_counts() -> None:
    # P(X <= 1) for X ~ Bin(10, 1/2) is 11/1024; both tails double it.
    assert math.isclose(binomial_two_sided(1, 10), 22 / 1024)
    assert binomial_two_sided(5, 10) == 1.0
    assert binomial_two_sided(0, 0) == 1.0


def test_a_large_rise_is_significant_and_a_small_one_is_not() -> None:
    assert poisson_rate_change(20, 60).direction == "up"
    assert poisson_rate_change(60, 20).direction == "down"
    assert poisson_rate_change(20, 28).direction == "steady"  # p ≈ 0.31
    # Significant in a huge count, but under the 25% change worth showing.
    assert poisson_rate_change(100_000, 110_000).direction == "steady"
    assert poisson_rate_change(100_000, 110_000).p_value < 0.01


@pytest.fixture
def store() -> Iterator[DuckDbAnalytics]:
    analytics = DuckDbAnalytics(":memory:")
    yield analytics
    analytics.close()


class _Facts:
    def __init__(self) -> None:
        self.rows: list[Fact] = []

    def add(self, kind: str, key: str, at: int, **fields: str) -> None:
        self.rows.append(
            Fact(position=len(self.rows) + 1, tenant="acme", kind=kind, key=key, at_ms=at, **fields)
        )

    def page(self, key: str, at: int, episode: str, *, acked: bool, resolve_after: int) -> None:
        self.add("triggered", key, at, episode=episode)
        self.add("notified", key, at, episode=episode, priority="P3")
        if acked:
            self.add("acknowledged", key, at + MINUTE, episode=episode)
        self.add("resolved", key, at + resolve_after, episode=episode)


def test_week_over_week_flags_the_service_whose_alerts_tripled(store: DuckDbAnalytics) -> None:
    facts = _Facts()
    facts.add("signal", "api-5xx", UNTIL - 3 * WEEK, service="api", detail="Api5xx")
    facts.add("signal", "db-disk", UNTIL - 3 * WEEK, service="db", detail="DbDisk")
    for index in range(10):
        facts.page(
            "api-5xx",
            UNTIL - WEEK - DAY - index * 1000,
            f"a{index}",
            acked=True,
            resolve_after=30 * MINUTE,
        )
        facts.page(
            "db-disk",
            UNTIL - WEEK - DAY - index * 1000,
            f"d{index}",
            acked=True,
            resolve_after=30 * MINUTE,
        )
    for index in range(30):
        facts.page(
            "api-5xx",
            UNTIL - DAY - index * 1000,
            f"b{index}",
            acked=True,
            resolve_after=30 * MINUTE,
        )
    for index in range(11):
        facts.page(
            "db-disk",
            UNTIL - DAY - index * 1000,
            f"e{index}",
            acked=True,
            resolve_after=30 * MINUTE,
        )
    store.load(facts.rows)

    trends = documents.trends(store, "acme", until=UNTIL)

    by_service = {row["service"]: row for row in trends["week_over_week"]}
    assert by_service["api"]["alerts"]["before"] == 10
    assert by_service["api"]["alerts"]["after"] == 30
    assert by_service["api"]["alerts"]["direction"] == "up"
    assert by_service["db"]["alerts"]["direction"] == "steady"
    assert by_service["api"]["weekly_alerts"] == [0, 0, 10, 30]
    assert "Binomial" in trends["test"]
    assert len(trends["by_hour"]) == 24


def test_suggestions_rank_the_never_acknowledged_pager_first_with_its_rule_change(
    store: DuckDbAnalytics,
) -> None:
    facts = _Facts()
    facts.add("signal", "disk", UNTIL - 20 * DAY, service="db", detail="DiskAlmostFull")
    facts.add("signal", "cpu", UNTIL - 20 * DAY, service="web", detail="CpuHigh")
    facts.add("signal", "latency", UNTIL - 20 * DAY, service="web", detail="LatencyHigh")
    for index in range(40):  # pages twice a day for 20 days, nobody acknowledges
        facts.page(
            "disk",
            UNTIL - 20 * DAY + index * DAY // 2,
            f"d{index}",
            acked=False,
            resolve_after=3 * MINUTE,
        )
    for index in range(4):  # acknowledged: a real alert
        facts.page(
            "cpu",
            UNTIL - 10 * DAY + index * DAY,
            f"c{index}",
            acked=True,
            resolve_after=60 * MINUTE,
        )
        # starts with the CPU alert each time: they fire together
        facts.page(
            "latency",
            UNTIL - 10 * DAY + index * DAY + MINUTE,
            f"l{index}",
            acked=True,
            resolve_after=60 * MINUTE,
        )
    store.load(facts.rows)

    found = documents.suggestions(store, "acme", until=UNTIL)["suggestions"]

    first = found[0]
    assert first["rank"] == 1
    assert first["kind"] == "noisy"
    assert first["evidence"]["key"] == "disk"
    assert "never acknowledged" in first["title"]
    assert first["change"]["multiplier"]["matchers"] == ["alertname=DiskAlmostFull"]
    assert 'matchers = ["alertname=DiskAlmostFull"]' in first["change"]["toml"]
    kinds = {(item["kind"], item["evidence"].get("key")) for item in found}
    assert ("self_resolving", "disk") in kinds
    assert ("noisy", "cpu") not in kinds
    together = [item for item in found if item["kind"] == "fire_together"]
    assert together[0]["evidence"]["together"] == 4
    assert [item["rank"] for item in found] == list(range(1, len(found) + 1))
