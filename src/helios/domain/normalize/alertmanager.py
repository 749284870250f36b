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

from typing import Any

import attrs
import msgspec
from msgspec import UNSET, UnsetType

from helios.domain import identity
from helios.domain.normalize import FieldError, JsonDecoder, Normalized, NormalizeResult
from helios.domain.normalize import common as check
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import TimestampError, parse_rfc3339
from helios.domain.values import Action, Envelope, Link, Signal

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


@attrs.frozen
class TypedWebhookSource:
    """How a source's Alertmanager-shaped webhook is decoded and mapped."""

    decoder: msgspec.json.Decoder[AlertmanagerWebhook]
    alert_links: tuple[tuple[str, str], ...]
    """Alert fields that are links, with the text each link gets."""
    external_link_text: str
    """The text of the group's ``externalURL`` link."""
    group_kept: tuple[str, ...]
    """The group's fields kept in details (all but alerts, commonLabels, commonAnnotations)."""
    alert_kept: tuple[str, ...]
    """The alert's fields kept in details (all that are neither mapped nor links)."""


def typed_webhook_source(
    webhook: type[AlertmanagerWebhook],
    alert: type[AlertmanagerAlert],
    *,
    alert_links: tuple[tuple[str, str], ...],
    external_link_text: str,
) -> TypedWebhookSource:
    """The typed mapping of a webhook whose structs are ``webhook`` and ``alert``."""
    unmapped = _ALERT_MAPPED.union(name for name, _ in alert_links)
    return TypedWebhookSource(
        decoder=msgspec.json.Decoder(webhook),
        alert_links=alert_links,
        external_link_text=external_link_text,
        group_kept=tuple(name for name in webhook.__struct_fields__ if name not in _GROUP_OMITTED),
        alert_kept=tuple(name for name in alert.__struct_fields__ if name not in unmapped),
    )


_ANNOTATIONS_ONLY = ("annotations",)
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


def typed_webhook(
    envelope: Envelope, ruleset: Ruleset, source: TypedWebhookSource
) -> NormalizeResult | None:
    """``normalize_webhook`` of a well-formed webhook; None when the body is not one, or when
    any field check fails (the field checks then name every bad field)."""
    webhook = check.decode_typed(envelope.body, source.decoder)
    if webhook is None:
        return None
    group_status = webhook.status or ""
    external_url = webhook.externalURL
    group_links = (check.link(external_url, source.external_link_text),) if external_url else ()
    group = check.canonical_json(
        {
            name: value
            for name in source.group_kept
            if (value := getattr(webhook, name)) is not UNSET
        }
    )
    signals: list[Signal] = []
    for index, alert in enumerate(webhook.alerts):
        signal = _typed_alert_signal(
            envelope,
            ruleset,
            alert,
            index=index,
            group_status=group_status,
            group=group,
            kept=source.alert_kept,
            links=(*_typed_alert_links(alert, source.alert_links), *group_links),
        )
        if signal is None:
            return None
        signals.append(signal)
    return Normalized(signals=tuple(signals))


def _typed_alert_signal(  # noqa: PLR0912
    envelope: Envelope,
    ruleset: Ruleset,
    alert: AlertmanagerAlert,
    *,
    index: int,
    group_status: str,
    group: bytes,
    kept: tuple[str, ...],
    links: tuple[Link, ...],
) -> Signal | None:
    """The signal of a typed alert; None if a field check fails. Each check is the one
    ``_alert_signal`` makes, without naming the field (the field checks will)."""
    action = _ACTIONS.get(alert.status or group_status)
    if action is None:
        return None
    raw_labels = alert.labels or {}
    labels = check.typed_labels(raw_labels)
    if labels is None:
        return None
    fingerprint = alert.fingerprint
    if fingerprint and len(fingerprint) > check.MAX_DEDUP_KEY_CHARS:
        return None
    raw_time = alert.endsAt if action is Action.RESOLVE else alert.startsAt
    at = None
    if raw_time:
        try:
            at = check.parse_time(raw_time)
        except TimestampError:
            return None
        if at == _GO_ZERO_TIME:
            at = None
    if kept == _ANNOTATIONS_ONLY:
        # Alertmanager's alerts keep their annotations alone (a Grafana alert keeps more).
        extra: dict[str, Any] = (
            {} if alert.annotations is UNSET else {"annotations": alert.annotations}
        )
    else:
        extra = {name: value for name in kept if (value := getattr(alert, name)) is not UNSET}
    if extra.get("values", UNSET) is UNSET:
        extra["group"] = msgspec.Raw(group)
        details = check.canonical_json(extra).decode("utf-8")
    else:
        # Grafana's values may be floats, whose text only the json module writes as before.
        errors: check.Errors = []
        details = check.details_with(
            extra, key="group", rendered=group.decode("utf-8"), field="", errors=errors
        )
        if errors:
            return None
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
        severity = check.severity(raw_severity, ruleset, f"alerts[{index}].labels.severity", notes)
    # Notes in the order the field checks write them: severity, summary, time.
    summary = check.summary(headline, notes)
    received_at = envelope.received_at
    if at is None or at - received_at > ruleset.skew_tolerance_ms:
        time_field = "endsAt" if action is Action.RESOLVE else "startsAt"
        at = check.occurred_at(at, received_at, ruleset, f"alerts[{index}].{time_field}", notes)
    return check.assemble(
        envelope=envelope,
        dedup_key=fingerprint or identity.labels_dedup_key(labels, ruleset.key_labels),
        action=action,
        severity=severity,
        summary=summary,
        occurred_at=at,
        labels=labels,
        service=raw_labels.get("service") or raw_labels.get("job", ""),
        component=raw_labels.get("component", ""),
        links=links,
        details=details,
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
