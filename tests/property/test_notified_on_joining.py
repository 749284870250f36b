"""Engine version 5 records the notification an alert joins its incident with in the join
itself: the same decisions as version 4 in fewer events, and the same states."""

from __future__ import annotations

from typing import Any

import msgspec
from domain_strategies import make_signal, rulesets, signals
from hypothesis import given, settings
from hypothesis import strategies as st

from helios.domain import engine, incident, versions
from helios.domain.ruleset import Ruleset
from helios.domain.values import Action, Severity, Signal


def folded_into_joins(decided: list[Any]) -> list[Any]:
    """One command's decisions on a group stream under version 4, as version 5 records them:
    the first ``IncidentNotified`` about an alert that joined in the same command goes into
    its ``IncidentAlertJoined``."""
    result: list[Any] = []
    joined: dict[str, int] = {}
    for event in decided:
        if isinstance(event, incident.IncidentAlertJoined):
            joined[event.dedup_key] = len(result)
        elif isinstance(event, incident.IncidentNotified) and event.dedup_key in joined:
            index = joined.pop(event.dedup_key)
            result[index] = msgspec.structs.replace(
                result[index], notification_id=event.notification_id, reason=event.reason
            )
            continue
        result.append(event)
    return result


def _decide(working: engine.Working, signal: Signal, context: engine.TenantContext) -> None:
    missing = engine.apply_signal(working, signal, context)
    if missing is not None:
        for group in missing.groups:
            working.groups[group] = incident.initial_state(*group)
        assert engine.apply_signal(working, signal, context) is None


@settings(max_examples=150, deadline=None)
@given(
    signals_in=st.lists(signals(keys=("k1", "k2", "k3")), min_size=1, max_size=30),
    ruleset=st.just(Ruleset()) | rulesets,
    tick_after=st.integers(min_value=0, max_value=3_600_000),
)
def test_version_5_decides_what_version_4_did_in_fewer_events(
    signals_in: list[Signal], ruleset: Ruleset, tick_after: int
) -> None:
    old = engine.TenantContext(ruleset=ruleset, engine_version=versions.SCORED_ON_OPENING)
    new = engine.TenantContext(ruleset=ruleset, engine_version=versions.NOTIFIED_ON_JOINING)
    as_4 = engine.Working(alerts={}, groups={})
    as_5 = engine.Working(alerts={}, groups={})

    def compare() -> None:
        assert list(as_5.events) == list(as_4.events)
        for stream, events in as_4.events.items():
            assert as_5.events[stream] == folded_into_joins(events)
        assert as_5.alerts == as_4.alerts
        assert as_5.groups == as_4.groups
        as_4.clear_events()
        as_5.clear_events()

    for signal in signals_in:
        _decide(as_4, signal, old)
        _decide(as_5, signal, new)
        compare()
    at = max(signal.occurred_at for signal in signals_in) + tick_after
    for key in sorted(as_4.alerts):
        for working, context in ((as_4, old), (as_5, new)):
            assert engine.apply_tick(working, key, at, context) is None
        compare()


def test_a_new_alert_joins_its_incident_with_its_notification_in_one_decision() -> None:
    """The commonest case the law above covers, told plainly."""
    working = engine.Working(alerts={}, groups={})
    signal = make_signal(action=Action.TRIGGER, offset_s=0, severity=Severity.CRITICAL)
    _decide(working, signal, engine.TenantContext(ruleset=Ruleset()))
    group_events = [
        event
        for events in working.events.values()
        for event in events
        if type(event).__module__ == incident.__name__
    ]
    kinds = [type(event).__name__ for event in group_events]
    assert kinds == ["IncidentOpened", "IncidentAlertJoined", "IncidentPriorityChanged"]
    joined = group_events[1]
    assert joined.notification_id.startswith("ntf-")
    assert joined.reason == "triggered"
