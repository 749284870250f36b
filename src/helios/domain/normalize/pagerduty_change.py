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

from helios.domain.changes import Change, change_id
from helios.domain.normalize import ChangeNormalized, FieldError, JsonDecoder, NormalizeResult
from helios.domain.normalize import common as check
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope

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
    notes: check.Notes = []
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
