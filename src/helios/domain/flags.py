"""Feature flags per tenant: one stream per tenant, a decider (``decide`` refuses, ``evolve``
is total), and their evaluation as data.

A flag is defined once, then switched on or off and given a rollout percentage (default 100).
Where a flag is on, it is *in effect* for an alert when the alert's bucket — a stable hash of
the flag's name and the alert's dedup key, 0..99 — is below the percentage: the same alert is
always in or out, on every machine and in every replay, and raising the percentage only adds
alerts. Nothing here reads a clock or draws randomness.

The engine reads a tenant's flags as ``FlagValues`` (data, not a lookup); each decision records
the version of the flag stream it used (``flags_version``), so replay finds the same values.
Flags the engine knows are listed in ``KNOWN_FLAGS``; others may be defined (for clients to
read) and change no decision.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import assert_never

import attrs

from helios.domain.errors import CommandRejected
from helios.domain.events import event
from helios.domain.identity import stable_hash, stream_id
from helios.domain.values import Millis

NO_INCIDENT_GROUPING = "no_incident_grouping"
KNOWN_FLAGS: Mapping[str, str] = MappingProxyType(
    {
        NO_INCIDENT_GROUPING: (
            "alerts in effect open and join no incidents (incident grouping off for them)"
        ),
    }
)
"""The flags a decision of the engine reads, and what each does when in effect."""
MAX_DESCRIPTION_CHARS = 500
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def flags_stream_id(tenant: str) -> uuid.UUID:
    """The stream of a tenant's feature flags."""
    return stream_id("flags", tenant)


@functools.lru_cache(maxsize=65_536)
def bucket(name: str, key: str) -> int:
    """The stable 0..99 bucket of an alert key for a flag (independent across flags); kept
    for the alerts seen lately, since every signal of a flagged tenant asks."""
    return int(stable_hash("flag", name, key)[:8], 16) % 100


@attrs.frozen(kw_only=True)
class Flag:
    name: str
    description: str = ""
    enabled: bool = False
    percent: int = 100
    """Of the alerts (by stable hash of their key) the flag is in effect for, when enabled."""
    updated_at: Millis = 0
    updated_by: str = ""

    def in_effect(self, key: str) -> bool:
        """Whether the flag is in effect for the alert with dedup key ``key``."""
        if not self.enabled or self.percent <= 0:
            return False
        return self.percent >= 100 or bucket(self.name, key) < self.percent


@attrs.frozen(kw_only=True)
class FlagValues:
    """The flags of a tenant as the engine reads them."""

    flags: tuple[Flag, ...] = ()

    def in_effect(self, name: str, key: str) -> bool:
        flag = next((f for f in self.flags if f.name == name), None)
        return flag is not None and flag.in_effect(key)


NO_FLAGS = FlagValues()


@attrs.frozen(kw_only=True)
class TenantFlags:
    tenant: str
    flags: tuple[Flag, ...] = ()

    def flag(self, name: str) -> Flag | None:
        return next((f for f in self.flags if f.name == name), None)

    @property
    def values(self) -> FlagValues:
        return FlagValues(flags=self.flags)


def initial_state(tenant: str) -> TenantFlags:
    return TenantFlags(tenant=tenant)


# --- commands and events ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class DefineFlag:
    name: str
    description: str
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class SetFlag:
    name: str
    enabled: bool
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class SetRollout:
    name: str
    percent: int
    at: Millis
    by: str = ""


FlagCommand = DefineFlag | SetFlag | SetRollout


@event("helios.flags.defined.v1")
@attrs.frozen(kw_only=True)
class FlagDefined:
    name: str
    description: str
    at: Millis
    by: str = ""


@event("helios.flags.switched.v1")
@attrs.frozen(kw_only=True)
class FlagSwitched:
    name: str
    enabled: bool
    at: Millis
    by: str = ""


@event("helios.flags.rollout_set.v1")
@attrs.frozen(kw_only=True)
class RolloutSet:
    name: str
    percent: int
    at: Millis
    by: str = ""


FlagEvent = FlagDefined | FlagSwitched | RolloutSet


def decide(command: FlagCommand, state: TenantFlags) -> tuple[FlagEvent, ...]:
    """Validate a flag command against the tenant's flags; a change to what is already so
    records nothing.

    Raises:
        CommandRejected: a malformed name or description, a flag defined twice, an unknown
            flag, a percentage outside 0..100.
    """
    match command:
        case DefineFlag(name=name, description=description, at=at, by=by):
            problems: list[tuple[str, str]] = []
            if _NAME.fullmatch(name) is None:
                problems.append(("name", "must be a-z, 0-9 and _, starting with a letter (<= 63)"))
            elif state.flag(name) is not None:
                problems.append(("name", "is defined already"))
            if len(description) > MAX_DESCRIPTION_CHARS:
                problems.append(("description", f"at most {MAX_DESCRIPTION_CHARS} characters"))
            if problems:
                raise CommandRejected("invalid flag", tuple(problems))
            text = description or KNOWN_FLAGS.get(name, "")
            return (FlagDefined(name=name, description=text, at=at, by=by),)
        case SetFlag(name=name, enabled=enabled, at=at, by=by):
            if _require(state, name).enabled is enabled:
                return ()
            return (FlagSwitched(name=name, enabled=enabled, at=at, by=by),)
        case SetRollout(name=name, percent=percent, at=at, by=by):
            flag = _require(state, name)
            if not 0 <= percent <= 100:
                raise CommandRejected("invalid rollout", (("percent", "must be 0..100"),))
            if flag.percent == percent:
                return ()
            return (RolloutSet(name=name, percent=percent, at=at, by=by),)
        case _:
            assert_never(command)


def evolve(state: TenantFlags, event: FlagEvent) -> TenantFlags:
    match event:
        case FlagDefined(name=name, description=description, at=at, by=by):
            flag = Flag(name=name, description=description, updated_at=at, updated_by=by)
            return attrs.evolve(state, flags=tuple(sorted((*state.flags, flag), key=_name)))
        case FlagSwitched(name=name, enabled=enabled, at=at, by=by):
            return _with_flag(state, name, enabled=enabled, updated_at=at, updated_by=by)
        case RolloutSet(name=name, percent=percent, at=at, by=by):
            return _with_flag(state, name, percent=percent, updated_at=at, updated_by=by)
        case _:
            assert_never(event)


def _name(flag: Flag) -> str:
    return flag.name


def _require(state: TenantFlags, name: str) -> Flag:
    flag = state.flag(name)
    if flag is None:
        raise CommandRejected("no such flag", (("name", "unknown: define it first"),))
    return flag


def _with_flag(state: TenantFlags, name: str, **changes: object) -> TenantFlags:
    return attrs.evolve(
        state,
        flags=tuple(
            attrs.evolve(f, **changes) if f.name == name else f  # type: ignore[arg-type]
            for f in state.flags
        ),
    )
