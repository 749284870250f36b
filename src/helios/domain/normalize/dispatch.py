"""The entry point of normalization: an envelope to signals, whatever its source.

Also the canonical rendering of a signal in the generic format, which normalizes back to the
same signal.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, assert_never

from helios.domain import versions
from helios.domain.normalize import FieldError, JsonDecoder, NormalizeResult, Rejected
from helios.domain.normalize import common as check
from helios.domain.normalize.alertmanager import (
    alertmanager_fits,
    normalize_alertmanager,
    typed_alertmanager,
)
from helios.domain.normalize.cloudwatch import normalize_cloudwatch, typed_cloudwatch
from helios.domain.normalize.generic import normalize_generic, typed_generic
from helios.domain.normalize.grafana import grafana_fits, normalize_grafana, typed_grafana
from helios.domain.normalize.pagerduty import (
    normalize_pagerduty,
    pagerduty_fits,
    typed_pagerduty,
)
from helios.domain.normalize.pagerduty_change import (
    normalize_pagerduty_change,
    typed_pagerduty_change,
)
from helios.domain.normalize.user import normalize_user
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, Signal, SourceKind

SourceNormalizer = Callable[[Envelope, Ruleset, check.JsonObject, JsonDecoder], NormalizeResult]


def normalize(
    envelope: Envelope,
    ruleset: Ruleset,
    *,
    decode: JsonDecoder = json.loads,
    version: int = versions.CURRENT,
) -> NormalizeResult:
    """The signals in an envelope's body, its changes, a channel control message, or a
    rejection, as normalization ``version`` makes them (see ``helios.domain.versions``; replay
    passes the version an envelope was recorded with, so it normalizes again to the recorded
    result).

    Total: any body gives a result, never an exception. ``decode`` turns JSON bytes into
    Python values and must raise ``ValueError`` on invalid input (``json.loads`` and
    ``orjson.loads`` both do). The two agree on every document except integers beyond 64
    bits, which ``orjson`` reads as floats and ``json`` as exact integers: ingestion and
    replay both inject ``orjson.loads``, so a recorded envelope normalizes again to the same
    result.
    """
    typed = _TYPED_NORMALIZERS.get(envelope.source._value_)  # a str: hashed in C, not by Enum
    if typed is not None and len(envelope.body) <= check.MAX_BODY_BYTES:
        # Well-formed bodies decode straight into typed structs; the field checks below name
        # what is wrong with any other body, and give the same result on well-formed ones.
        result = typed(envelope, ruleset, version)
        if result is not None:
            return result
    rejected = _unreadable(envelope)
    if rejected is not None:
        return rejected
    return _checked(envelope, ruleset, decode, version)


def rejection(
    envelope: Envelope,
    ruleset: Ruleset,
    *,
    decode: JsonDecoder = json.loads,
    version: int = versions.CURRENT,
) -> Rejected | None:
    """What ``normalize`` would refuse the envelope with (the same reason, the same field
    errors), or None when it would not refuse it: a check, for the API to answer before the
    worker normalizes.

    A well-formed body of a source with a typed check (Alertmanager, Grafana, PagerDuty) is
    found fit without being mapped: no signal id is hashed, no details are written, no memo
    is filled. Any other body is normalized in full, so a refusal is always the field checks'
    own.
    """
    fits = _typed_check(envelope.source)
    if fits is not None and len(envelope.body) <= check.MAX_BODY_BYTES and fits(envelope, version):
        return None
    result = normalize(envelope, ruleset, decode=decode, version=version)
    return result if isinstance(result, Rejected) else None


TypedCheck = Callable[[Envelope, int], bool]


def _typed_check(source: SourceKind) -> TypedCheck | None:
    match source:
        case SourceKind.ALERTMANAGER:
            return alertmanager_fits
        case SourceKind.GRAFANA:
            return grafana_fits
        case SourceKind.PAGERDUTY:
            return pagerduty_fits
        case _:
            return None


def normalize_checked(
    envelope: Envelope,
    ruleset: Ruleset,
    *,
    decode: JsonDecoder = json.loads,
    version: int = versions.CURRENT,
) -> NormalizeResult:
    """``normalize`` by the field checks alone, without the typed decoding of well-formed
    bodies: the same result, more slowly (the typed path is tested against it)."""
    rejected = _unreadable(envelope)
    if rejected is not None:
        return rejected
    return _checked(envelope, ruleset, decode, version)


def _unreadable(envelope: Envelope) -> Rejected | None:
    """The rejection of a body no source reads: too large, or a user action."""
    if envelope.source is SourceKind.USER:
        return None
    body = envelope.body
    if len(body) > check.MAX_BODY_BYTES:
        return Rejected(
            reason="body too large",
            errors=(
                FieldError(
                    field="body",
                    message=f"is {len(body)} bytes, at most {check.MAX_BODY_BYTES} allowed",
                ),
            ),
        )
    return None


def _checked(
    envelope: Envelope, ruleset: Ruleset, decode: JsonDecoder, version: int
) -> NormalizeResult:
    if envelope.source is SourceKind.USER:
        # Human actions recorded by the API (acknowledge, resolve): their own small format.
        return normalize_user(envelope, ruleset, decode)
    normalizer = _normalizer(envelope.source, version)
    if normalizer is None:
        return Rejected(
            reason="user signals are not normalized from bytes",
            errors=(FieldError(field="source", message="user actions come through the API"),),
        )
    errors: check.Errors = []
    document = check.decode_object(envelope.body, decode, field="body", errors=errors)
    if errors:
        return check.rejected("body", errors)
    return normalizer(envelope, ruleset, document, decode)


TypedNormalizer = Callable[[Envelope, Ruleset, int], NormalizeResult | None]

_TYPED_NORMALIZERS: dict[str, TypedNormalizer] = {
    SourceKind.ALERTMANAGER.value: typed_alertmanager,
    SourceKind.GRAFANA.value: typed_grafana,
    SourceKind.PAGERDUTY.value: typed_pagerduty,
    SourceKind.GENERIC.value: typed_generic,
    SourceKind.PAGERDUTY_CHANGE.value: typed_pagerduty_change,
    SourceKind.CLOUDWATCH.value: typed_cloudwatch,
}
"""The typed normalizer of each source that has one (user actions have none), by the source's
value: looked up once per envelope, in a dict rather than through a match of every case, on a
str (an Enum member is hashed by a Python method)."""


def _normalizer(source: SourceKind, version: int) -> SourceNormalizer | None:
    match source:
        case SourceKind.PAGERDUTY:
            return functools.partial(normalize_pagerduty, version=version)
        case SourceKind.ALERTMANAGER:
            return normalize_alertmanager
        case SourceKind.GRAFANA:
            return normalize_grafana
        case SourceKind.CLOUDWATCH:
            return normalize_cloudwatch
        case SourceKind.GENERIC:
            return normalize_generic
        case SourceKind.PAGERDUTY_CHANGE:
            return normalize_pagerduty_change
        case SourceKind.USER:
            return None
        case _:
            assert_never(source)


def render_generic(signal: Signal) -> bytes:
    """The signal in the generic JSON format (UTF-8, sorted keys, compact).

    Normalizing the rendering as a generic envelope (same tenant, integration and
    ``received_at``) gives back an equal signal when the signal's source is ``generic`` and it
    carries no notes; any other signal comes back as the same observation from ``generic``.

    Raises:
        ValueError: ``details`` is not JSON text.
        OverflowError: ``occurred_at`` is outside the years 1 to 9999.
    """
    document: dict[str, Any] = {
        "action": signal.action.value,
        "dedup_key": signal.dedup_key,
        "severity": signal.severity.value,
        "occurred_at": format_rfc3339(signal.occurred_at),
    }
    for name, value in (
        ("summary", signal.summary),
        ("service", signal.service),
        ("component", signal.component),
        ("group", signal.group),
        ("class", signal.class_),
    ):
        if value:
            document[name] = value
    if signal.labels:
        document["labels"] = dict(signal.labels)
    if signal.links:
        document["links"] = [{"href": link.href, "text": link.text} for link in signal.links]
    if signal.details != "{}":
        document["details"] = json.loads(signal.details)
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )
