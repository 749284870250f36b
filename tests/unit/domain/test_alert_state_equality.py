"""Alert states compare by what they hold, their derived per-signal folds aside."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "property"))

from domain_strategies import make_signal

from helios.domain import alert
from helios.domain.ruleset import Ruleset
from helios.domain.values import Action


def _fired() -> alert.AlertState:
    state = alert.initial_state("t1", "k1")
    for index in range(3):
        signal = make_signal(action=Action.TRIGGER, offset_s=index)
        _, state = alert.decide_and_evolve(
            alert.IngestSignal(signal=signal, ruleset=Ruleset()), state
        )
    return state


def test_a_state_and_its_compacted_copy_are_equal_and_not_unequal() -> None:
    state = _fired()
    compacted = alert.compacted(state)
    assert len(state.folds) == 3 and not compacted.folds
    assert state == compacted
    assert not state != compacted  # noqa: SIM202 (the operator itself is under test)


def test_states_that_differ_in_one_field_are_unequal_both_ways() -> None:
    state = _fired()
    other = msgspec.structs.replace(state, notifications=state.notifications + 1)
    assert state != other
    assert not state == other  # noqa: SIM201 (the operator itself is under test)


def test_a_state_is_never_equal_to_a_value_of_another_type() -> None:
    assert _fired() != "t1/k1"
