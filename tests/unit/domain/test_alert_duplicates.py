"""A delivery the alert already holds is a duplicate wherever it sorts among its signals (the
latest, a few behind it, or far back), and only that very delivery is: the engine records it
alone, and everything else is decided as news."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))

from domain_strategies import make_signal

from helios.domain import alert
from helios.domain.ruleset import Ruleset
from helios.domain.values import Action, Signal

ACTIONS = (Action.TRIGGER, Action.RESOLVE)


def _signals(count: int) -> list[Signal]:
    return [make_signal(action=ACTIONS[i % 2], offset_s=i * 60) for i in range(count)]


def _holding(signals: list[Signal]) -> alert.AlertState:
    state = alert.initial_state("t1", "k1")
    for signal in signals:
        _, state = alert.decide_and_evolve(
            alert.IngestSignal(signal=signal, ruleset=Ruleset()), state
        )
    return state


def test_every_held_delivery_is_a_duplicate_wherever_it_sorts() -> None:
    signals = _signals(12)
    state = _holding(signals)
    for held in signals:
        copy = alert.duplicate(state, held)
        assert copy == alert.SignalDeduplicated(
            signal_id=held.signal_id, source=held.source, received_at=held.received_at
        )
        assert state.holds(held)


def test_a_new_signal_sorting_among_the_latest_or_far_back_is_news() -> None:
    signals = _signals(12)
    state = _holding(signals)
    between = [make_signal(action=Action.TRIGGER, offset_s=i * 60 + 30) for i in range(12)]
    for signal in between:
        assert alert.duplicate(state, signal) is None
        assert not state.holds(signal)


def test_the_same_time_and_id_with_another_action_is_not_a_duplicate() -> None:
    """The order key includes the action: an id and a time alone do not make a copy."""
    signals = _signals(6)
    state = _holding(signals)
    held = signals[-3]
    other = make_signal(action=Action.ACKNOWLEDGE, offset_s=(len(signals) - 3) * 60)
    # Forced to share the held one's id: only the action tells them apart.
    other = msgspec.structs.replace(other, signal_id=held.signal_id)
    assert alert.duplicate(state, other) is None
    assert not state.holds(other)
