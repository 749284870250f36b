"""Recorded inputs: every accepted envelope and what normalization made of it.

One stream per envelope (keyed by tenant and ingest id). Its first event keeps the raw bytes,
so replay can re-run normalization as well as decisions, and a normalizer fix can be tried
against history; an envelope that could not be normalized stays here, quarantined with its
reasons, until it is re-driven.
"""

from __future__ import annotations

import attrs

from helios.domain.events import event
from helios.domain.identity import stream_id
from helios.domain.normalize import Control, FieldError, Normalized, NormalizeResult, Rejected
from helios.domain.values import Envelope, Millis, Signal


@event("helios.intake.envelope_received.v1")
@attrs.frozen(kw_only=True)
class EnvelopeReceived:
    envelope: Envelope


@event("helios.intake.envelope_normalized.v1")
@attrs.frozen(kw_only=True)
class EnvelopeNormalized:
    ingest_id: str
    ruleset_version: int
    signals: tuple[Signal, ...]
    skipped: tuple[FieldError, ...] = ()


@event("helios.intake.envelope_rejected.v1")
@attrs.frozen(kw_only=True)
class EnvelopeRejected:
    """Quarantined: kept with the reasons, visible to admins, re-drivable after a fix."""

    ingest_id: str
    ruleset_version: int
    reason: str
    errors: tuple[FieldError, ...]


@event("helios.intake.control_received.v1")
@attrs.frozen(kw_only=True)
class ControlReceived:
    ingest_id: str
    control: Control


@event("helios.intake.envelope_redriven.v1")
@attrs.frozen(kw_only=True)
class EnvelopeRedriven:
    ingest_id: str
    at: Millis
    by: str = ""


IntakeEvent = (
    EnvelopeReceived | EnvelopeNormalized | EnvelopeRejected | ControlReceived | EnvelopeRedriven
)


def envelope_stream(tenant: str, ingest_id: str) -> str:
    return str(stream_id("envelope", tenant, ingest_id))


def outcome_event(
    envelope: Envelope, result: NormalizeResult, ruleset_version: int
) -> EnvelopeNormalized | EnvelopeRejected | ControlReceived:
    """The event that records what normalization made of an envelope."""
    match result:
        case Normalized(signals=signals, skipped=skipped):
            return EnvelopeNormalized(
                ingest_id=envelope.ingest_id,
                ruleset_version=ruleset_version,
                signals=signals,
                skipped=skipped,
            )
        case Rejected(reason=reason, errors=errors):
            return EnvelopeRejected(
                ingest_id=envelope.ingest_id,
                ruleset_version=ruleset_version,
                reason=reason,
                errors=errors,
            )
        case Control():
            return ControlReceived(ingest_id=envelope.ingest_id, control=result)
