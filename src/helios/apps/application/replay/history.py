"""The rules, silences and feature flags of every tenant, by version, as the log has published
them so far.

Decisions record the ruleset version and silences version they were taken under; replay keeps
every version seen so far so it can decide again with exactly those. Rule changes are rare, so
this grows with the number of changes, never with the number of signals. Inputs also record the
engine version that handled them; replay handles them again with it.
"""

from __future__ import annotations

import uuid

from helios.domain import engine, flags, silence, versions
from helios.domain.ruleset import DEFAULT_RULESET, Ruleset
from helios.domain.ruleset_stream import RulesetPublished, ruleset_stream_id
from helios.domain.silence import Silence, SilenceCreated, SilenceExpired, TenantSilences


class UnknownVersion(LookupError):
    """A decision names a ruleset or silences version the log never published, or an engine
    version this code does not have."""


def checked_engine_version(version: int) -> int:
    """``version`` if this code can handle inputs recorded with it.

    Raises:
        UnknownVersion: the input was handled by a newer Helios (or the record is corrupt).
    """
    if not versions.supported(version):
        raise UnknownVersion(
            f"engine version {version} is not one this Helios has"
            f" ({versions.LEGACY}..{versions.CURRENT})"
        )
    return version


class TenantHistory:
    """Ruleset and silence versions per stream, looked up by tenant."""

    def __init__(self) -> None:
        # Keyed by stream id: a ruleset may be published before the log names its tenant,
        # and stream ids cannot be turned back into tenants.
        self._rulesets: dict[uuid.UUID, dict[int, Ruleset]] = {}
        self._silences: dict[uuid.UUID, list[TenantSilences]] = {}
        self._streams: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}
        self._flags: dict[uuid.UUID, list[flags.TenantFlags]] = {}

    def observe(self, stream_id: uuid.UUID, version: int, event: object) -> bool:
        """Take in a ruleset or silence event; False when ``event`` is neither."""
        match event:
            case RulesetPublished(ruleset=ruleset):
                self._rulesets.setdefault(stream_id, {})[ruleset.version] = ruleset
                return True
            case SilenceCreated() | SilenceExpired():
                states = self._silences.setdefault(stream_id, [silence.initial_state("")])
                # Versions are contiguous from 1, so the state after version v is states[v].
                while len(states) < version:
                    states.append(states[-1])
                states.append(silence.evolve(states[version - 1], event))
                return True
            case flags.FlagDefined() | flags.FlagSwitched() | flags.RolloutSet():
                kept = self._flags.setdefault(stream_id, [flags.initial_state("")])
                while len(kept) < version:
                    kept.append(kept[-1])
                kept.append(flags.evolve(kept[version - 1], event))
                return True
        return False

    def flags(self, tenant: str, version: int) -> flags.FlagValues:
        """The tenant's feature flags after ``version`` events of its flag stream.

        Raises:
            UnknownVersion: the flag stream has not reached this version.
        """
        if version == 0:
            return flags.NO_FLAGS
        states = self._flags.get(flags.flags_stream_id(tenant), [])
        if version >= len(states):
            raise UnknownVersion(f"tenant {tenant!r} has no flags version {version}")
        return states[version].values

    def ruleset(self, tenant: str, version: int) -> Ruleset:
        """The tenant's ruleset at ``version`` (0: the built-in defaults).

        Raises:
            UnknownVersion: no such version was published for this tenant.
        """
        if version == 0:
            return DEFAULT_RULESET
        found = self._rulesets.get(self._ids(tenant)[0], {}).get(version)
        if found is None:
            raise UnknownVersion(f"tenant {tenant!r} has no ruleset version {version}")
        return found

    def latest_ruleset(self, tenant: str) -> Ruleset:
        versions = self._rulesets.get(self._ids(tenant)[0])
        return versions[max(versions)] if versions else DEFAULT_RULESET

    def silences(self, tenant: str, version: int) -> tuple[Silence, ...]:
        """The tenant's silences after ``version`` events of its silence stream.

        Raises:
            UnknownVersion: the silence stream has not reached this version.
        """
        if version == 0:
            return ()
        states = self._silences.get(self._ids(tenant)[1], [])
        if version >= len(states):
            raise UnknownVersion(f"tenant {tenant!r} has no silences version {version}")
        return states[version].silences

    def context(
        self,
        tenant: str,
        ruleset_version: int,
        silences_version: int,
        engine_version: int,
        flags_version: int = 0,
    ) -> engine.TenantContext:
        """The decision context recorded as ``(ruleset_version, silences_version,
        engine_version)``.

        Raises:
            UnknownVersion: a version the log never published, or an engine version this code
                does not have.
        """
        return engine.TenantContext(
            ruleset=self.ruleset(tenant, ruleset_version),
            silences=self.silences(tenant, silences_version),
            silences_version=silences_version,
            engine_version=checked_engine_version(engine_version),
            flags=self.flags(tenant, flags_version),
            flags_version=flags_version,
        )

    def _ids(self, tenant: str) -> tuple[uuid.UUID, uuid.UUID]:
        ids = self._streams.get(tenant)
        if ids is None:
            ids = self._streams[tenant] = (
                ruleset_stream_id(tenant),
                silence.silences_stream_id(tenant),
            )
        return ids
