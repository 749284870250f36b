"""Aggregations over hand-made facts: every number checked against one worked by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.application.analytics import documents
from helios.ports.analytics import Fact

MINUTE = 60_000
# Wednesday 2030-01-02 10:00 UTC: working hours.
NOON_ISH = int(datetime(2030, 1, 2, 10, tzinfo=UTC).timestamp() * 1000)
# Wednesday 2030-01-02 03:00 UTC: out of hours.
NIGHT = int(datetime(2030, 1, 2, 3, tzinfo=UTC).timestamp() * 1000)
UNTIL = NOON_ISH + 24 * 60 * MINUTE


class _Facts:
    def __init__(self) -> None:
        self.rows: list[Fact] = []

    def add(self, tenant: str, kind: str, key: str, at: int, **fields: str) -> None:
        self.rows.append(
            Fact(position=len(self.rows) + 1, tenant=tenant, kind=kind, key=key, at_ms=at, **fields)
        )

    def episode(
        self,
        key: str,
        started: int,
        *,
        acked_after: int | None,
        resolved_after: int | None,
        episode: str,
        priority: str = "P2",
        tenant: str = "acme",
        scored_on_opening: bool = False,
    ) -> None:
        if scored_on_opening:  # engine version 4 on: the trigger carries the first score
            self.add(tenant, "triggered", key, started, episode=episode, priority=priority)
        else:
            self.add(tenant, "triggered", key, started, episode=episode)
            self.add(tenant, "scored", key, started, episode=episode, priority=priority)
        self.add(tenant, "notified", key, started, episode=episode, priority=priority)
        if acked_after is not None:
            self.add(tenant, "acknowledged", key, started + acked_after, episode=episode)
        if resolved_after is not None:
            self.add(tenant, "resolved", key, started + resolved_after, episode=episode)


@pytest.fixture
def store() -> Iterator[DuckDbAnalytics]:
    analytics = DuckDbAnalytics(":memory:")
    yield analytics
    analytics.close()


def _load(store: DuckDbAnalytics, facts: _Facts) -> None:
    assert store.load(facts.rows) == len(facts.rows)


def test_counts_noise_and_out_of_hours_pages_follow_the_facts(store: DuckDbAnalytics) -> None:
    facts = _Facts()
    for index in range(4):
        facts.add("acme", "signal", "db", NOON_ISH + index, source="alertmanager", service="db")
    facts.add("acme", "signal", "web", NOON_ISH, source="pagerduty", service="web")
    for index in range(3):
        facts.add("acme", "duplicate", "db", NOON_ISH + index, source="alertmanager")
    facts.episode("db", NOON_ISH, acked_after=None, resolved_after=None, episode="e1")
    facts.episode("web", NIGHT, acked_after=None, resolved_after=None, episode="e2")
    facts.add("acme", "flapping_started", "web", NIGHT + 1)
    facts.add("acme", "suppressed", "web", NIGHT + 2, detail="silenced")
    facts.add("other", "signal", "db", NOON_ISH, source="alertmanager", service="db")
    _load(store, facts)

    overview = documents.overview(store, "acme", until=UNTIL)

    totals = overview["totals"]
    assert totals["signals"] == 5
    assert totals["duplicates"] == 3
    assert totals["noise_ratio"] == 0.375
    assert totals["alerts"] == 2
    assert totals["notifications"] == 2
    assert totals["out_of_hours"] == 1
    assert totals["flapping"] == 1
    assert totals["silenced"] == 1
    by_source = {row["value"]: row for row in overview["by"]["source"]}
    assert by_source["alertmanager"]["signals"] == 4
    assert by_source["alertmanager"]["duplicates"] == 3
    assert by_source["pagerduty"]["signals"] == 1
    by_service = {row["value"]: row for row in overview["by"]["service"]}
    assert by_service["web"]["out_of_hours"] == 1
    assert by_service["db"]["out_of_hours"] == 0
    assert {row["value"] for row in overview["by"]["hour"]} == {"3", "10"}


def test_mtta_and_mttr_are_the_interpolated_percentiles_of_the_episodes(
    store: DuckDbAnalytics,
) -> None:
    facts = _Facts()
    facts.add("acme", "signal", "db", NOON_ISH, source="alertmanager", service="db")
    # Acknowledged after 1, 2, 3, 4 minutes; resolved after 10, 20, 30, 40 minutes.
    for index in range(4):
        facts.episode(
            "db",
            NOON_ISH + index * 60 * MINUTE,
            acked_after=(index + 1) * MINUTE,
            resolved_after=(index + 1) * 10 * MINUTE,
            episode=f"e{index}",
            priority="P1" if index == 0 else "P3",
        )
    _load(store, facts)

    overview = documents.overview(store, "acme", until=UNTIL)

    totals = overview["totals"]
    assert totals["mtta_p50"] == 150.0  # between 120 s and 180 s
    assert totals["mtta_p90"] == 222.0  # 180 + 0.7 * 60
    assert totals["mttr_p50"] == 1500.0
    assert totals["mttr_p90"] == 2220.0
    by_priority = {row["value"]: row for row in overview["by"]["priority"]}
    assert by_priority["P1"]["mtta_p50"] == 60.0
    assert by_priority["P3"]["mttr_p50"] == 1800.0


def test_an_episode_scored_as_it_opened_has_that_priority_for_its_ack_and_resolve(
    store: DuckDbAnalytics,
) -> None:
    """Engine version 4 records no ``scored`` fact for an episode's first score: the
    trigger's priority is the episode's, for the facts that carry none (acks, resolves)."""
    facts = _Facts()
    facts.add("acme", "signal", "db", NOON_ISH, source="alertmanager", service="db")
    facts.episode(
        "db", NOON_ISH, acked_after=MINUTE, resolved_after=10 * MINUTE, episode="e0",
        priority="P1", scored_on_opening=True,
    )  # fmt: skip
    facts.add("acme", "flapping_started", "db", NOON_ISH + 5 * MINUTE, episode="e0")
    facts.episode(
        "db", NOON_ISH + 60 * MINUTE, acked_after=3 * MINUTE, resolved_after=30 * MINUTE,
        episode="e1", priority="P3",
    )  # fmt: skip
    _load(store, facts)

    overview = documents.overview(store, "acme", until=UNTIL)

    by_priority = {row["value"]: row for row in overview["by"]["priority"]}
    assert by_priority["P1"]["mtta_p50"] == 60.0
    assert by_priority["P1"]["mttr_p50"] == 600.0
    assert by_priority["P3"]["mtta_p50"] == 180.0
    # A fact with no priority of its own counts under its episode's.
    assert by_priority["P1"]["flapping"] == 1


def test_the_overview_counts_only_the_window_and_the_tenant(store: DuckDbAnalytics) -> None:
    facts = _Facts()
    facts.add("acme", "signal", "db", UNTIL - 31 * 24 * 60 * MINUTE, source="am")
    facts.add("acme", "signal", "db", UNTIL, source="am")
    facts.add("acme", "signal", "db", UNTIL - 1, source="am")
    facts.add("other", "signal", "db", UNTIL - 1, source="am")
    _load(store, facts)

    assert documents.overview(store, "acme", until=UNTIL)["totals"]["signals"] == 1
    assert documents.overview(store, "nobody", until=UNTIL)["totals"]["signals"] == 0


def test_a_fact_loaded_twice_counts_once(store: DuckDbAnalytics) -> None:
    facts = _Facts()
    facts.add("acme", "signal", "db", NOON_ISH, source="am")
    facts.add("acme", "signal", "db", NOON_ISH, source="am")
    assert store.load(facts.rows) == 2
    assert store.load([*facts.rows, facts.rows[0]]) == 0
    assert documents.overview(store, "acme", until=UNTIL)["totals"]["signals"] == 2
