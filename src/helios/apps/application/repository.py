"""Load → decide → append for one stream, the shape of every command on a single aggregate.

Rulesets, silences, incident notes and the like are decided against the stream's current
state and appended with its version as the expectation; a concurrent writer makes the append
conflict, and the command is decided again against the new state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from helios.ports.event_store import AppendBatch, ConcurrencyConflict, EventStore, StreamAppend

State = TypeVar("State")

RETRIES = 5


def fold_stream(
    store: EventStore,
    stream: uuid.UUID,
    initial: State,
    evolve: Callable[[State, Any], State],
) -> tuple[State, int]:
    """A stream's state and version, folded from its recorded events.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    state, version = initial, 0
    for item in store.read_stream(stream):
        state = evolve(state, item.event)
        version = item.version
    return state, version


def execute(
    store: EventStore,
    stream: uuid.UUID,
    *,
    initial: Callable[[], State],
    evolve: Callable[[State, Any], State],
    decide: Callable[[State], Sequence[Any]],
) -> tuple[State, tuple[Any, ...]]:
    """Decide against the stream's current state and append what was decided.

    Returns the state after the new events and the events (none: nothing was appended).

    Raises:
        CommandRejected: the decider refused the command.
        ConcurrencyConflict: the stream kept changing under us.
        StoreUnavailable: the store cannot be reached.
    """
    for attempt in range(RETRIES):
        state, version = fold_stream(store, stream, initial(), evolve)
        events = tuple(decide(state))
        if not events:
            return state, events
        try:
            store.append(
                AppendBatch(
                    streams=(
                        StreamAppend(stream_id=stream, expected_version=version, events=events),
                    )
                )
            )
        except ConcurrencyConflict:
            if attempt == RETRIES - 1:
                raise
            continue
        for event in events:
            state = evolve(state, event)
        return state, events
    raise AssertionError("unreachable")
