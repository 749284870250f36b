"""Pairs of alerts that fire together: the same pairs as joining every start with every
other, without holding every pair of a burst of alerts that each fired once."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from helios.adapters.duckdb_analytics import DuckDbAnalytics
from helios.apps.application.analytics import queries
from helios.ports.analytics import Fact

MINUTE = 60_000
UNTIL = 1_900_000_000_000
WINDOW = queries.Window(tenant="acme", since=UNTIL - 7 * 24 * 60 * MINUTE, until=UNTIL)

# Every start joined with every other (what the query computed before it was narrowed).
_EVERY_PAIR = (
    f"{queries._ENRICHED}, starts AS (SELECT key, name, service, at_ms FROM f "
    "WHERE kind IN ('triggered', 'reopened')) "
    "SELECT a.key, b.key, count(*) AS together FROM starts a JOIN starts b "
    "ON a.key < b.key AND b.at_ms BETWEEN a.at_ms - ? AND a.at_ms + ? "
    "GROUP BY a.key, b.key HAVING count(*) >= ? ORDER BY together DESC, a.key, b.key LIMIT 20"
)


@pytest.fixture(name="store")
def store_fixture() -> Iterator[DuckDbAnalytics]:
    analytics = DuckDbAnalytics(":memory:", memory_mb=64, threads=1)
    yield analytics
    analytics.close()


def _starts(starts: list[tuple[str, int]]) -> list[Fact]:
    return [
        Fact(position=n + 1, tenant="acme", kind="triggered", key=key, at_ms=at, episode=str(n))
        for n, (key, at) in enumerate(starts)
    ]


@pytest.mark.parametrize("least", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_pairs_found_are_those_of_every_start_joined_with_every_other(
    store: DuckDbAnalytics, least: int, seed: int
) -> None:
    rng = random.Random(seed)
    starts = [(f"alert-{rng.randrange(12)}", UNTIL - rng.randrange(40) * MINUTE) for _ in range(60)]
    store.load(_starts(starts))

    found = queries.fire_together(store, WINDOW, within_ms=2 * MINUTE, least=least)

    expected = store.query(_EVERY_PAIR, [*WINDOW.params(), 2 * MINUTE, 2 * MINUTE, least])
    assert [(p["first"], p["second"], p["together"]) for p in found] == [
        (a, b, int(n)) for a, b, n in expected
    ]
    assert found or least > 1


def test_a_burst_of_alerts_that_each_fired_once_is_no_pair_and_fits_in_little_memory(
    store: DuckDbAnalytics,
) -> None:
    # 20,000 alerts started within one minute: 200 million pairs of starts, more than the
    # 64 MB the store may use could ever group.
    store.load(_starts([(f"burst-{n}", UNTIL - MINUTE + n) for n in range(20_000)]))
    store.load(
        [
            Fact(position=100_000 + n, tenant="acme", kind="reopened", key=key, at_ms=at)
            for n, (key, at) in enumerate(
                [("flappy", UNTIL - 10 * MINUTE + n * 1000) for n in range(3)]
                + [("twin", UNTIL - 10 * MINUTE + n * 1000 + 500) for n in range(3)]
            )
        ]
    )

    found = queries.fire_together(store, WINDOW)

    assert [(p["first"], p["second"], p["together"]) for p in found] == [("flappy", "twin", 9)]
