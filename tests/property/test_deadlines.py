"""An alert's deadline is exact: no tick before it decides anything, a tick at it does."""

from __future__ import annotations

import attrs
from domain_strategies import T0, make_signal, rulesets, signals
from hypothesis import given
from hypothesis import strategies as st

from helios.domain import alert
from helios.domain.deadlines import next_deadline
from helios.domain.ruleset import Ruleset
from helios.domain.silence import Silence
from helios.domain.values import Action, Priority, Severity, Signal

MINUTE_MS = 60_000

tick_rulesets = st.builds(
    lambda base, after, window, priorities: attrs.evolve(
        base,
        escalate_after_ms=after,
        flap_window_ms=window,
        escalate_priorities=tuple(sorted(priorities, key=lambda p: p.value)),
    ),
    rulesets,
    st.integers(min_value=0, max_value=90).map(lambda m: m * MINUTE_MS),
    st.integers(min_value=1, max_value=60).map(lambda m: m * MINUTE_MS),
    st.sets(st.sampled_from(list(Priority))),
)
# A history: signals, and ticks now and then (offset in seconds from T0).
steps = st.lists(st.one_of(signals(), st.integers(min_value=0, max_value=3 * 3600)), max_size=14)
# Flapping needs many transitions close together: triggers and resolves a minute or so apart.
flapping_steps = st.lists(
    st.one_of(
        st.builds(
            lambda n, action, untimed: make_signal(
                action=action, offset_s=n * 60, severity=Severity.CRITICAL, untimed=untimed
            ),
            st.integers(min_value=0, max_value=40),
            st.sampled_from([Action.TRIGGER, Action.RESOLVE, Action.TRIGGER, Action.ACKNOWLEDGE]),
            st.booleans(),
        ),
        st.integers(min_value=0, max_value=3 * 3600),
    ),
    min_size=6,
    max_size=20,
)
# Silences over everything, for a while: they change how an escalation is notified, never when.
silences = st.lists(
    st.builds(
        lambda n, start, length: Silence(
            silence_id=f"s{n}", matchers=(), starts_at=T0 + start, ends_at=T0 + start + length
        ),
        st.integers(min_value=0, max_value=9),
        st.integers(min_value=-3_600_000, max_value=4 * 3_600_000),
        st.integers(min_value=1, max_value=3 * 3_600_000),
    ),
    max_size=2,
).map(tuple)
probes = st.lists(st.integers(min_value=-3600, max_value=6 * 3600), min_size=1, max_size=6)


def _history(
    steps: list[Signal | int], ruleset: Ruleset, silences: tuple[Silence, ...] = ()
) -> alert.AlertState:
    state = alert.initial_state("t1", "k1")
    for step in steps:
        command: alert.AlertCommand
        if isinstance(step, Signal):
            command = alert.IngestSignal(signal=step, ruleset=ruleset, silences=silences)
        else:
            command = alert.Tick(at=T0 + step * 1000, ruleset=ruleset, silences=silences)
        _, state = alert.decide_and_evolve(command, state)
    return state


@given(steps=steps | flapping_steps, ruleset=tick_rulesets, probes=probes, silences=silences)
def test_a_tick_before_the_deadline_decides_nothing_and_one_at_it_decides(
    steps: list[Signal | int], ruleset: Ruleset, probes: list[int], silences: tuple[Silence, ...]
) -> None:
    state = _history(steps, ruleset, silences)
    deadline = next_deadline(state, ruleset, silences)

    def _tick(state: alert.AlertState, at: int, ruleset: Ruleset) -> tuple[alert.AlertEvent, ...]:
        return alert.decide(alert.Tick(at=at, ruleset=ruleset, silences=silences), state)

    times = [T0 + probe * 1000 for probe in probes]
    if deadline is None:
        # Nothing pending: no tick, however late, decides anything.
        for at in [*times, T0 + 10**10]:
            assert _tick(state, at, ruleset) == ()
        return
    for at in times:
        if at < deadline:
            assert _tick(state, at, ruleset) == ()
    for at in (deadline - 1, deadline - 1000):
        assert _tick(state, at, ruleset) == () or at < T0 - 10**15
    decided = _tick(state, deadline, ruleset)
    assert decided, "a tick at the deadline changes the alert"
    for at in times:
        if at >= deadline:
            assert _tick(state, at, ruleset), "a tick after the deadline changes it too"


@given(steps=steps | flapping_steps, ruleset=tick_rulesets, silences=silences)
def test_the_deadline_does_not_depend_on_the_silences(
    steps: list[Signal | int], ruleset: Ruleset, silences: tuple[Silence, ...]
) -> None:
    state = _history(steps, ruleset, silences)
    assert next_deadline(state, ruleset, silences) == next_deadline(state, ruleset)
