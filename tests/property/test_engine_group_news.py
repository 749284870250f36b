"""The engine applies an alert's decisions to its incident group straight from their fields;
what it decides must be exactly what the commands of ``engine.incident_commands``, each
decided by ``incident.decide_and_evolve``, decide: the same events on every stream, in the
same order, and the same states."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from domain_strategies import rulesets, signals
from hypothesis import given, settings
from hypothesis import strategies as st

from helios.domain import alert, engine, incident, versions
from helios.domain.ruleset import Ruleset
from helios.domain.values import Signal


def _by_commands(  # noqa: PLR0917 -- ``engine._commit``'s signature
    working: engine.Working,
    key: engine.AlertKey,
    events: tuple[alert.AlertEvent, ...],
    after: alert.AlertState,
    grouped: bool = True,
    version: int = versions.CURRENT,
) -> engine.Missing | None:
    """``engine._commit`` as the commands define it."""
    commands = engine.incident_commands(events, after, version) if grouped else ()
    group = (key[0], after.group_key)
    group_state = working.groups.get(group) if commands else None
    if commands and group_state is None:
        return engine.Missing(groups=frozenset({group}))
    working.alerts[key] = after
    working.alert_events(key).extend(events)
    if group_state is not None:
        bucket = working.group_events(group)
        for command in commands:
            produced, group_state = incident.decide_and_evolve(command, group_state)
            bucket.extend(produced)
        working.groups[group] = group_state
    return None


@contextmanager
def _committed_by_commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with monkeypatch.context() as patched:
        patched.setattr(engine, "_commit", _by_commands)
        yield


def _decide_all(
    signals_in: list[Signal], context: engine.TenantContext
) -> tuple[list[tuple[object, list[object]]], engine.Working]:
    working = engine.Working(alerts={}, groups={})
    decided: list[tuple[object, list[object]]] = []
    for index, signal in enumerate(signals_in, 1):
        missing = engine.apply_signal(working, signal, context)
        if missing is not None:
            for group in missing.groups:
                working.groups[group] = incident.initial_state(*group)
            assert engine.apply_signal(working, signal, context) is None
        if index % 7 == 0:  # flushed now and then, as the worker's batches
            decided.extend((stream, list(events)) for stream, events in working.events.items())
            working.clear_events()
    decided.extend((stream, list(events)) for stream, events in working.events.items())
    return decided, working


@settings(max_examples=150, deadline=None)
@given(
    signals_in=st.lists(signals(keys=("k1", "k2", "k3")), max_size=40),
    ruleset=st.just(Ruleset()) | rulesets,
    version=st.sampled_from(range(versions.LATENESS_HORIZON, versions.CURRENT + 1)),
)
def test_the_group_hears_what_the_commands_would_tell_it(
    signals_in: list[Signal], ruleset: Ruleset, version: int
) -> None:
    context = engine.TenantContext(ruleset=ruleset, engine_version=version)
    fused, fused_working = _decide_all(signals_in, context)
    with pytest.MonkeyPatch.context() as monkeypatch, _committed_by_commands(monkeypatch):
        by_commands, reference = _decide_all(signals_in, context)
    assert fused == by_commands
    assert fused_working.alerts == reference.alerts
    assert fused_working.groups == reference.groups
