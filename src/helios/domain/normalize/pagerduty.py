"""PagerDuty Events API v2 events as signals.

Mapping (request shape as PagerDuty documents it, so a tool configured for PagerDuty can point
at Helios unchanged):

- ``event_action`` trigger|acknowledge|resolve is the action (required).
- ``dedup_key`` is the dedup key; required for acknowledge and resolve. A trigger without one
  gets ``"pd-" + stable_hash(ingest_id)``: the API answers with that same key in its 202 (it is
  derived from the envelope, so a re-run of normalization yields it again), and the caller uses
  it to acknowledge or resolve later.
- ``payload`` is required for a trigger, with ``summary``, ``source`` and ``severity``.
  ``severity`` goes through the ruleset's table like any other source (PagerDuty itself allows
  critical|error|warning|info). ``timestamp`` is ``occurred_at``.
- Without ``timestamp`` (Alertmanager's pagerduty receiver never sends one; acknowledge and
  resolve events rarely do), ``occurred_at`` is ``received_at`` and, from engine version 2, the
  signal is identified by its content alone: the copies an HA pair sends and every
  ``repeat_interval`` resend are one signal, which the alert counts once per episode. Version 1
  hashed ``received_at`` into the id, so each copy was another occurrence.
- ``service`` (what incidents group on by default) is, from engine version 2, the first of:
  ``payload.component`` (the affected software, as the sender names it); the ``service``
  label, else the ``job`` label, that every alert Alertmanager lists in
  ``custom_details.firing`` (``resolved`` when none fires) carries with one value; then
  ``payload.group`` (PagerDuty's logical grouping of a service's components); then
  ``payload.source`` (usually a host, and "Alertmanager" for everything Alertmanager sends).
  ``class`` is the kind of problem ("high CPU"), shared by unrelated services, so it never
  names one. Version 1 took ``component``, else ``source``, so every alert from Alertmanager
  was of service "Alertmanager" and unrelated alerts met in one incident.
  ``component``, ``group``, ``class`` map to the fields of the same name; ``labels`` are
  ``source``, ``component``, ``group``, ``class`` when present.
- ``links`` become links (plus ``client_url`` titled with ``client``); ``custom_details``,
  ``images``, ``client`` and unknown fields are kept in ``details``.
- ``routing_key`` is required but never copied into the signal: it is the integration's secret.

PagerDuty ignores the payload of acknowledge and resolve events, so a malformed payload there
does not reject the event (which would leave the alert open): it is kept in ``details`` and
noted, unmapped.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import msgspec
from msgspec import UNSET, UnsetType

from helios.domain import identity, versions
from helios.domain.normalize import FieldError, JsonDecoder, Normalized, NormalizeResult
from helios.domain.normalize import common as check
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import TimestampError
from helios.domain.values import Action, Envelope, Labels, Link, Millis, Signal, SourceKind


def keyless_dedup_key(ingest_id: str) -> str:
    """The dedup key of a trigger sent without one: derived from its envelope, so that the API
    can answer with it at once and a re-run of normalization gives it again."""
    return "pd-" + identity.stable_hash(ingest_id)


_ACTIONS = {action.value: action for action in Action}
_MAPPED = frozenset({"routing_key", "event_action", "dedup_key", "payload", "links"})
_PAYLOAD_MAPPED = frozenset(
    {"summary", "source", "severity", "timestamp", "component", "group", "class"}
)


def normalize_pagerduty(
    envelope: Envelope,
    ruleset: Ruleset,
    document: check.JsonObject,
    decode: JsonDecoder,
    *,
    version: int,
) -> NormalizeResult:
    """One Events API v2 event as one signal (as normalization ``version`` makes it), or a
    rejection naming every bad field."""
    del decode  # the event is one JSON document: nothing nested to decode
    errors: check.Errors = []
    notes: check.Notes = []
    check.text(document, "routing_key", "routing_key", errors, required=True)
    action_name = check.text(document, "event_action", "event_action", errors, required=True)
    action = _ACTIONS.get(action_name or "")
    if action_name and action is None:
        errors.append(
            FieldError(field="event_action", message="must be trigger, acknowledge or resolve")
        )
    own_key = check.text(document, "dedup_key", "dedup_key", errors)
    if action in (Action.ACKNOWLEDGE, Action.RESOLVE) and not own_key:
        errors.append(FieldError(field="dedup_key", message=f"is required to {action_name}"))

    payload_errors: check.Errors = []
    raw_payload = check.mapping(document, "payload", "payload", payload_errors)
    if raw_payload is None and action is Action.TRIGGER and not payload_errors:
        payload_errors.append(FieldError(field="payload", message="is required to trigger"))
    payload = _read_payload(raw_payload or {}, action is Action.TRIGGER, payload_errors)
    if payload_errors:
        if action is Action.TRIGGER:
            errors.extend(payload_errors)
        else:
            first = payload_errors[0]
            notes.append(f"payload ignored: {first.field} {first.message}")
            payload = _Payload()
    links = check.links_from(document.get("links"), "links", errors)
    client_url = document.get("client_url")
    if isinstance(client_url, str) and client_url:
        client = document.get("client")
        links += (Link(href=client_url, text=client if isinstance(client, str) else ""),)
    labels = check.labels_from(_payload_labels(payload), "payload", errors)
    key = own_key or keyless_dedup_key(envelope.ingest_id)
    check.dedup_key(key, labels, ruleset, "dedup_key", errors)
    extra: check.JsonObject = {k: v for k, v in document.items() if k not in _MAPPED}
    if payload_errors:
        extra["payload"] = document.get("payload")
    elif raw_payload:
        leftover = {k: v for k, v in raw_payload.items() if k not in _PAYLOAD_MAPPED}
        if leftover:
            extra["payload"] = leftover
    details = check.details(extra, "body", errors)
    if errors or action is None:
        return check.rejected("PagerDuty event", errors)

    custom_details = raw_payload.get("custom_details") if raw_payload else None
    return _normalized(
        envelope,
        ruleset,
        _Mapped(key=key, action=action, labels=labels, links=links, details=details),
        payload,
        custom_details=custom_details,
        notes=notes,
        version=version,
    )


class _Mapped(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the checks or the typed decoding read from the event, besides its payload (a
    struct: built in C, for every event)."""

    key: str
    action: Action
    labels: Labels
    links: tuple[Link, ...]
    details: str


def _normalized(
    envelope: Envelope,
    ruleset: Ruleset,
    mapped: _Mapped,
    payload: _Payload,
    *,
    custom_details: object,
    notes: check.Notes,
    version: int,
) -> Normalized:
    """The signal of a checked event (notes in the order the checks write them: severity,
    summary, time)."""
    return Normalized(
        signals=(
            check.assemble(
                envelope=envelope,
                dedup_key=mapped.key,
                action=mapped.action,
                severity=check.severity(payload.severity, ruleset, "payload.severity", notes),
                summary=check.summary(payload.summary, notes),
                occurred_at=check.occurred_at(
                    payload.timestamp, envelope.received_at, ruleset, "payload.timestamp", notes
                ),
                labels=mapped.labels,
                service=_service(payload, custom_details, version),
                component=payload.component,
                group=payload.group,
                class_=payload.class_,
                links=mapped.links,
                details=mapped.details,
                notes=notes,
                untimed=payload.timestamp is None
                and version >= versions.PAGERDUTY_CONTENT_IDENTITY,
            ),
        )
    )


def _payload_labels(payload: _Payload) -> dict[str, str]:
    """The labels of a payload: its source, component, group and class, when present."""
    return {
        name: value
        for name, value in (
            ("source", payload.source),
            ("component", payload.component),
            ("group", payload.group),
            ("class", payload.class_),
        )
        if value
    }


class _Payload(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the checks or the typed decoding read from the event's payload (a struct: built in
    C, for every event)."""

    summary: str = ""
    source: str = ""
    severity: str | None = None
    timestamp: Millis | None = None
    component: str = ""
    group: str = ""
    class_: str = ""


def _read_payload(raw: check.JsonObject, required: bool, errors: check.Errors) -> _Payload:
    return _Payload(
        summary=check.text(raw, "summary", "payload.summary", errors, required=required) or "",
        source=check.text(raw, "source", "payload.source", errors, required=required) or "",
        severity=check.text(raw, "severity", "payload.severity", errors, required=required),
        timestamp=check.timestamp(raw, "timestamp", "payload.timestamp", errors),
        component=check.text(raw, "component", "payload.component", errors) or "",
        group=check.text(raw, "group", "payload.group", errors) or "",
        class_=check.text(raw, "class", "payload.class", errors) or "",
    )


def _service(payload: _Payload, custom_details: object, version: int) -> str:
    if version < versions.PAGERDUTY_SERVICE:
        return payload.component or payload.source
    if payload.component:
        return payload.component
    listed = _alertmanager_alerts(custom_details)
    return (
        _common_label(listed, "service")
        or _common_label(listed, "job")
        or payload.group
        or payload.source
    )


# One label in the text of Alertmanager's default pagerduty template (``__text_alert_list``):
#   Labels:\n - alertname = X\n - service = Y\nAnnotations:\n - summary = …\nSource: url\n
_LABEL_LINE = re.compile(r" - ([A-Za-z_][A-Za-z0-9_]*) = (.*)\Z")


def _alertmanager_alerts(details: object) -> list[dict[str, str]]:
    """The labels of each alert Alertmanager lists in its default ``custom_details``: the
    firing ones, or the resolved ones when none fires. Empty for any other shape."""
    if not isinstance(details, dict):
        return []
    for key in ("firing", "resolved"):
        text = details.get(key)
        if isinstance(text, str) and text:
            return _listed_alerts(text)
    return []


def _listed_alerts(text: str) -> list[dict[str, str]]:
    alerts: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in text.split("\n"):
        if line == "Labels:":
            current = {}
            alerts.append(current)
            continue
        if current is None:
            continue  # annotations, the source URL, or text of another template
        found = _LABEL_LINE.match(line)
        if found is None:
            # "Annotations:", or a line this template does not write (a label value with a
            # line break): this alert's labels end here.
            current = None
        else:
            current.setdefault(found[1], found[2])
    return alerts


def _common_label(alerts: list[dict[str, str]], name: str) -> str:
    """The value of label ``name`` if every alert has it, all with that value; else ""."""
    values = {labels.get(name, "") for labels in alerts}
    return values.pop() if len(values) == 1 else ""


# -- typed decoding ---------------------------------------------------------------------------
# An event whose fields are all known and of their documented types (``custom_details`` flat:
# Alertmanager's pagerduty receiver sends strings) decodes straight into these structs, and maps
# to the same signal as the checks above. Any other body goes through the checks.


class TypedPayload(msgspec.Struct, forbid_unknown_fields=True):
    """``payload`` of an event."""

    summary: str | UnsetType = UNSET
    source: str | UnsetType = UNSET
    severity: str | UnsetType = UNSET
    timestamp: str | UnsetType = UNSET
    component: str | UnsetType = UNSET
    group: str | UnsetType = UNSET
    class_: str | UnsetType = msgspec.field(default=UNSET, name="class")
    custom_details: check.FlatObject | UnsetType = UNSET


class TypedEvent(msgspec.Struct, forbid_unknown_fields=True):
    """An Events API v2 event."""

    routing_key: str
    event_action: str
    dedup_key: str | UnsetType = UNSET
    payload: TypedPayload | UnsetType = UNSET
    links: list[check.TypedLink] | UnsetType = UNSET
    images: list[dict[str, str]] | UnsetType = UNSET
    client: str | UnsetType = UNSET
    client_url: str | UnsetType = UNSET


_EVENT = msgspec.json.Decoder(TypedEvent)


def _typed_payload(raw: TypedPayload, action: Action) -> _Payload | None:
    """``_read_payload`` of a typed payload; None when it would record an error."""
    if action is Action.TRIGGER and not (raw.summary and raw.source and raw.severity):
        return None
    timestamp = None
    if raw.timestamp:
        try:
            timestamp = check.parse_time(raw.timestamp)
        except TimestampError:
            return None
    return _Payload(
        summary=raw.summary or "",
        source=raw.source or "",
        severity=None if raw.severity is UNSET else raw.severity,
        timestamp=timestamp,
        component=raw.component or "",
        group=raw.group or "",
        class_=raw.class_ or "",
    )


def typed_pagerduty(envelope: Envelope, ruleset: Ruleset, version: int) -> NormalizeResult | None:
    """``normalize_pagerduty`` of a well-formed event by typed decoding; None when the body is
    not one, or when a field check fails (the field checks then name every bad field)."""
    event = check.decode_typed(envelope.body, _EVENT)
    if event is None:
        return None
    if not event.routing_key:
        return None
    raw = event.payload
    if (
        raw is UNSET
        or raw.custom_details is not UNSET
        or not event.dedup_key
        or event.links is not UNSET
        or event.images is not UNSET
    ):
        # A free-form field (not a key), or a key of our own (the envelope's).
        return _typed_event_signal(envelope, ruleset, version, _typed_read(event))
    facts = _FACTS.of(ruleset)(
        version,
        envelope.tenant,
        event.event_action,
        event.dedup_key,
        event.client,
        event.client_url,
        raw.summary,
        raw.source,
        raw.severity,
        raw.component,
        raw.group,
        raw.class_,
    )
    if facts is None:
        return None
    at = None
    if raw.timestamp:
        try:
            at = check.parse_time(raw.timestamp)
        except TimestampError:
            return None
    received_at = envelope.received_at
    template = facts.template
    if template is not None and at is not None and at - received_at <= ruleset.skew_tolerance_ms:
        # Nothing noted and the event's own time kept: the signal ``_normalized`` makes.
        return Normalized(
            signals=(
                _replace(
                    template,
                    integration=envelope.integration,
                    occurred_at=at,
                    received_at=received_at,
                    signal_id=identity.timed_signal_id(facts.id_head, at, facts.id_tail),
                ),
            )
        )
    return _normalized(
        envelope,
        ruleset,
        facts.mapped,
        _replace(facts.payload, timestamp=at),
        custom_details=None,
        notes=[],
        version=version,
    )


_replace = msgspec.structs.replace


class _Facts(msgspec.Struct, frozen=True, gc=False):
    """What an event maps to whatever its time and envelope (but its tenant): its mapping,
    its payload as read (without its time), and the signal of a delivery that keeps its own
    time and notes nothing, but for its id, integration and times (None when a note is
    written), with what its id hashes around the action and time."""

    mapped: _Mapped
    payload: _Payload
    template: Signal | None
    id_head: bytes
    id_tail: bytes


def _event_facts(  # noqa: PLR0917 -- the event's fields, bound positionally by the memo
    ruleset: Ruleset,
    version: int,
    tenant: str,
    event_action: str,
    dedup_key: str,
    client: str | UnsetType,
    client_url: str | UnsetType,
    summary: str | UnsetType,
    source: str | UnsetType,
    severity: str | UnsetType,
    component: str | UnsetType,
    group: str | UnsetType,
    class_: str | UnsetType,
) -> _Facts | None:
    """The facts of an event with these fields (its payload's time aside, none free-form) for
    ``tenant`` under ``ruleset`` and normalization ``version``; None when the event is not
    well-formed or a field check fails."""
    event = TypedEvent(
        routing_key=_CHECKED,
        event_action=event_action,
        dedup_key=dedup_key,
        payload=TypedPayload(
            summary=summary,
            source=source,
            severity=severity,
            component=component,
            group=group,
            class_=class_,
        ),
        client=client,
        client_url=client_url,
    )
    read = _typed_read(event)
    if read is None:
        return None
    _, action, _, payload = read
    mapped = _typed_mapped(event, read, dedup_key)
    if mapped is None:
        return None
    notes: check.Notes = []
    mapped_severity = check.severity(payload.severity, ruleset, "payload.severity", notes)
    mapped_summary = check.summary(payload.summary, notes)
    template = None
    if not notes:
        template = Signal(
            signal_id="",
            tenant=tenant,
            integration="",
            source=_SOURCE,
            dedup_key=mapped.key,
            action=action,
            severity=mapped_severity,
            summary=mapped_summary,
            occurred_at=0,
            received_at=0,
            service=_service(payload, None, version),
            component=payload.component,
            group=payload.group,
            class_=payload.class_,
            labels=mapped.labels,
            links=mapped.links,
            details=mapped.details,
        )
    return _Facts(
        mapped,
        payload,
        template,
        identity.observation_head(tenant, _SOURCE, mapped.key, action),
        identity.observation_tail(mapped_severity, mapped_summary, mapped.labels),
    )


_SOURCE = SourceKind.PAGERDUTY.value
_CHECKED = "(checked)"
"""The routing key of an event whose facts are found: checked present before, never kept."""


class _FactsMemo:
    """The facts of events by their fields, memoized per ruleset: the same alert is reported
    again and again, each time at another time. Bounded, in entries and in rulesets."""

    def __init__(self) -> None:
        self._by_ruleset: list[tuple[Ruleset, Callable[..., _Facts | None]]] = []

    def of(self, ruleset: Ruleset) -> Callable[..., _Facts | None]:
        """``_event_facts`` under ``ruleset``, memoized."""
        known = self._by_ruleset
        for held, facts in known:
            if held is ruleset:
                return facts
        facts = functools.lru_cache(maxsize=_MEMO_EVENTS)(functools.partial(_event_facts, ruleset))
        # One assignment of a new list: another thread sees the old list or the new one.
        self._by_ruleset = [(ruleset, facts), *known[: _MEMO_RULESETS - 1]]
        return facts


_MEMO_EVENTS = 1024
_MEMO_RULESETS = 4
_FACTS = _FactsMemo()


def _typed_read(event: TypedEvent) -> tuple[TypedEvent, Action, TypedPayload, _Payload] | None:
    """``_typed_event`` of a decoded event whose routing key is checked present."""
    action = _ACTIONS.get(event.event_action)
    if action is None or (action is not Action.TRIGGER and not event.dedup_key):
        return None
    raw = event.payload
    if raw is UNSET:
        if action is Action.TRIGGER:
            return None
        raw = TypedPayload()
    payload = _typed_payload(raw, action)
    if payload is None:
        return None
    return event, action, raw, payload


def _typed_event_signal(
    envelope: Envelope,
    ruleset: Ruleset,
    version: int,
    read: tuple[TypedEvent, Action, TypedPayload, _Payload] | None,
) -> NormalizeResult | None:
    """The signal of a typed event read (``_typed_read``), mapped afresh."""
    if read is None:
        return None
    event, _, raw, payload = read
    mapped = _typed_mapped(event, read, event.dedup_key or keyless_dedup_key(envelope.ingest_id))
    if mapped is None:
        return None
    return _normalized(
        envelope,
        ruleset,
        mapped,
        payload,
        custom_details=None if raw.custom_details is UNSET else raw.custom_details,
        notes=[],
        version=version,
    )


def _typed_mapped(
    event: TypedEvent, read: tuple[TypedEvent, Action, TypedPayload, _Payload], key: str
) -> _Mapped | None:
    """What a typed event read maps to besides its payload, its dedup key ``key``; None when a
    field check fails."""
    _, action, raw, payload = read
    links = check.typed_links(event.links)
    if links is None:
        return None
    if event.client_url:
        links += (Link(href=event.client_url, text=event.client or ""),)
    # Every value a string: checked as typed labels (None where the checks record an error).
    labels = check.typed_labels(_payload_labels(payload))
    if labels is None:
        return None
    # A key of our own (``keyless_dedup_key``) is always short enough; the source's is checked
    # as ``check.dedup_key`` checks it.
    if len(key) > check.MAX_DEDUP_KEY_CHARS:
        return None
    details = check.typed_details(_typed_extra(event, raw))
    if details is None:
        return None
    return _Mapped(key=key, action=action, labels=labels, links=links, details=details)


def pagerduty_fits(envelope: Envelope, version: int) -> bool:
    """Whether ``typed_pagerduty`` maps the envelope to a signal, under any ruleset, found
    without mapping it (no id hashed, no details written): the API checks each event this way
    before it answers. False when the body is not a well-formed event or a field check fails:
    the field checks then have the last word."""
    del version  # versions changed what an event maps to, never whether it maps
    read = _typed_event(envelope.body)
    if read is None:
        return False
    event, _, raw, payload = read
    if event.links and not all(link.href for link in event.links):
        return False  # what ``check.typed_links`` refuses
    # The labels' names are fixed and valid; their values are checked. A key of our own
    # (``keyless_dedup_key``) is always short enough.
    if any(len(value) > check.MAX_LABEL_VALUE_CHARS for value in _payload_labels(payload).values()):
        return False
    if len(event.dedup_key or "") > check.MAX_DEDUP_KEY_CHARS:
        return False
    return check.typed_details_fit(_typed_extra(event, raw))


def _typed_event(body: bytes) -> tuple[TypedEvent, Action, TypedPayload, _Payload] | None:
    """The event, its action, its payload as sent and as read; None when the body is not a
    well-formed event or its action, key or payload would record an error."""
    event = check.decode_typed(body, _EVENT)
    if event is None or not event.routing_key:
        return None
    return _typed_read(event)


def _typed_extra(event: TypedEvent, raw: TypedPayload) -> dict[str, object]:
    """The fields of a typed event kept in its details."""
    extra: dict[str, object] = {
        name: value
        for name in ("images", "client", "client_url")
        if (value := getattr(event, name)) is not UNSET
    }
    if raw.custom_details is not UNSET:
        extra["payload"] = {"custom_details": raw.custom_details}
    return extra
