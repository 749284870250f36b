"""The generic Helios JSON format, for any tool without a dedicated source.

One event per request (the API checks the HMAC-SHA256 signature over ``timestamp.body``)::

    {
      "action": "trigger",                 # required: trigger | acknowledge | resolve
      "dedup_key": "db-1/disk",            # optional: else a hash of the ruleset's key labels
      "summary": "Disk on db-1 is full",   # optional; ≤ 1024 chars, longer is truncated
      "severity": "critical",              # optional: through the ruleset's severity table
      "occurred_at": "2026-03-14T09:21:30.512Z",  # optional RFC 3339; else received_at
      "service": "storage", "component": "postgres", "group": "eu-1", "class": "disk",
      "labels": {"instance": "db-1:9100"}, # optional string → string
      "links": [{"href": "https://…", "text": "Runbook"}],
      "details": {"free": "form"}          # optional JSON object
    }

Unknown top-level fields are kept in ``details`` next to the ``details`` object's own keys
(which win on a clash). ``render_generic`` in ``helios.domain.normalize.dispatch`` writes a
signal in this format.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from helios.domain.normalize import FieldError, JsonDecoder, Normalized, NormalizeResult
from helios.domain.normalize import common as check
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import TimestampError
from helios.domain.values import Action, Envelope

_ACTIONS = {action.value: action for action in Action}
_MAPPED = frozenset(
    {
        "action",
        "dedup_key",
        "summary",
        "severity",
        "occurred_at",
        "service",
        "component",
        "group",
        "class",
        "labels",
        "links",
        "details",
    }
)


def normalize_generic(
    envelope: Envelope, ruleset: Ruleset, document: check.JsonObject, decode: JsonDecoder
) -> NormalizeResult:
    """One generic event as one signal, or a rejection naming every bad field."""
    del decode  # the event is one JSON document: nothing nested to decode
    errors: check.Errors = []
    notes: check.Notes = []
    action_name = check.text(document, "action", "action", errors, required=True)
    action = _ACTIONS.get(action_name or "")
    if action_name and action is None:
        errors.append(FieldError(field="action", message="must be trigger, acknowledge or resolve"))
    # Optional even to trigger: every signal, whatever its source, must be expressible in
    # this format (``render_generic``), and some sources carry no summary.
    headline = check.text(document, "summary", "summary", errors)
    raw_severity = check.text(document, "severity", "severity", errors)
    at = check.timestamp(document, "occurred_at", "occurred_at", errors)
    service = check.text(document, "service", "service", errors) or ""
    component = check.text(document, "component", "component", errors) or ""
    group = check.text(document, "group", "group", errors) or ""
    class_ = check.text(document, "class", "class", errors) or ""
    labels = check.labels_from(
        check.mapping(document, "labels", "labels", errors) or {}, "labels", errors
    )
    links = check.links_from(document.get("links"), "links", errors)
    own_key = check.text(document, "dedup_key", "dedup_key", errors)
    key = check.dedup_key(own_key, labels, ruleset, "dedup_key", errors)
    kept = check.mapping(document, "details", "details", errors) or {}
    unknown = {k: v for k, v in document.items() if k not in _MAPPED}
    if unknown:
        kept = unknown | kept
    details = check.details(kept, "details", errors)
    if errors or action is None:
        return check.rejected("generic event", errors)
    return Normalized(
        signals=(
            check.assemble(
                envelope=envelope,
                dedup_key=key,
                action=action,
                severity=check.severity(raw_severity, ruleset, "severity", notes),
                summary=check.summary(headline or "", notes),
                occurred_at=check.occurred_at(
                    at, envelope.received_at, ruleset, "occurred_at", notes
                ),
                labels=labels,
                service=service,
                component=component,
                group=group,
                class_=class_,
                links=links,
                details=details,
                notes=notes,
            ),
        )
    )


# -- typed decoding ---------------------------------------------------------------------------
# An event of known fields only, of their documented types and with flat ``details``, decodes
# straight into this struct and maps to the same signal as the checks above. Any other body
# (unknown fields are kept in details by the checks) goes through the checks.


class TypedEvent(msgspec.Struct, forbid_unknown_fields=True):
    """A generic event."""

    action: str
    dedup_key: str | UnsetType = UNSET
    summary: str | UnsetType = UNSET
    severity: str | UnsetType = UNSET
    occurred_at: str | UnsetType = UNSET
    service: str | UnsetType = UNSET
    component: str | UnsetType = UNSET
    group: str | UnsetType = UNSET
    class_: str | UnsetType = msgspec.field(default=UNSET, name="class")
    labels: dict[str, str] | UnsetType = UNSET
    links: list[check.TypedLink] | UnsetType = UNSET
    details: check.FlatObject | UnsetType = UNSET


_EVENT = msgspec.json.Decoder(TypedEvent)


def typed_generic(envelope: Envelope, ruleset: Ruleset, version: int) -> NormalizeResult | None:
    """``normalize_generic`` of a well-formed event by typed decoding; None when the body is
    not one, or when a field check fails (the field checks then name every bad field)."""
    del version  # no version changed this mapping
    event = check.decode_typed(envelope.body, _EVENT)
    if event is None:
        return None
    action = _ACTIONS.get(event.action)
    if action is None:
        return None
    at = None
    if event.occurred_at:
        try:
            at = check.parse_time(event.occurred_at)
        except TimestampError:
            return None
    labels = check.typed_labels(event.labels or {})
    links = check.typed_links(event.links)
    if labels is None or links is None:
        return None
    own_key = event.dedup_key or ""
    if len(own_key) > check.MAX_DEDUP_KEY_CHARS:
        return None
    details = check.typed_details(event.details or {})
    if details is None:
        return None
    notes: check.Notes = []
    return Normalized(
        signals=(
            check.assemble(
                envelope=envelope,
                dedup_key=check.dedup_key(own_key, labels, ruleset, "dedup_key", []),
                action=action,
                severity=check.severity(
                    None if event.severity is UNSET else event.severity,
                    ruleset,
                    "severity",
                    notes,
                ),
                summary=check.summary(event.summary or "", notes),
                occurred_at=check.occurred_at(
                    at, envelope.received_at, ruleset, "occurred_at", notes
                ),
                labels=labels,
                service=event.service or "",
                component=event.component or "",
                group=event.group or "",
                class_=event.class_ or "",
                links=links,
                details=details,
                notes=notes,
            ),
        )
    )
