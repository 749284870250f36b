"""Recorded inputs: every accepted envelope and what normalization made of it.

One stream per envelope (keyed by tenant and ingest id). Its first event keeps the raw bytes,
so replay can re-run normalization as well as decisions, and a normalizer fix can be tried
against history; an envelope that could not be normalized stays here, quarantined with its
reasons, until it is re-driven.

Each outcome and tick records the ``engine_version`` that handled it (see
``helios.domain.versions``); records written before versions were have none and read as
``LEGACY``.
"""

from __future__ import annotations

import attrs

from helios.domain import versions
from helios.domain.changes import Change
from helios.domain.events import ADDED_FIELD, event
from helios.domain.identity import stream_id
from helios.domain.normalize import (
    ChangeNormalized,
    Control,
    FieldError,
    Normalized,
    NormalizeResult,
    Rejected,
)
from helios.domain.values import Envelope, Millis, Signal


@event("helios.intake.envelope_received.v1")
@attrs.frozen(kw_only=True)
class EnvelopeReceived:
    envelope: Envelope


@event("helios.intake.envelope_normalized.v1")
@attrs.frozen(kw_only=True)
class EnvelopeNormalized:
    """What normalization made of an envelope, under which rules and silences.

    ``ruleset_version`` and ``silences_version`` (the version of the tenant's silence stream)
    let replay decide with exactly what was in force, even if a rule changed concurrently;
    ``engine_version``, with the behaviour of normalization and decisions of that time.
    """

    ingest_id: str
    ruleset_version: int
    signals: tuple[Signal, ...]
    skipped: tuple[FieldError, ...] = ()
    silences_version: int = 0
    engine_version: int = attrs.field(default=versions.LEGACY, metadata=ADDED_FIELD)
    flags_version: int = attrs.field(default=0, metadata=ADDED_FIELD)
    """The version of the tenant's flag stream decided with (0: no flags, left out)."""


@event("helios.intake.envelope_rejected.v1")
@attrs.frozen(kw_only=True)
class EnvelopeRejected:
    """Quarantined: kept with the reasons, visible to admins, re-drivable after a fix."""

    ingest_id: str
    ruleset_version: int
    reason: str
    errors: tuple[FieldError, ...]
    engine_version: int = attrs.field(default=versions.LEGACY, metadata=ADDED_FIELD)


@event("helios.intake.change_recorded.v1")
@attrs.frozen(kw_only=True)
class ChangeRecorded:
    """The changes an envelope held: recorded and shown, never decided on (no alert stream
    is touched). ``normalizer_version`` is the change normalizer's version that made them."""

    ingest_id: str
    ruleset_version: int
    changes: tuple[Change, ...]
    normalizer_version: int
    engine_version: int = attrs.field(default=versions.LEGACY, metadata=ADDED_FIELD)


@event("helios.intake.control_received.v1")
@attrs.frozen(kw_only=True)
class ControlReceived:
    ingest_id: str
    control: Control
    engine_version: int = attrs.field(default=versions.LEGACY, metadata=ADDED_FIELD)


@event("helios.intake.envelope_redriven.v1")
@attrs.frozen(kw_only=True)
class EnvelopeRedriven:
    ingest_id: str
    at: Millis
    by: str = ""


@event("helios.intake.tick.v1")
@attrs.frozen(kw_only=True)
class TickReceived:
    """Time reached ``at`` for these alerts of a tenant (recorded so replay sees time too)."""

    tenant: str
    at: Millis
    dedup_keys: tuple[str, ...]
    ruleset_version: int
    silences_version: int = 0
    engine_version: int = attrs.field(default=versions.LEGACY, metadata=ADDED_FIELD)
    flags_version: int = attrs.field(default=0, metadata=ADDED_FIELD)
    """The version of the tenant's flag stream decided with (0: no flags, left out)."""


def envelope_stream(tenant: str, ingest_id: str) -> str:
    return str(stream_id("envelope", tenant, ingest_id))


def tick_stream(tenant: str, at: Millis) -> str:
    """One stream per tenant and tick time: the same tick recorded twice conflicts."""
    return str(stream_id("tick", tenant, str(at)))


def outcome_event(
    envelope: Envelope,
    result: NormalizeResult,
    ruleset_version: int,
    silences_version: int = 0,
    *,
    engine_version: int,
    flags_version: int = 0,
) -> EnvelopeNormalized | EnvelopeRejected | ChangeRecorded | ControlReceived:
    """The event that records what normalization (under ``engine_version``) made of an
    envelope."""
    match result:
        case Normalized(signals=signals, skipped=skipped):
            return EnvelopeNormalized(
                ingest_id=envelope.ingest_id,
                ruleset_version=ruleset_version,
                signals=signals,
                skipped=skipped,
                silences_version=silences_version,
                engine_version=engine_version,
                flags_version=flags_version,
            )
        case Rejected(reason=reason, errors=errors):
            return EnvelopeRejected(
                ingest_id=envelope.ingest_id,
                ruleset_version=ruleset_version,
                reason=reason,
                errors=errors,
                engine_version=engine_version,
            )
        case ChangeNormalized(changes=changes, normalizer_version=version):
            return ChangeRecorded(
                ingest_id=envelope.ingest_id,
                ruleset_version=ruleset_version,
                changes=changes,
                normalizer_version=version,
                engine_version=engine_version,
            )
        case Control():
            return ControlReceived(
                ingest_id=envelope.ingest_id, control=result, engine_version=engine_version
            )
