"""The feature-flag decider and the evaluation the engine reads: defined once, switched,
rolled out to a stable share of alerts by a hash of their key."""

from __future__ import annotations

import pytest

from helios.domain import flags
from helios.domain.errors import CommandRejected

KEYS = [f"svc-{i}/latency" for i in range(2000)]


def state_with(*commands: flags.FlagCommand) -> flags.TenantFlags:
    state = flags.initial_state("acme")
    for command in commands:
        for event in flags.decide(command, state):
            state = flags.evolve(state, event)
    return state


def defined(name: str = "beta") -> flags.DefineFlag:
    return flags.DefineFlag(name=name, description="", at=1, by="ana")


def test_a_defined_flag_is_off_until_switched_on() -> None:
    state = state_with(defined())
    assert not state.values.in_effect("beta", "k")
    state = state_with(defined(), flags.SetFlag(name="beta", enabled=True, at=2, by="ana"))
    flag = state.flag("beta")
    assert flag is not None and flag.enabled and flag.updated_by == "ana"
    assert all(state.values.in_effect("beta", key) for key in KEYS[:50])


def test_a_rollout_puts_the_same_alerts_in_effect_every_time_and_grows_by_adding() -> None:
    def in_effect(percent: int) -> set[str]:
        state = state_with(
            defined(),
            flags.SetFlag(name="beta", enabled=True, at=2),
            flags.SetRollout(name="beta", percent=percent, at=3),
        )
        return {k for k in KEYS if state.values.in_effect("beta", k)}

    thirty, sixty = in_effect(30), in_effect(60)
    assert thirty == in_effect(30)
    assert thirty < sixty
    assert 0.25 < len(thirty) / len(KEYS) < 0.35
    assert in_effect(0) == set() and in_effect(100) == set(KEYS)


def test_flags_hash_alerts_independently() -> None:
    assert [flags.bucket("a", k) for k in KEYS[:100]] != [flags.bucket("b", k) for k in KEYS[:100]]


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (flags.SetFlag(name="nope", enabled=True, at=2), "name"),
        (flags.SetRollout(name="beta", percent=101, at=2), "percent"),
        (flags.SetRollout(name="beta", percent=-1, at=2), "percent"),
        (flags.DefineFlag(name="beta", description="", at=2), "name"),
        (flags.DefineFlag(name="Not A Name", description="", at=2), "name"),
    ],
)
def test_a_bad_flag_command_is_refused_naming_the_field(
    command: flags.FlagCommand, field: str
) -> None:
    with pytest.raises(CommandRejected) as refused:
        flags.decide(command, state_with(defined()))
    assert [f for f, _ in refused.value.problems] == [field]


def test_switching_a_flag_to_what_it_is_records_nothing() -> None:
    assert (
        flags.decide(flags.SetFlag(name="beta", enabled=False, at=2), state_with(defined())) == ()
    )
