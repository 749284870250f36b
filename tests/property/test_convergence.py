"""Law 1 (convergence) and law 2 (idempotency) of the alert state."""

from __future__ import annotations

from domain_strategies import SERVICES, T0, copy_of, make_signal, rulesets, signals, with_copies
from hypothesis import given
from hypothesis import strategies as st

from helios.domain import alert
from helios.domain.patterns import RegexEngine
from helios.domain.ruleset import LabelMatcher, MatchOp, Ruleset
from helios.domain.silence import Silence
from helios.domain.values import Action, Signal, order_key


def ingest_all(arrivals: list[Signal], ruleset: Ruleset) -> alert.AlertState:
    state = alert.initial_state("t1", "k1")
    for signal in arrivals:
        events = alert.decide(alert.IngestSignal(signal=signal, ruleset=ruleset), state)
        state = alert.evolve_all(state, events)
    return state


def derived(state: alert.AlertState) -> tuple[object, ...]:
    """What the alert *is*: its signals, their fold and its score. (Which notifications were
    sent along the way is history, and legitimately depends on when things arrived.)"""
    return (state.signals, state.seen, state.fold, state.priority, state.score)


def delivery(signal: Signal) -> tuple[str, int]:
    """What tells two deliveries apart: a timestamp-less signal's copies share its id."""
    return (signal.signal_id, signal.occurred_at)


@given(
    distinct=st.lists(signals(), min_size=1, max_size=12, unique_by=delivery),
    data=st.data(),
    ruleset=rulesets,
)
def test_any_permutation_with_duplicates_gives_the_same_state(
    distinct: list[Signal], data: st.DataObject, ruleset: Ruleset
) -> None:
    """Arrival order, duplicates and copies of timestamp-less signals (an HA pair's, resends)
    never change the final alert state."""
    deliveries = data.draw(with_copies(distinct), label="deliveries")
    in_canonical_order = sorted(deliveries, key=order_key)
    duplicates = data.draw(st.lists(st.sampled_from(deliveries), max_size=6), label="duplicates")
    arrivals = data.draw(st.permutations(deliveries + duplicates), label="arrivals")

    reference = ingest_all(in_canonical_order, ruleset)
    shuffled = ingest_all(arrivals, ruleset)

    assert derived(shuffled) == derived(reference)


@given(
    history=st.lists(signals(), max_size=8),
    again=signals(),
    ruleset=rulesets,
)
def test_applying_a_signal_twice_equals_applying_it_once(
    history: list[Signal], again: Signal, ruleset: Ruleset
) -> None:
    """The second delivery of the same signal is recorded as a duplicate and changes nothing."""
    once = ingest_all([*history, again], ruleset)
    twice = ingest_all([*history, again, again], ruleset)

    assert twice == once
    second = alert.decide(alert.IngestSignal(signal=again, ruleset=ruleset), once)
    assert [type(e) for e in second] == [alert.SignalDeduplicated]


@given(
    copies=st.lists(st.integers(min_value=-300_000, max_value=4 * 3_600_000), max_size=8),
    data=st.data(),
    ruleset=rulesets,
)
def test_copies_of_a_timestamp_less_trigger_in_one_episode_count_once(
    copies: list[int], data: st.DataObject, ruleset: Ruleset
) -> None:
    """However many copies of the same content arrive while the episode is open, in whatever
    order, the episode has one occurrence and the score of one."""
    first = make_signal(action=Action.TRIGGER, offset_s=600, untimed=True)
    deliveries = list({delivery(c): c for c in (copy_of(first, o) for o in [0, *copies])}.values())
    arrivals = data.draw(st.permutations(deliveries), label="arrivals")

    state = ingest_all(arrivals, ruleset)
    alone = ingest_all([first], ruleset)

    assert state.episode is not None and alone.episode is not None
    assert state.fold.episodes == 1
    assert state.episode.occurrences == 1
    assert (state.score, state.priority) == (alone.score, alone.priority)


@given(
    arrivals=st.lists(signals(), min_size=1, max_size=12),
    compact_after=st.integers(min_value=0, max_value=12),
    ruleset=rulesets,
)
def test_a_compacted_state_decides_exactly_like_the_full_one(
    arrivals: list[Signal], compact_after: int, ruleset: Ruleset
) -> None:
    """Replay keeps evicted states without their derived folds; every later decision, late
    signals included, must be the same as from the full state."""
    full = compacted = alert.initial_state("t1", "k1")
    for index, signal in enumerate(arrivals):
        if index == compact_after:
            compacted = alert.compacted(compacted)
            assert compacted == full  # the folds are derived: not part of equality
        command = alert.IngestSignal(signal=signal, ruleset=ruleset)
        decided = alert.decide(command, full)
        assert alert.decide(command, compacted) == decided
        full = alert.evolve_all(full, decided)
        compacted = alert.evolve_all(compacted, decided)
    assert derived(compacted) == derived(full)


@given(
    arrivals=st.lists(signals(), min_size=1, max_size=10),
    tick_after=st.integers(min_value=0, max_value=3_600_000),
    ruleset=rulesets,
)
def test_the_state_decide_returns_is_the_state_its_decisions_lead_to(
    arrivals: list[Signal], tick_after: int, ruleset: Ruleset
) -> None:
    """The engine keeps the state deciding computed instead of evolving the decisions again:
    the two must be the same, signal after signal and at a tick."""
    state = alert.initial_state("t1", "k1")
    commands: list[alert.AlertCommand] = [
        alert.IngestSignal(signal=signal, ruleset=ruleset) for signal in arrivals
    ]
    last = max(signal.occurred_at for signal in arrivals)
    commands.append(alert.Tick(at=last + tick_after, ruleset=ruleset))
    for command in commands:
        decided, after = alert.decide_and_evolve(command, state)
        assert after == alert.evolve_all(state, decided)
        assert after.folds == alert.evolve_all(state, decided).folds
        state = after


@st.composite
def silences(draw: st.DrawFn) -> tuple[Silence, ...]:
    """A few silences of one service each, over part of the hour the signals fall in."""
    found = []
    for index in range(draw(st.integers(min_value=0, max_value=2))):
        start = T0 + draw(st.integers(min_value=0, max_value=3600)) * 1000
        found.append(
            Silence(
                silence_id=f"sil-{index}",
                matchers=(
                    LabelMatcher(
                        name="service", op=MatchOp.EQ, value=draw(st.sampled_from(SERVICES))
                    ),
                ),
                starts_at=start,
                ends_at=start + draw(st.integers(min_value=1, max_value=3600)) * 1000,
                regex_engine=RegexEngine.RE2,
            )
        )
    return tuple(found)


@given(
    arrivals=st.lists(signals(), min_size=1, max_size=10),
    tick_after=st.integers(min_value=0, max_value=3_600_000),
    ruleset=rulesets,
    silenced=silences(),
)
def test_under_silences_too_the_state_decide_returns_is_the_state_its_decisions_lead_to(
    arrivals: list[Signal], tick_after: int, ruleset: Ruleset, silenced: tuple[Silence, ...]
) -> None:
    """Deciding keeps the bookkeeping its decisions change (silences, notifications held back,
    flapping, score) as it goes and writes it into the state once: each field as evolving the
    decisions sets it."""
    state = alert.initial_state("t1", "k1")
    commands: list[alert.AlertCommand] = [
        alert.IngestSignal(signal=signal, ruleset=ruleset, silences=silenced) for signal in arrivals
    ]
    last = max(signal.occurred_at for signal in arrivals)
    commands.append(alert.Tick(at=last + tick_after, ruleset=ruleset, silences=silenced))
    for command in commands:
        decided, after = alert.decide_and_evolve(command, state)
        assert after == alert.evolve_all(state, decided)
        state = after
