"""The laws restated with the lateness horizon (engine version 3): convergence inside the
horizon, idempotency, determinism, and an alert state whose size has a fixed bound."""

from __future__ import annotations

import attrs
import msgspec
from domain_strategies import T0, make_signal, rulesets, signals, with_copies
from hypothesis import given
from hypothesis import strategies as st

from helios.domain import alert
from helios.domain.ruleset import Ruleset
from helios.domain.values import Action, Severity, Signal, order_key

SOURCES = ("alertmanager", "grafana", "pagerduty")


def ingest_all(
    arrivals: list[Signal], ruleset: Ruleset
) -> tuple[alert.AlertState, list[alert.AlertEvent]]:
    state = alert.initial_state("t1", "k1")
    decided: list[alert.AlertEvent] = []
    for signal in arrivals:
        events, state = alert.decide_and_evolve(
            alert.IngestSignal(signal=signal, ruleset=ruleset), state
        )
        decided.extend(events)
    return state, decided


def decisive(state: alert.AlertState) -> tuple[object, ...]:
    """Everything a later decision reads (the totals are a record, not an input)."""
    return (
        state.signals,
        state.base,
        state.fold,
        state.evicted_through,
        state.last_signal_at,
        state.priority,
        state.score,
    )


@st.composite
def long_histories(draw: st.DrawFn, *, most: int = 120) -> list[Signal]:
    """Up to ``most`` signals of one alert, spread over hours, mostly in order: a horizon of
    minutes or a few signals is overflowed many times."""
    at = 0
    found = []
    for _ in range(draw(st.integers(min_value=1, max_value=most))):
        at += draw(st.integers(min_value=0, max_value=900))
        back = draw(st.sampled_from((0, 0, 0, 30, 300, 3600)))  # now and then a late one
        found.append(
            make_signal(
                action=draw(st.sampled_from(list(Action))),
                offset_s=max(0, at - back),
                severity=draw(st.sampled_from(list(Severity))),
                source=draw(st.sampled_from(SOURCES)),
                summary=draw(st.sampled_from(("disk full", "disk 95% full"))),
                untimed=draw(st.integers(0, 4)) == 0,
            )
        )
    return found


horizons = st.builds(
    Ruleset,
    lateness_horizon_ms=st.integers(min_value=1, max_value=3 * 3_600_000),
    horizon_signals=st.integers(min_value=1, max_value=12),
    flap_threshold=st.integers(min_value=2, max_value=6),
)


@given(
    distinct=st.lists(signals(), min_size=1, max_size=12, unique_by=order_key),
    data=st.data(),
    ruleset=rulesets,
    slack=st.integers(min_value=0, max_value=3),
)
def test_any_permutation_within_the_horizon_gives_the_same_state(
    distinct: list[Signal], data: st.DataObject, ruleset: Ruleset, slack: int
) -> None:
    """When every signal lies within the horizon (in time and in count), arrival order and
    duplicates change nothing: the horizon is exactly as wide as the signals need."""
    deliveries = data.draw(with_copies(distinct), label="deliveries")
    times = [s.occurred_at for s in deliveries]
    ruleset = attrs.evolve(
        ruleset,
        lateness_horizon_ms=max(times) - min(times) + 1,
        horizon_signals=len(deliveries) + slack,
    )
    duplicates = data.draw(st.lists(st.sampled_from(deliveries), max_size=4), label="duplicates")
    arrivals = data.draw(st.permutations(deliveries + duplicates), label="arrivals")

    reference, _ = ingest_all(sorted(deliveries, key=order_key), ruleset)
    shuffled, decided = ingest_all(arrivals, ruleset)

    assert decisive(shuffled) == decisive(reference)
    assert shuffled.total_signals == reference.total_signals == len(deliveries)
    assert not any(getattr(e, "late_beyond_horizon", False) for e in decided)


@given(history=long_histories(), again=st.data(), ruleset=horizons)
def test_applying_a_signal_twice_decides_once(
    history: list[Signal], again: st.DataObject, ruleset: Ruleset
) -> None:
    """A second delivery of any signal changes nothing a decision reads: inside the horizon it
    is a duplicate; beyond it, it is recorded and counted again, and nothing else."""
    once, _ = ingest_all(history, ruleset)
    repeated = again.draw(st.sampled_from(history), label="repeated")
    events, twice = alert.decide_and_evolve(
        alert.IngestSignal(signal=repeated, ruleset=ruleset), once
    )

    assert decisive(twice) == decisive(once)
    assert (twice.notifications, twice.flapping, twice.silenced_by) == (
        once.notifications,
        once.flapping,
        once.silenced_by,
    )
    assert len(events) == 1
    (only,) = events
    assert isinstance(only, alert.SignalDeduplicated) or (
        isinstance(only, alert.SignalAccepted) and only.late_beyond_horizon
    )


@given(history=long_histories(), ruleset=horizons)
def test_the_same_arrivals_decide_the_same_bytes(history: list[Signal], ruleset: Ruleset) -> None:
    """Determinism: twice the same inputs, the same decisions and the same state, to the byte
    (the state as replay spills it, from the recorded events alone)."""
    first, decided = ingest_all(history, ruleset)
    second, again = ingest_all(history, ruleset)
    replayed = alert.evolve_all(alert.initial_state("t1", "k1"), decided)

    encode = msgspec.msgpack.encode
    assert encode(again) == encode(decided)
    assert encode(alert.compacted(second)) == encode(alert.compacted(first))
    assert encode(alert.compacted(replayed)) == encode(alert.compacted(first))


@given(history=long_histories(most=400), ruleset=horizons)
def test_the_state_stays_under_a_fixed_bound_for_any_number_of_signals(
    history: list[Signal], ruleset: Ruleset
) -> None:
    """However many signals arrive, an alert holds at most ``horizon_signals`` of them, and
    only ones at or after its watermark; the rest is summaries of fixed size."""
    state = alert.initial_state("t1", "k1")
    duplicates = 0
    for signal in history:
        events, state = alert.decide_and_evolve(
            alert.IngestSignal(signal=signal, ruleset=ruleset), state
        )
        duplicates += isinstance(events[0], alert.SignalDeduplicated)
        assert len(state.signals) <= ruleset.horizon_signals
        # What the runs hold around the signals kept is let go of as they move on.
        assert len(state.signals.items) <= 2 * ruleset.horizon_signals + 34
        assert len(state.folds) in (0, len(state.signals))
        assert len(state.fold.transitions) <= ruleset.flap_threshold
        watermark = state.watermark(state.policy) if state.policy else None
        assert watermark is not None
        assert all(kept.occurred_at >= watermark for kept in state.signals)
    assert state.total_signals == len(history) - duplicates
    # Encoded as replay spills it: the signals kept, and a constant for the rest (the
    # episode's copies of content-identified signals aside, at most one per distinct content).
    signal_bytes = max(len(msgspec.msgpack.encode(s)) for s in history)
    size = len(msgspec.msgpack.encode(alert.compacted(state)))
    assert size <= ruleset.horizon_signals * signal_bytes + 4 * signal_bytes + 2_000


def test_signals_long_before_the_horizon_are_counted_not_kept() -> None:
    """A concrete case of the bound: three thousand signals, a dozen kept."""
    ruleset = Ruleset(horizon_signals=12)
    history = [
        make_signal(action=Action.TRIGGER if i % 3 else Action.RESOLVE, offset_s=i * 7)
        for i in range(3_000)
    ]
    state, _ = ingest_all(history, ruleset)
    assert len(state.signals) == 12 and state.total_signals == 3_000
    assert state.first_signal_at == T0
