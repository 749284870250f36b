"""Decide one recorded input again through the engine, loading the states it needs.

The ingest use case computes a batch's decisions by applying, in envelope order, each signal
through ``engine.apply_signal`` (and each ticked alert through ``engine.apply_tick``); replay
does exactly the same, one input at a time, against states from a ``StateSource``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from helios.domain import alert, engine, incident
from helios.domain.values import Millis, Signal


class StateSource(Protocol):
    """Where replay finds the current state of an alert or an incident group."""

    def alert(self, key: engine.AlertKey) -> alert.AlertState: ...

    def group(self, key: engine.GroupKey) -> incident.IncidentGroup: ...


def decide_signal(
    source: StateSource, signal: Signal, context: engine.TenantContext
) -> engine.Working:
    """The decisions for one signal, with the states they lead to."""
    key = (signal.tenant, signal.dedup_key)
    working = engine.Working(alerts={key: source.alert(key)}, groups={})
    for group in engine.groups_needed((signal,), working, {signal.tenant: context}):
        working.groups[group] = source.group(group)
    _until_loaded(source, working, lambda w: engine.apply_signal(w, signal, context))
    return working


def decide_tick(
    source: StateSource, tenant: str, dedup_key: str, at: Millis, context: engine.TenantContext
) -> engine.Working:
    """The decisions for one alert when time reaches ``at``."""
    key = (tenant, dedup_key)
    working = engine.Working(alerts={key: source.alert(key)}, groups={})
    _until_loaded(source, working, lambda w: engine.apply_tick(w, key, at, context))
    return working


def _until_loaded(
    source: StateSource,
    working: engine.Working,
    step: Callable[[engine.Working], engine.Missing | None],
) -> None:
    missing = step(working)
    while missing is not None:
        for group in missing.groups:
            working.groups[group] = source.group(group)
        missing = step(working)
