"""Feature-flag use cases: a tenant's flags, define one, switch it, set its rollout, and its
history. Every change is an event on the tenant's flag stream (``helios.domain.flags``), with
who and when; the ingest worker reads the flags in force for each batch and records their
version with each decision, so replay decides with the same values.

Switching a flag the engine knows (``KNOWN_FLAGS``) defines it first when needed, so
``set``/``rollout`` work on a fresh tenant; any other flag must be defined explicitly.
"""

from __future__ import annotations

from typing import Any

import attrs

from helios.apps.application.repository import FLAGS, Repository
from helios.domain import flags
from helios.domain.values import Millis
from helios.ports.event_store import EventStore


@attrs.frozen(kw_only=True)
class FlagChange:
    """One recorded change of a flag, for its history."""

    name: str
    change: str
    """``defined``, ``on``, ``off`` or ``rollout <percent>%``."""
    at: Millis
    by: str


def tenant_flags(store: EventStore, *, tenant: str) -> tuple[flags.Flag, ...]:
    """The tenant's flags, by name.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    return Repository(store).load(FLAGS, tenant)[0].flags


def define_flag(
    store: EventStore, *, tenant: str, name: str, description: str, by: str, at: Millis
) -> flags.Flag:
    """Define a flag (off, rollout 100%).

    Raises:
        CommandRejected: a malformed name or description, or a flag defined already.
        StoreUnavailable: the store cannot be reached.
    """
    command = flags.DefineFlag(name=name, description=description, at=at, by=by)
    return _run(store, tenant, name, command)


def set_flag(
    store: EventStore, *, tenant: str, name: str, enabled: bool, by: str, at: Millis
) -> flags.Flag:
    """Switch a flag on or off (a known flag is defined first if needed).

    Raises:
        CommandRejected: an unknown flag the engine does not know either.
        StoreUnavailable: the store cannot be reached.
    """
    return _run(store, tenant, name, flags.SetFlag(name=name, enabled=enabled, at=at, by=by))


def set_rollout(
    store: EventStore, *, tenant: str, name: str, percent: int, by: str, at: Millis
) -> flags.Flag:
    """Set the share of alerts (0..100 %, by stable hash of their key) a flag is in effect for.

    Raises:
        CommandRejected: a percentage outside 0..100, or an unknown flag.
        StoreUnavailable: the store cannot be reached.
    """
    return _run(store, tenant, name, flags.SetRollout(name=name, percent=percent, at=at, by=by))


def flag_history(store: EventStore, *, tenant: str, name: str | None = None) -> list[FlagChange]:
    """Every change of the tenant's flags (or of one), oldest first.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    found: list[FlagChange] = []
    for recorded in store.read_stream(flags.flags_stream_id(tenant)):
        event: Any = recorded.event
        if name is not None and event.name != name:
            continue
        match event:
            case flags.FlagDefined():
                change = "defined"
            case flags.FlagSwitched(enabled=enabled):
                change = "on" if enabled else "off"
            case flags.RolloutSet(percent=percent):
                change = f"rollout {percent}%"
            case _:
                continue
        found.append(FlagChange(name=event.name, change=change, at=event.at, by=event.by))
    return found


def _run(store: EventStore, tenant: str, name: str, command: flags.FlagCommand) -> flags.Flag:
    def decide(state: flags.TenantFlags) -> list[flags.FlagEvent]:
        decided: list[flags.FlagEvent] = []
        if (
            not isinstance(command, flags.DefineFlag)
            and state.flag(name) is None
            and name in flags.KNOWN_FLAGS
        ):
            define = flags.DefineFlag(name=name, description="", at=command.at, by=command.by)
            decided.extend(flags.decide(define, state))
            for event in decided:
                state = flags.evolve(state, event)
        decided.extend(flags.decide(command, state))
        return decided

    state, _ = Repository(store).execute(FLAGS, tenant, decide)
    flag = state.flag(name)
    assert flag is not None
    return flag
