"""Prometheus Alertmanager webhooks (version "4") as signals: one signal per alert.

Mapping of each ``alerts[i]``:

- ``status`` firing → trigger, resolved → resolve (the group's ``status`` when the alert has
  none).
- ``occurred_at`` is ``startsAt`` when firing and ``endsAt`` when resolved; Go's zero time
  ``0001-01-01T00:00:00Z`` means unset and falls back to ``received_at`` (noted).
- dedup key: ``fingerprint`` when present, else the hash of the ruleset's key labels. Both
  members of an HA pair compute the same fingerprint, so their copies are one signal.
- ``labels`` are the alert's labels; severity is ``labels.severity`` through the ruleset's
  table; ``service`` is ``labels.service``, else ``labels.job``; ``component`` is
  ``labels.component``.
- summary: ``annotations.summary``, else ``annotations.description``, else
  ``labels.alertname``.
- links: ``generatorURL`` and the group's ``externalURL``.
- details: the annotations and the alert's other fields, and under ``group`` the group's
  fields (``groupKey``, ``receiver``, ``truncatedAlerts``, ``groupLabels``, and fields added
  by later versions such as ``notification_reason`` or ``routeLabels``). ``commonLabels`` and
  ``commonAnnotations`` are left out: every alert carries its own labels and annotations.

The envelope is normalized as a whole: one invalid alert rejects the batch, naming its fields,
so the quarantined envelope can be re-driven after a fix without half of it having been
applied. A batch with no alerts is ``Normalized(signals=())``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs
import msgspec
from msgspec import UNSET, UnsetType

from helios.domain import identity
from helios.domain.normalize import FieldError, JsonDecoder, Normalized, NormalizeResult
from helios.domain.normalize import common as check
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import TimestampError, parse_rfc3339
from helios.domain.values import Action, Envelope, Labels, Link, Millis, Severity, Signal

_ACTIONS = {"firing": Action.TRIGGER, "resolved": Action.RESOLVE}
_GO_ZERO_TIME = parse_rfc3339("0001-01-01T00:00:00Z")
_GROUP_OMITTED = frozenset({"alerts", "commonLabels", "commonAnnotations"})
# endsAt of a firing alert is only Alertmanager's guess of when it expires: neither checked
# nor kept.
_ALERT_MAPPED = frozenset({"status", "labels", "startsAt", "endsAt", "fingerprint"})

ALERTMANAGER_LINKS: tuple[tuple[str, str], ...] = (("generatorURL", "Source"),)
"""Alert fields that are links, with the text each link gets."""


def normalize_alertmanager(
    envelope: Envelope, ruleset: Ruleset, document: check.JsonObject, decode: JsonDecoder
) -> NormalizeResult:
    """Each alert of an Alertmanager webhook as a signal, or a rejection of the batch."""
    del decode  # the webhook is one JSON document: nothing nested to decode
    return normalize_webhook(
        envelope,
        ruleset,
        document,
        alert_links=ALERTMANAGER_LINKS,
        external_link_text="Alertmanager",
    )


def normalize_webhook(
    envelope: Envelope,
    ruleset: Ruleset,
    document: check.JsonObject,
    *,
    alert_links: tuple[tuple[str, str], ...],
    external_link_text: str,
) -> NormalizeResult:
    """The Alertmanager-shaped webhook shared with Grafana: one signal per ``alerts[i]``.

    ``alert_links`` names the alert fields that are links (with their text);
    ``external_link_text`` is the text of the group's ``externalURL`` link.
    """
    errors: check.Errors = []
    alerts = document.get("alerts")
    if not isinstance(alerts, list):
        message = "is required" if alerts is None else "must be a list"
        return check.rejected(
            f"{envelope.source.value} webhook", [FieldError(field="alerts", message=message)]
        )
    group_status = check.text(document, "status", "status", errors)
    external_url = check.text(document, "externalURL", "externalURL", errors)
    group_links = (Link(href=external_url, text=external_link_text),) if external_url else ()
    alert_mapped = _ALERT_MAPPED.union(name for name, _ in alert_links)
    group = check.details(
        {k: v for k, v in document.items() if k not in _GROUP_OMITTED}, "body", errors
    )
    signals: list[Signal] = []
    for index, alert in enumerate(alerts):
        path = f"alerts[{index}]"
        if not isinstance(alert, dict):
            errors.append(FieldError(field=path, message="must be an object"))
            continue
        signal = _alert_signal(
            envelope,
            ruleset,
            alert,
            path=path,
            group_status=group_status,
            group=group,
            mapped=alert_mapped,
            links=(*_alert_links(alert, path, alert_links, errors), *group_links),
            errors=errors,
        )
        if signal is not None:
            signals.append(signal)
    if errors:
        return check.rejected(f"{envelope.source.value} webhook", errors)
    return Normalized(signals=tuple(signals))


def _alert_signal(
    envelope: Envelope,
    ruleset: Ruleset,
    alert: check.JsonObject,
    *,
    path: str,
    group_status: str | None,
    group: str,
    mapped: frozenset[str],
    links: tuple[Link, ...],
    errors: check.Errors,
) -> Signal | None:
    errors_before = len(errors)
    notes: check.Notes = []
    status = check.text(alert, "status", f"{path}.status", errors) or group_status
    action = _ACTIONS.get(status or "")
    if action is None:
        message = "is required" if not status else "must be firing or resolved"
        errors.append(FieldError(field=f"{path}.status", message=message))
    raw_labels = check.mapping(alert, "labels", f"{path}.labels", errors) or {}
    labels = check.labels_from(raw_labels, f"{path}.labels", errors)
    annotations = check.mapping(alert, "annotations", f"{path}.annotations", errors) or {}
    headline = (
        check.text(annotations, "summary", f"{path}.annotations.summary", errors)
        or check.text(annotations, "description", f"{path}.annotations.description", errors)
        or _label(raw_labels, "alertname")
    )
    time_field = "endsAt" if action is Action.RESOLVE else "startsAt"
    at = check.timestamp(alert, time_field, f"{path}.{time_field}", errors)
    if at == _GO_ZERO_TIME:
        at = None
    fingerprint = check.text(alert, "fingerprint", f"{path}.fingerprint", errors)
    key = check.dedup_key(fingerprint, labels, ruleset, f"{path}.fingerprint", errors)
    extra = {k: v for k, v in alert.items() if k not in mapped}
    details = check.details_with(extra, key="group", rendered=group, field=path, errors=errors)
    if len(errors) > errors_before or action is None:
        return None
    return check.assemble(
        envelope=envelope,
        dedup_key=key,
        action=action,
        severity=check.severity(
            _label(raw_labels, "severity"), ruleset, f"{path}.labels.severity", notes
        ),
        summary=check.summary(headline, notes),
        occurred_at=check.occurred_at(
            at, envelope.received_at, ruleset, f"{path}.{time_field}", notes
        ),
        labels=labels,
        service=_label(raw_labels, "service") or _label(raw_labels, "job"),
        component=_label(raw_labels, "component"),
        links=links,
        details=details,
        notes=notes,
    )


def _alert_links(
    alert: check.JsonObject, path: str, fields: tuple[tuple[str, str], ...], errors: check.Errors
) -> tuple[Link, ...]:
    links: list[Link] = []
    for name, title in fields:
        href = check.text(alert, name, f"{path}.{name}", errors)
        if href:
            links.append(check.link(href, title))
    return tuple(links)


def _label(labels: dict[str, Any], name: str) -> str:
    # Label values are validated separately; a wrong type here is already an error.
    value = labels.get(name)
    return value if isinstance(value, str) else ""


# -- typed decoding ---------------------------------------------------------------------------
# A webhook whose fields are all known and of their documented types decodes straight into
# these structs (in C), and maps to the same signals as the checks above, with the details
# written by msgspec. Any other body (an unknown or null field, a wrong type) fails to decode
# and goes through the checks, which name each bad field.


class AlertmanagerAlert(msgspec.Struct, forbid_unknown_fields=True):
    """One ``alerts[i]`` of an Alertmanager webhook, as it sends it."""

    status: str | UnsetType = UNSET
    labels: dict[str, str] | UnsetType = UNSET
    annotations: dict[str, str] | UnsetType = UNSET
    startsAt: str | UnsetType = UNSET  # the fields are named as in the webhook
    endsAt: str | UnsetType = UNSET
    generatorURL: str | UnsetType = UNSET
    fingerprint: str | UnsetType = UNSET


class AlertmanagerWebhook(msgspec.Struct, forbid_unknown_fields=True):
    """An Alertmanager webhook (version "4"), as it sends it."""

    alerts: list[AlertmanagerAlert]
    version: str | UnsetType = UNSET
    groupKey: str | UnsetType = UNSET
    truncatedAlerts: check.Int64 | UnsetType = UNSET
    status: str | UnsetType = UNSET
    receiver: str | UnsetType = UNSET
    groupLabels: dict[str, str] | UnsetType = UNSET
    commonLabels: dict[str, str] | UnsetType = UNSET
    commonAnnotations: dict[str, str] | UnsetType = UNSET
    externalURL: str | UnsetType = UNSET
    # Added by later versions of Alertmanager.
    notification_reason: str | UnsetType = UNSET
    routeLabels: dict[str, str] | UnsetType = UNSET


class AlertMemo:
    """What each well-formed alert of a source maps to, memoized per ruleset: the same alert
    comes in every batch while it fires (and twice from an HA pair), and maps the same way.

    Keyed on the alert's exact bytes with everything else its mapping reads (the tenant, the
    source, the group's status and externalURL, the ruleset by identity: a ruleset is
    immutable); bounded, in entries, in rulesets and in the size of an alert kept. The group's
    other fields only go into the details, which are spliced around them per batch: the same
    alert in a batch of another group is found in the memo all the same.
    """

    def __init__(self) -> None:
        self._by_ruleset: list[tuple[Ruleset, Callable[..., _Mapped | None]]] = []
        self._batches: list[tuple[Ruleset, Callable[..., tuple[_Prepared, ...] | None]]] = []

    def batch(
        self, source: TypedWebhookSource, ruleset: Ruleset
    ) -> Callable[[bytes, str, str], tuple[_Prepared, ...] | None]:
        """``_prepare_batch`` of a whole body of ``source`` under ``ruleset``, memoized on the
        body's bytes (at most ``_MEMO_MAX_BODY_BYTES``), the tenant and the source: both
        members of an HA pair send the same bytes, and the second copy is then only given its
        envelope's time and integration."""
        known = self._batches
        for held, prepared in known:
            if held is ruleset:
                return prepared
        # Bound positionally: a partial with keywords builds a dict at every call (once per
        # body not seen before).
        prepared = functools.lru_cache(maxsize=_MEMO_BODIES)(
            functools.partial(_prepare_batch, source, ruleset, self.of(source, ruleset))
        )
        # One assignment of a new list: another thread sees the old list or the new one.
        self._batches = [(ruleset, prepared), *known[: _MEMO_RULESETS - 1]]
        return prepared

    def of(self, source: TypedWebhookSource, ruleset: Ruleset) -> Callable[..., _Mapped | None]:
        """``_map_alert`` of an alert of ``source`` under ``ruleset``, memoized: called with
        the alert's bytes (at most ``_MEMO_MAX_ALERT_BYTES``) and ``context``, the tenant, the
        source, and the group's status and externalURL; its facts memoized apart, keyed on its
        fields but its status and times (see ``_written_facts``)."""
        known = self._by_ruleset
        for held, mapping in known:
            if held is ruleset:
                return mapping
        # Two levels: an alert's facts (all but what its status and times give) are found
        # again when the same alert comes back with another status or time.
        facts = functools.lru_cache(maxsize=_MEMO_ALERTS)(
            functools.partial(_facts_of_key, source, ruleset)
        )
        mapping = functools.lru_cache(maxsize=_MEMO_ALERTS)(
            functools.partial(_map_alert, source, ruleset, facts)
        )
        # One assignment of a new list: another thread sees the old list or the new one.
        self._by_ruleset = [(ruleset, mapping), *known[: _MEMO_RULESETS - 1]]
        return mapping


_MEMO_ALERTS = 1024
"""Alerts kept per ruleset: those firing at once come back within it. Kept
small on purpose: what a memo holds is scanned by every full garbage collection, and on the
demo traffic 1024 entries hit nearly as often as 8192."""
_MEMO_RULESETS = 4
_MEMO_MAX_ALERT_BYTES = 8192
_MEMO_BODIES = 64
"""Whole bodies kept per ruleset: the copies of an HA pair arrive within moments."""
_MEMO_MAX_BODY_BYTES = 32 * 1024
"""A larger body is not kept (the memo holds at most 64 of these per ruleset)."""


@attrs.frozen
class TypedWebhookSource:
    """How a source's Alertmanager-shaped webhook is decoded and mapped."""

    decoder: msgspec.json.Decoder[AlertmanagerWebhook]
    alert_links: tuple[tuple[str, str], ...]
    """Alert fields that are links, with the text each link gets."""
    external_link_text: str
    """The text of the group's ``externalURL`` link."""
    alert_kept: tuple[str, ...]
    """The alert's fields kept in details (all that are neither mapped nor links)."""
    raw_decoder: msgspec.json.Decoder[Any]
    """The webhook with each of its alerts left undecoded (``msgspec.Raw``)."""
    alert_decoder: msgspec.json.Decoder[AlertmanagerAlert]
    split_decoder: msgspec.json.Decoder[Any]
    """The alert with its status and times decoded, and every other field left undecoded
    (``msgspec.Raw``): what an alert not seen before is first read with (see
    ``_written_split``)."""
    memo: AlertMemo = attrs.field(factory=AlertMemo, eq=False, repr=False)


def typed_webhook_source(
    webhook: type[AlertmanagerWebhook],
    alert: type[AlertmanagerAlert],
    *,
    alert_links: tuple[tuple[str, str], ...],
    external_link_text: str,
) -> TypedWebhookSource:
    """The typed mapping of a webhook whose structs are ``webhook`` and ``alert``."""
    unmapped = _ALERT_MAPPED.union(name for name, _ in alert_links)
    # The same webhook, its alerts kept as raw JSON: each alert is then decoded on its own,
    # the first time its bytes are seen (a body decodes this way exactly when it decodes
    # whole: the raw alerts are JSON, and each must decode into ``alert``).
    raw_webhook = msgspec.defstruct(
        f"{webhook.__name__}WithRawAlerts",
        [
            (field.name, list[msgspec.Raw] if field.name == "alerts" else field.type, field.default)
            for field in msgspec.structs.fields(webhook)
        ],
        forbid_unknown_fields=True,
    )
    # The alert with only its status and times decoded: its other fields, as sent, are what
    # its facts are found by.
    split_alert = msgspec.defstruct(
        f"{alert.__name__}Split",
        [
            (
                field.name,
                field.type if field.name in _ALERT_TIMED else msgspec.Raw | UnsetType,
                field.default,
            )
            for field in msgspec.structs.fields(alert)
        ],
        forbid_unknown_fields=True,
    )
    return TypedWebhookSource(
        decoder=msgspec.json.Decoder(webhook),
        raw_decoder=msgspec.json.Decoder(raw_webhook),
        alert_decoder=msgspec.json.Decoder(alert),
        split_decoder=msgspec.json.Decoder(split_alert),
        alert_links=alert_links,
        external_link_text=external_link_text,
        alert_kept=tuple(name for name in alert.__struct_fields__ if name not in unmapped),
    )


_ANNOTATIONS_ONLY = ("annotations",)
_ALERT_TIMED = ("status", "startsAt", "endsAt")
"""The fields of an alert its facts are not found by (what its status and times give)."""
_ALERTMANAGER = typed_webhook_source(
    AlertmanagerWebhook,
    AlertmanagerAlert,
    alert_links=ALERTMANAGER_LINKS,
    external_link_text="Alertmanager",
)


def typed_alertmanager(
    envelope: Envelope, ruleset: Ruleset, version: int
) -> NormalizeResult | None:
    """``normalize_alertmanager`` of a well-formed webhook by typed decoding; None when the
    body is not one (the field checks then normalize it)."""
    del version  # no version changed this mapping
    return typed_webhook(envelope, ruleset, _ALERTMANAGER)


def alertmanager_fits(envelope: Envelope, version: int) -> bool:
    """Whether ``typed_alertmanager`` maps the envelope to signals (see ``webhook_fits``)."""
    del version  # no version changed this mapping
    return webhook_fits(envelope.body, _ALERTMANAGER)


def typed_webhook(
    envelope: Envelope, ruleset: Ruleset, source: TypedWebhookSource
) -> NormalizeResult | None:
    """``normalize_webhook`` of a well-formed webhook; None when the body is not one, or when
    any field check fails (the field checks then name every bad field)."""
    body, tenant = envelope.body, envelope.tenant
    kind = envelope.source._value_  # the value, read without the enum's descriptor
    if len(body) <= _MEMO_MAX_BODY_BYTES:
        prepared = source.memo.batch(source, ruleset)(body, tenant, kind)
    else:
        # not kept: the memo stays small
        memo = source.memo.of(source, ruleset)
        prepared = _prepare_batch(source, ruleset, memo, body, tenant, kind)
    if prepared is None:
        return None
    integration, received_at = envelope.integration, envelope.received_at
    latest = received_at + ruleset.skew_tolerance_ms
    # Most deliveries keep each alert's own time and note nothing: their signals are copies
    # of the mapped ones given their details (the test inlined here is the one ``_finished``
    # makes). A loop, then a tuple: a comprehension is a function of its own in this Python,
    # made at every call with cells for the names it shares, and costs more.
    signals: list[Signal] = []
    append = signals.append
    for alert in prepared:
        template = alert.mapped.template
        if template is not None and template.occurred_at <= latest:
            append(
                _replace(
                    template,
                    details=alert.details,
                    integration=integration,
                    received_at=received_at,
                )
            )
        else:
            append(_finished(alert, envelope, ruleset, len(signals)))
    return Normalized(signals=tuple(signals))


_replace = msgspec.structs.replace


def webhook_fits(body: bytes, source: TypedWebhookSource) -> bool:
    """Whether ``typed_webhook`` maps ``body`` to signals, under any ruleset, found without
    mapping it: no ids hashed, no details written, nothing memoized (the API checks each body
    this way before it answers, and throws the result away). False when the body is not a
    well-formed webhook or a field check fails: the field checks then have the last word.

    The ruleset only chooses what a well-formed alert maps to (its severity, its key labels),
    never whether it maps, so the answer holds for every ruleset.
    """
    webhook = check.decode_typed(body, source.decoder)
    if webhook is None:
        return False
    group_status = webhook.status or ""
    keeps_more = source.alert_kept != _ANNOTATIONS_ONLY
    for alert in webhook.alerts:
        if not _alert_fits(alert, group_status):
            return False
        # An Alertmanager alert keeps its annotations alone in its details, strings that
        # always encode; a Grafana alert's values may hold floats, which are checked.
        if keeps_more and _typed_details(_kept_fields(alert, source.alert_kept), "{}") is None:
            return False
    return True


def _alert_fits(alert: AlertmanagerAlert, group_status: str) -> bool:
    """Whether ``_map_alert`` passes the checks it makes of ``alert`` (all but its details)."""
    action = _ACTIONS.get(alert.status or group_status)
    if action is None:
        return False
    if alert.labels and not check.typed_labels_fit(alert.labels):
        return False
    fingerprint = alert.fingerprint
    if fingerprint and len(fingerprint) > check.MAX_DEDUP_KEY_CHARS:
        return False
    return _typed_time(alert.endsAt if action is Action.RESOLVE else alert.startsAt) is not (
        _INVALID_TIME
    )


def _prepare_batch(  # noqa: PLR0917 -- bound positionally by ``AlertMemo.batch``
    source: TypedWebhookSource,
    ruleset: Ruleset,
    memo: Callable[..., _Mapped | None],
    body: bytes,
    tenant: str,
    kind: str,
) -> tuple[_Prepared, ...] | None:
    """Each alert of a webhook body mapped as far as its envelope allows (see ``_Prepared``);
    None when the body is not a well-formed webhook, or a field check fails. ``memo`` is
    ``AlertMemo.of(source, ruleset)``."""
    webhook = check.decode_typed(body, source.raw_decoder)
    if webhook is None:
        return None
    # The group's kept fields are the webhook's but for these three: unset, they are left out
    # (msgspec writes no unset field, and sorts a struct's fields as a dict's keys).
    group = _group_text(
        msgspec.structs.replace(webhook, alerts=UNSET, commonLabels=UNSET, commonAnnotations=UNSET)
    )
    context = (tenant, kind, webhook.status or "", webhook.externalURL or "")
    found: list[_Prepared] = []
    for alert in webhook.alerts:
        raw = bytes(alert)
        if len(raw) <= _MEMO_MAX_ALERT_BYTES:
            mapped = memo(raw, context)
        else:
            # Not kept: the memos stay small.
            facts_of = functools.partial(_facts_of_key, source, ruleset)
            mapped = _map_alert(source, ruleset, facts_of, raw, context)
        if mapped is None:
            return None
        facts = mapped.facts
        if facts.details_head:
            details = f"{facts.details_head}{group}{facts.details_tail}"
        else:
            written = _typed_details(facts.extra, group)
            if written is None:
                return None
            details = written
        found.append(_Prepared(mapped, details))
    return tuple(found)


def _group_text(group: Any) -> str:
    """The canonical JSON of a group's kept fields (``group``, a webhook struct), found again
    by the fields as written in the order they were decoded (a group's fields come back in
    every batch of it): the same text, without sorting its fields and labels again."""
    written: bytes = _FACTS_ENCODER.encode(group)
    text = _GROUP_TEXTS.get(written)
    if text is None:
        text = check.canonical_json(group).decode("utf-8")
        if len(_GROUP_TEXTS) >= _MEMO_GROUPS:
            _GROUP_TEXTS.clear()  # bounded: the groups of the moment come back at once
        _GROUP_TEXTS[written] = text
    return text


_GROUP_TEXTS: dict[bytes, str] = {}
"""The canonical JSON of groups' kept fields by the fields as written (the same values: msgspec
writes each value as it reads back, types included)."""
_MEMO_GROUPS = 256


class _Facts(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What an alert maps to whatever its status and times: what its labels, annotations,
    fingerprint and links give (under a ruleset, with its group's externalURL)."""

    dedup_key: str
    labels: Labels
    severity: Severity
    summary: str
    noted: bool
    """Whether mapping the severity or summary writes a note (then mapped again, the note
    naming the alert's position)."""
    raw_severity: str
    headline: str
    service: str
    component: str
    links: tuple[Link, ...]
    extra: dict[str, Any]
    """The alert's fields kept in details (never changed once mapped)."""
    details_head: str
    """The canonical JSON of ``extra`` up to where the group's fields go (``{...,"group":``),
    and ``details_tail`` what follows them: the details are the two around the group's
    canonical JSON. Empty when the details are written by the json module (a float msgspec
    writes otherwise)."""
    details_tail: str
    signal: Signal
    """The signal of the alert but for its tenant, source, action, time, id, details,
    integration and ``received_at`` (see ``_template``)."""


class _Mapped(msgspec.Struct, frozen=True, gc=False):
    """An alert mapped as far as its envelope's time and position and its group's fields
    allow: what it maps to in every delivery of it (memoized by ``AlertMemo``)."""

    facts: _Facts
    action: Action
    time_field: str
    at: Millis | None
    """The alert's own time (None: unset)."""
    template: Signal | None
    """The signal of a delivery that keeps the alert's own time and notes nothing, but for its
    details, integration and ``received_at`` (None when ``at`` is, or a note is written): its
    id is hashed once, here, as ``check.assemble`` would from the same values."""


class _Prepared(msgspec.Struct, frozen=True, gc=False):
    """An alert of a body mapped as far as its envelope's time and position allow: its
    mapping and its details (its group's fields spliced in), which each delivery's signal is
    given with its integration and ``received_at``, in one copy of the mapped template. A
    struct made positionally (in C): one is made for every alert of a body not seen before."""

    mapped: _Mapped
    details: str


def _map_alert(
    source: TypedWebhookSource,
    ruleset: Ruleset,
    facts_of: Callable[[tuple[bytes, str]], _Facts | None],
    raw: bytes,
    context: tuple[str, str, str, str],
) -> _Mapped | None:
    """What an alert maps to whatever envelope and group bring it (``context``: the tenant,
    the source, the group's status and externalURL), but for its details; None if it does not
    decode into the source's alert, or a field check fails. Each check is the one
    ``_alert_signal`` makes, without naming the field (the field checks will).

    ``facts_of`` is ``_facts_of_key`` of the source and ruleset, memoized or not (an alert too
    large to be kept)."""
    tenant, kind, group_status, external_url = context
    # Only the status and times decoded: any body that decodes whole decodes so (its other
    # fields are any JSON here), and one that does not is refused by its facts.
    split = check.decode_typed(raw, source.split_decoder)
    if split is None:
        return None
    action = _ACTIONS.get(split.status or group_status)
    if action is None:
        return None
    at = _typed_time(split.endsAt if action is Action.RESOLVE else split.startsAt)
    if at is _INVALID_TIME:
        return None
    # The same alert comes back with another status and times (its resolve, its next firing):
    # all else it maps to is found by its other fields, as written.
    written = _written_split(split, len(raw))
    if written is not None:
        facts = facts_of((written, external_url))
    else:
        # Not written as one field after another, each once: decoded whole.
        alert = check.decode_typed(raw, source.alert_decoder)
        if alert is None:
            return None
        written = _written_facts(alert)
        facts = (
            _facts(source, ruleset, alert, external_url)
            if written is None
            else facts_of((written, external_url))
        )
    if facts is None:
        return None
    template = None
    if at is not None and not facts.noted:
        template = _template(tenant, kind, facts, action, at)
    return _Mapped(
        facts, action, "endsAt" if action is Action.RESOLVE else "startsAt", at, template
    )


def _written_split(split: Any, size: int) -> bytes | None:
    """The JSON of an alert but its status and times, from its fields as sent (``split``, of
    the ``size`` bytes sent); None unless the alert was sent as its fields one after another,
    each once, without spaces, its status and times without escapes.

    Found by sizes: the fields but the status and times written back (each as sent, its name
    as the struct's), plus the least each of those three takes, add up to ``size`` exactly
    when nothing else was sent. A field sent twice (whose first value was neither decoded nor
    checked), a space, an escape all take more. Only then do the fields written stand for
    the alert: decoding them decodes the alert but its status and times, its facts found by
    them as by ``_written_facts``."""
    written: bytes = _FACTS_ENCODER.encode(
        _replace(split, status=UNSET, startsAt=UNSET, endsAt=UNSET)
    )
    timed = 0
    # Each adds ``"name":"value"`` and a comma: its name's size and 6, and at least one byte
    # per character of its value.
    if (status := split.status) is not UNSET:
        timed += 12 + len(status)
    if (starts_at := split.startsAt) is not UNSET:
        timed += 14 + len(starts_at)
    if (ends_at := split.endsAt) is not UNSET:
        timed += 12 + len(ends_at)
    if timed and len(written) == _EMPTY_OBJECT_SIZE:
        timed -= 1  # no comma after the last of them
    return written if len(written) + timed == size else None


_EMPTY_OBJECT_SIZE = 2


def _written_facts(alert: AlertmanagerAlert) -> bytes | None:
    """The JSON of an alert but its status and times, what its facts are found by; None when
    it cannot be written (a lone surrogate in a text).

    Type-exact: Grafana's ``values`` are numbers, and ``1`` and ``1.0``, or ``0.0`` and
    ``-0.0``, are equal numbers written apart (in details too), so apart in the memo. Cheaper
    than a key of the fields' values: one copy of the struct and one write, in C, and a hash
    of bytes instead of one per label (the texts are new at every decode)."""
    try:
        return _FACTS_ENCODER.encode(_replace(alert, status=UNSET, startsAt=UNSET, endsAt=UNSET))
    except UnicodeEncodeError:
        return None


_FACTS_ENCODER = msgspec.json.Encoder()
"""Writes the fields in the order they were decoded (labels in another order are another
key, as they are another details text): a float as the shortest text that reads back as it,
so decoding the text gives back the same values, types included."""


def _facts_of_key(
    source: TypedWebhookSource, ruleset: Ruleset, key: tuple[bytes, str]
) -> _Facts | None:
    """``_facts`` of an alert of ``source`` found by ``key``: its ``_written_facts`` and the
    group's externalURL."""
    written, external_url = key
    # Written from the fields as sent: decoding them checks their types.
    alert = check.decode_typed(written, source.alert_decoder)
    return None if alert is None else _facts(source, ruleset, alert, external_url)


def _facts(
    source: TypedWebhookSource, ruleset: Ruleset, alert: AlertmanagerAlert, external_url: str
) -> _Facts | None:
    """What ``alert`` maps to whatever its status and times; None if a field check fails."""
    raw_labels = alert.labels or {}
    labels = check.typed_labels(raw_labels)
    if labels is None:
        return None
    fingerprint = alert.fingerprint
    if fingerprint and len(fingerprint) > check.MAX_DEDUP_KEY_CHARS:
        return None
    # Whether its details can be written is found when they are (``_prepare_batch``).
    extra = _kept_fields(alert, source.alert_kept)
    head, tail = _around_group(extra)
    annotations = alert.annotations or {}
    headline = (
        annotations.get("summary")
        or annotations.get("description")
        or raw_labels.get("alertname", "")
    )
    notes: check.Notes = []
    raw_severity = raw_labels.get("severity", "")
    severity, defaulted = ruleset.map_severity(raw_severity)
    if defaulted:
        severity = check.severity(raw_severity, ruleset, "", notes)
    summary = check.summary(headline, notes)
    external = (check.link(external_url, source.external_link_text),) if external_url else ()
    dedup_key = fingerprint or identity.labels_dedup_key(labels, ruleset.key_labels)
    service = raw_labels.get("service") or raw_labels.get("job", "")
    component = raw_labels.get("component", "")
    links = (*_typed_alert_links(alert, source.alert_links), *external)
    return _Facts(
        dedup_key=dedup_key,
        labels=labels,
        severity=severity,
        summary=summary,
        noted=bool(notes),
        raw_severity=raw_severity,
        headline=headline,
        service=service,
        component=component,
        links=links,
        extra=extra,
        details_head=head,
        details_tail=tail,
        signal=Signal(
            signal_id="",
            tenant="",
            integration="",
            source="",
            dedup_key=dedup_key,
            action=Action.TRIGGER,
            severity=severity,
            summary=summary,
            occurred_at=0,
            received_at=0,
            service=service,
            component=component,
            labels=labels,
            links=links,
        ),
    )


def _template(tenant: str, kind: str, facts: _Facts, action: Action, at: Millis) -> Signal:
    """The signal of an alert of ``facts`` from source ``kind`` of ``tenant``, its ``action``
    at ``at``, but for its details, integration and ``received_at``: the signal
    ``check.assemble`` makes of the same values, id included (a copy of the facts' signal)."""
    return _replace(
        facts.signal,
        action=action,
        occurred_at=at,
        signal_id=identity.observed_signal_id(
            (
                tenant,
                kind,
                facts.dedup_key,
                action.text,
                str(at),
                facts.severity.text,
                facts.summary,
                facts.labels,
            )
        ),
        source=kind,
        tenant=tenant,
    )


_INVALID_TIME = -1 << 80
"""``_typed_time`` of a text that is not a timestamp (no time parses to it)."""


def _typed_time(raw: str | UnsetType) -> Millis | None:
    """The alert time in ``raw``: None when unset (absent, empty, or Go's zero time)."""
    if not raw:
        return None
    try:
        at = check.parse_time(raw)
    except TimestampError:
        return _INVALID_TIME
    return None if at == _GO_ZERO_TIME else at


def _kept_fields(alert: AlertmanagerAlert, kept: tuple[str, ...]) -> dict[str, Any]:
    """The alert's fields kept in its details."""
    if kept == _ANNOTATIONS_ONLY:
        # Alertmanager's alerts keep their annotations alone (a Grafana alert keeps more).
        return {} if alert.annotations is UNSET else {"annotations": alert.annotations}
    return {name: value for name in kept if (value := getattr(alert, name)) is not UNSET}


def _around_group(extra: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON of an alert's kept fields split where its group's fields go (keys
    sort, and no alert field is named "group"): ``{...,"group":`` and ``...}``; two empty
    texts when a value holds a float that only the json module writes as before."""
    if not extra:
        return '{"group":', "}"
    if len(extra) == 1 and "annotations" in extra:
        # An Alertmanager alert's: its annotations alone.
        return (
            f'{{"annotations":{check.canonical_json(extra["annotations"]).decode("utf-8")},"group":',
            "}",
        )
    values = extra.get("values", UNSET)
    if values is not UNSET and check.has_float_written_apart(values):
        return "", ""
    before = {name: value for name, value in extra.items() if name < "group"}
    after = {name: value for name, value in extra.items() if name > "group"}
    head = check.canonical_json(before).decode("utf-8")[:-1] + ("," if before else "")
    tail = "," + check.canonical_json(after).decode("utf-8")[1:] if after else "}"
    return head + '"group":', tail


def _typed_details(extra: dict[str, Any], group: str) -> str | None:
    """The details of an alert's kept fields, its group's spliced in; None when ``details``
    would record an error."""
    values = extra.get("values", UNSET)
    if values is UNSET or not check.has_float_written_apart(values):
        return check.canonical_json({**extra, "group": msgspec.Raw(group)}).decode("utf-8")
    # Grafana's values may hold a float whose text only the json module writes as before.
    errors: check.Errors = []
    details = check.details_with(extra, key="group", rendered=group, field="", errors=errors)
    return None if errors else details


def _finished(prepared: _Prepared, envelope: Envelope, ruleset: Ruleset, index: int) -> Signal:
    """The signal of a prepared alert in ``envelope``, the ``index``-th of its batch."""
    received_at = envelope.received_at
    mapped = prepared.mapped
    template = mapped.template
    if template is not None and template.occurred_at - received_at <= ruleset.skew_tolerance_ms:
        # Nothing noted and the alert's own time kept: the id is the mapped one (what
        # ``check.assemble`` computes from the same values), the signal the mapped one.
        return _replace(
            template,
            details=prepared.details,
            integration=envelope.integration,
            received_at=received_at,
        )
    facts = mapped.facts
    at = mapped.at
    notes: check.Notes = []
    severity, summary = facts.severity, facts.summary
    if facts.noted:
        # Notes in the order the field checks write them: severity, summary, time.
        field = f"alerts[{index}].labels.severity"
        if ruleset.map_severity(facts.raw_severity)[1]:
            severity = check.severity(facts.raw_severity, ruleset, field, notes)
        summary = check.summary(facts.headline, notes)
    if at is None or at - received_at > ruleset.skew_tolerance_ms:
        field = f"alerts[{index}].{mapped.time_field}"
        at = check.occurred_at(at, received_at, ruleset, field, notes)
    return check.assemble(
        envelope=envelope,
        dedup_key=facts.dedup_key,
        action=mapped.action,
        severity=severity,
        summary=summary,
        occurred_at=at,
        labels=facts.labels,
        service=facts.service,
        component=facts.component,
        links=facts.links,
        details=prepared.details,
        notes=notes,
    )


def _typed_alert_links(
    alert: AlertmanagerAlert, fields: tuple[tuple[str, str], ...]
) -> tuple[Link, ...]:
    links: list[Link] = []
    for name, title in fields:
        href = getattr(alert, name)
        if href:
            links.append(check.link(href, title))
    return tuple(links)
