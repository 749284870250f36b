"""The engine's working set lists what it decided under each stream's id, read-only, and
keeps doing so once the events decided so far are cleared (as a batch that was appended)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))

from domain_strategies import make_signal

from helios.domain import alert, engine, incident
from helios.domain.ruleset import Ruleset
from helios.domain.values import Action, Signal

CONTEXT = engine.TenantContext(ruleset=Ruleset())


def _decide(working: engine.Working, signal: Signal) -> None:
    missing = engine.apply_signal(working, signal, CONTEXT)
    if missing is not None:
        for group in missing.groups:
            working.groups[group] = incident.initial_state(*group)
        assert engine.apply_signal(working, signal, CONTEXT) is None


def _group(working: engine.Working) -> engine.GroupKey:
    (group,) = working.groups
    return group


def test_decisions_are_listed_under_the_alert_and_group_streams() -> None:
    working = engine.Working(alerts={}, groups={})
    trigger = make_signal(action=Action.TRIGGER, offset_s=0)
    _decide(working, trigger)
    _decide(working, trigger)  # a duplicate: recorded on the alert's stream too
    decided = working.events[alert.alert_stream_id("t1", "k1")]
    assert type(decided[0]) is alert.SignalAccepted
    assert decided[-1] == alert.SignalDeduplicated(
        signal_id=trigger.signal_id, source=trigger.source, received_at=trigger.received_at
    )
    group_events = working.events[incident.group_stream_id(*_group(working))]
    assert [type(e) for e in group_events][:2] == [
        incident.IncidentOpened,
        incident.IncidentAlertJoined,
    ]
    assert set(working.events) == {
        alert.alert_stream_id("t1", "k1"),
        incident.group_stream_id(*_group(working)),
    }


def test_the_events_cannot_be_replaced_from_outside() -> None:
    working = engine.Working(alerts={}, groups={})
    _decide(working, make_signal(action=Action.TRIGGER, offset_s=0))
    with pytest.raises(TypeError):
        working.events[alert.alert_stream_id("t1", "k1")] = []  # type: ignore[index]


def test_decisions_after_clearing_are_listed_again() -> None:
    working = engine.Working(alerts={}, groups={})
    trigger = make_signal(action=Action.TRIGGER, offset_s=0)
    _decide(working, trigger)
    working.clear_events()
    assert dict(working.events) == {}
    _decide(working, trigger)
    resolve = make_signal(action=Action.RESOLVE, offset_s=60)
    _decide(working, resolve)
    decided = working.events[alert.alert_stream_id("t1", "k1")]
    assert type(decided[0]) is alert.SignalDeduplicated
    assert type(decided[1]) is alert.SignalAccepted
    group_events = working.events[incident.group_stream_id(*_group(working))]
    assert incident.IncidentResolved in {type(e) for e in group_events}
    # The states were kept: the trigger is still held, the resolve closed its episode.
    assert working.alerts[("t1", "k1")].status is not None


def test_a_stream_first_decided_after_a_look_up_is_found_too() -> None:
    working = engine.Working(alerts={}, groups={})
    _decide(working, make_signal(action=Action.TRIGGER, offset_s=0))
    assert alert.alert_stream_id("t1", "k2") not in working.events
    _decide(working, make_signal(dedup_key="k2", action=Action.TRIGGER, offset_s=0))
    assert type(working.events[alert.alert_stream_id("t1", "k2")][0]) is alert.SignalAccepted
    assert len(working.events) == len(dict(working.events.items())) == 3
    assert [len(events) for events in working.events.values()] == [
        len(working.events[stream]) for stream in working.events
    ]
