"""``Run``: the immutable sequence the alert state keeps its signals in."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "property"))

from domain_strategies import make_signal

from helios.domain import alert
from helios.domain.ruleset import Ruleset
from helios.domain.run import Run, empty_run
from helios.domain.values import Action


def test_appending_to_the_latest_run_shares_its_list_and_leaves_older_runs_as_they_were() -> None:
    one = empty_run().appended(1)
    two = one.appended(2)
    three = two.appended(3)
    assert three.items is one.items
    assert (list(one), list(two), list(three)) == ([1], [1, 2], [1, 2, 3])


def test_appending_to_an_older_run_branches_without_touching_the_newer_one() -> None:
    two = empty_run().appended(1).appended(2)
    three = two.appended(3)
    other = two.appended(30)
    assert list(three) == [1, 2, 3] and list(other) == [1, 2, 30]
    assert other.items is not three.items


def test_dropping_from_the_front_lets_go_of_the_dropped_items_as_it_goes() -> None:
    run = empty_run()
    for value in range(10_000):
        run = run.appended(value).without_first(1 if len(run) >= 5 else 0)
        assert len(run.items) <= 2 * 5 + 34
    assert list(run) == [9_995, 9_996, 9_997, 9_998, 9_999]


def test_runs_compare_by_what_they_hold() -> None:
    shared = Run.of([0, 1, 2, 3])
    assert shared.without_first(2) == Run.of([2, 3]) == (2, 3)
    assert shared.without_first(1) != Run.of([2, 3])
    assert list(reversed(shared.without_first(1))) == [3, 2, 1]
    assert shared[-1] == 3 and shared.without_first(3)[0] == 3


def test_a_run_encodes_and_decodes_to_an_equal_one() -> None:
    run = Run.of(["a", "b", "c"]).without_first(1).compact()
    back = msgspec.msgpack.decode(msgspec.msgpack.encode(run), type=Run[str])
    assert back == run and back.items == ["b", "c"]


def test_sorted_runs_are_searched_within_their_bounds() -> None:
    run = Run.of([1, 3, 5, 7, 9]).without_first(1)
    assert run.bisect_left(5, lambda x: x) == 1
    assert run.bisect_right(5, lambda x: x) == 2
    assert run.bisect_left(0, lambda x: x) == 0


def test_a_trimmed_alert_state_holds_no_more_than_its_runs_show() -> None:
    ruleset = Ruleset(horizon_signals=40)
    state = alert.initial_state("t1", "k1")
    for index in range(100):
        signal = make_signal(action=Action.TRIGGER, offset_s=index)
        _, state = alert.decide_and_evolve(
            alert.IngestSignal(signal=signal, ruleset=ruleset), state
        )
    trimmed = alert.trimmed(state)

    assert len(state.signals.items) > 40
    assert len(trimmed.signals.items) == len(trimmed.folds.items) == 40
    assert trimmed == state and list(trimmed.folds) == list(state.folds)
