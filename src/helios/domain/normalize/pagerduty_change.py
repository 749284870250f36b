"""PagerDuty change events (Events API v2, ``/v2/change/enqueue``) as changes.

Mapping (the request shape PagerDuty documents, so a deploy tool configured for PagerDuty can
point at Helios unchanged):

- ``payload`` is required, with ``summary`` (required; longer than 1024 characters is
  truncated with a note, as for triggers); ``timestamp`` is ``occurred_at`` (missing: the time
  received; too far ahead: clamped, noted).
- ``service`` is ``payload.component`` when present, else ``payload.source``: the same rule as
  for a trigger, so that a change is shown beside the alerts of the service it changed.
  ``payload.source`` is also kept as the change's ``origin``.
- ``links`` become links; ``payload.custom_details`` (under ``payload``), ``images`` and
  unknown fields are kept in ``details``.
- ``routing_key`` is required but never copied: it is the integration's secret.

Version 1 (``CHANGE_NORMALIZER_VERSION``) is recorded with every change; a change to this
mapping must keep version 1's behaviour for recorded envelopes and add version 2.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from helios.domain.changes import Change, change_id
from helios.domain.normalize import ChangeNormalized, FieldError, JsonDecoder, NormalizeResult
from helios.domain.normalize import common as check
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import TimestampError
from helios.domain.values import Envelope, Link, Millis

CHANGE_NORMALIZER_VERSION = 1
_SOURCE = "pagerduty"
_MAPPED = frozenset({"routing_key", "payload", "links"})
_PAYLOAD_MAPPED = frozenset({"summary", "source", "component", "timestamp"})


def normalize_pagerduty_change(
    envelope: Envelope, ruleset: Ruleset, document: check.JsonObject, decode: JsonDecoder
) -> NormalizeResult:
    """One change event as one change, or a rejection naming every bad field."""
    del decode  # the event is one JSON document: nothing nested to decode
    errors: check.Errors = []
    check.text(document, "routing_key", "routing_key", errors, required=True)
    if document.get("payload") is None:
        errors.append(FieldError(field="payload", message="is required"))
    payload = check.mapping(document, "payload", "payload", errors)
    # Without a payload object, its fields are not named again: "payload" says it all.
    summary = (
        check.text(payload, "summary", "payload.summary", errors, required=True) or ""
        if payload is not None
        else ""
    )
    payload = payload or {}
    origin = check.text(payload, "source", "payload.source", errors) or ""
    component = check.text(payload, "component", "payload.component", errors) or ""
    timestamp = check.timestamp(payload, "timestamp", "payload.timestamp", errors)
    links = check.links_from(document.get("links"), "links", errors)
    extra: check.JsonObject = {k: v for k, v in document.items() if k not in _MAPPED}
    leftover = {k: v for k, v in payload.items() if k not in _PAYLOAD_MAPPED}
    if leftover:
        extra["payload"] = leftover
    details = check.details(extra, "body", errors)
    if errors:
        return check.rejected("PagerDuty change event", errors)
    return _change(
        envelope,
        ruleset,
        summary=summary,
        origin=origin,
        component=component,
        timestamp=timestamp,
        links=links,
        details=details,
    )


def _change(
    envelope: Envelope,
    ruleset: Ruleset,
    *,
    summary: str,
    origin: str,
    component: str,
    timestamp: Millis | None,
    links: tuple[Link, ...],
    details: str,
) -> ChangeNormalized:
    notes: check.Notes = []
    summary = check.summary(summary, notes)
    occurred_at = check.occurred_at(
        timestamp, envelope.received_at, ruleset, "payload.timestamp", notes
    )
    service = component or origin
    change = Change(
        change_id=change_id(
            tenant=envelope.tenant,
            source=_SOURCE,
            service=service,
            origin=origin,
            occurred_at=occurred_at,
            summary=summary,
            details=details,
        ),
        tenant=envelope.tenant,
        integration=envelope.integration,
        source=_SOURCE,
        summary=summary,
        service=service,
        origin=origin,
        occurred_at=occurred_at,
        received_at=envelope.received_at,
        links=links,
        details=details,
        notes=tuple(notes),
    )
    return ChangeNormalized(changes=(change,), normalizer_version=CHANGE_NORMALIZER_VERSION)


# -- typed decoding ---------------------------------------------------------------------------
# A change event of known fields of their documented types, with flat ``custom_details``,
# decodes straight into these structs and maps to the same change. Any other body goes through
# the checks.


class TypedChangePayload(msgspec.Struct, forbid_unknown_fields=True):
    """``payload`` of a change event."""

    summary: str
    source: str | UnsetType = UNSET
    component: str | UnsetType = UNSET
    timestamp: str | UnsetType = UNSET
    custom_details: check.FlatObject | UnsetType = UNSET


class TypedChangeEvent(msgspec.Struct, forbid_unknown_fields=True):
    """A change event."""

    routing_key: str
    payload: TypedChangePayload
    links: list[check.TypedLink] | UnsetType = UNSET
    images: list[dict[str, str]] | UnsetType = UNSET
    client: str | UnsetType = UNSET
    client_url: str | UnsetType = UNSET


_EVENT = msgspec.json.Decoder(TypedChangeEvent)


def typed_pagerduty_change(
    envelope: Envelope, ruleset: Ruleset, version: int
) -> NormalizeResult | None:
    """``normalize_pagerduty_change`` of a well-formed event by typed decoding; None when the
    body is not one, or when a field check fails (the field checks then name every bad
    field)."""
    del version  # changes carry their own normalizer version
    event = check.decode_typed(envelope.body, _EVENT)
    if event is None or not event.routing_key or not event.payload.summary:
        return None
    payload = event.payload
    timestamp = None
    if payload.timestamp:
        try:
            timestamp = check.parse_time(payload.timestamp)
        except TimestampError:
            return None
    links = check.typed_links(event.links)
    if links is None:
        return None
    extra: dict[str, object] = {
        name: value
        for name in ("images", "client", "client_url")
        if (value := getattr(event, name)) is not UNSET
    }
    if payload.custom_details is not UNSET:
        extra["payload"] = {"custom_details": payload.custom_details}
    details = check.typed_details(extra)
    if details is None:
        return None
    return _change(
        envelope,
        ruleset,
        summary=payload.summary,
        origin=payload.source or "",
        component=payload.component or "",
        timestamp=timestamp,
        links=links,
        details=details,
    )
