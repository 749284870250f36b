"""Engine version 4 records an episode's first score in the decision that opens it: the same
decisions as version 3 in fewer events, and the same state."""

from __future__ import annotations

from typing import Any

import msgspec
from domain_strategies import rulesets, signals
from hypothesis import given
from hypothesis import strategies as st

from helios.domain import alert, versions
from helios.domain.ruleset import Ruleset
from helios.domain.values import Signal

_OPENINGS = (alert.AlertTriggered, alert.AlertReopened)


def folded_into_openings(decided: tuple[Any, ...]) -> list[Any]:
    """Version 3's decisions as version 4 records them: the first ``AlertScored`` after an
    opening goes into it (its previous priority and score are then None: the episode is new)."""
    result: list[Any] = []
    opening: int | None = None
    for event in decided:
        if isinstance(event, _OPENINGS):
            opening = len(result)
        elif isinstance(event, alert.AlertScored) and opening is not None:
            assert event.previous_priority is None
            assert event.previous_score is None
            result[opening] = msgspec.structs.replace(
                result[opening],
                factors=event.factors,
                priority=event.priority,
                ruleset_version=event.ruleset_version,
                score=event.score,
            )
            opening = None
            continue
        result.append(event)
    return result


@given(
    arrivals=st.lists(signals(), min_size=1, max_size=12),
    tick_after=st.integers(min_value=0, max_value=3_600_000),
    ruleset=rulesets,
)
def test_version_4_decides_what_version_3_did_in_fewer_events(
    arrivals: list[Signal], tick_after: int, ruleset: Ruleset
) -> None:
    old = new = alert.initial_state("t1", "k1")
    commands: list[alert.AlertCommand] = [
        alert.IngestSignal(signal=signal, ruleset=ruleset) for signal in arrivals
    ]
    last = max(signal.occurred_at for signal in arrivals)
    commands.append(alert.Tick(at=last + tick_after, ruleset=ruleset))
    for command in commands:
        as_3 = msgspec.structs.replace(command, engine_version=versions.LATENESS_HORIZON)
        as_4 = msgspec.structs.replace(command, engine_version=versions.SCORED_ON_OPENING)
        decided_3, old = alert.decide_and_evolve(as_3, old)
        decided_4, new = alert.decide_and_evolve(as_4, new)
        assert list(decided_4) == folded_into_openings(decided_3)
        assert new == old
        scoring = [event for event in decided_4 if alert.scores(event)]
        assert len(scoring) <= 1
