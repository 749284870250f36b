"""Request checks: is the body the document its endpoint expects, field by field?

Two steps. The shape checks (``check_pagerduty``, ``check_source``) follow what each sender
expects to be told: PagerDuty's checks follow what PagerDuty itself refuses, so a client gets
the same 400 for the same mistake. Then ``check_normalizes`` runs the worker's own normalizer
on the envelope about to be enqueued, so that every field-level limit (label names and values,
timestamps, dedup keys …) has one definition and a body the worker would quarantine for a
field is answered 400 instead of 202. Neither step applies a business rule: the normalizer is
pure, and run as a check, which keeps only whether and why it refuses.
"""

from __future__ import annotations

from typing import Any

import orjson

from helios.apps.http.bodies import refuse_deep_json
from helios.apps.http.errors import InvalidBody
from helios.domain.normalize import FieldError, rejection
from helios.domain.normalize.common import MAX_DEDUP_KEY_CHARS
from helios.domain.ruleset import CloudWatchInsufficientData, Ruleset
from helios.domain.timestamps import TimestampError, parse_rfc3339
from helios.domain.values import Action, Envelope, Severity, SourceKind

PD_ACTIONS = tuple(action.value for action in Action)
PD_SEVERITIES = tuple(severity.value for severity in Severity)
_SNS_COMMON = ("MessageId", "TopicArn", "Timestamp", "SignatureVersion", "Signature")
_SNS_TYPES = {
    "Notification": ("Message", "SigningCertURL"),
    "SubscriptionConfirmation": ("Message", "SigningCertURL", "SubscribeURL", "Token"),
    "UnsubscribeConfirmation": ("Message", "SigningCertURL", "SubscribeURL", "Token"),
}
MAX_FIELD_ERRORS = 20
"""Field errors named in one answer: enough to act on; a huge broken batch must not make a
huge answer."""

EDGE_RULESET = Ruleset(cloudwatch_insufficient_data=CloudWatchInsufficientData.TRIGGER)
"""The rules the edge normalizes with. The worker uses the tenant's ruleset, which the edge
does not load (and which may change before the worker runs); only one of its fields decides
whether a field can be rejected: a CloudWatch ``INSUFFICIENT_DATA`` alarm that the ruleset
ignores is skipped before its other fields are read. Mapping it to a signal, as here, reads
every field, so a body accepted under these rules is accepted under any ruleset."""


def decode_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object.

    Raises:
        InvalidBody: not UTF-8 JSON, nested too deeply, or not an object.
    """
    refuse_deep_json(body)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidBody(
            "The body is not valid JSON",
            errors=(FieldError(field="body", message=f"is not valid JSON: {error}"),),
        ) from None
    if not isinstance(document, dict):
        raise InvalidBody(
            "The body must be a JSON object",
            errors=(FieldError(field="body", message="must be a JSON object"),),
        )
    return document


def check_pagerduty(document: dict[str, Any]) -> None:
    """Refuse an Events API v2 event PagerDuty would refuse.

    Raises:
        InvalidBody: naming every bad field.
    """
    errors: list[FieldError] = []
    _text(document, "routing_key", "routing_key", errors, required=True)
    action = _text(document, "event_action", "event_action", errors, required=True)
    if action and action not in PD_ACTIONS:
        errors.append(
            FieldError(
                field="event_action", message=f"is invalid (must be one of {', '.join(PD_ACTIONS)})"
            )
        )
    dedup_key = _text(document, "dedup_key", "dedup_key", errors, required=action in PD_ACTIONS[1:])
    if dedup_key and len(dedup_key) > MAX_DEDUP_KEY_CHARS:
        errors.append(
            FieldError(field="dedup_key", message=f"must be at most {MAX_DEDUP_KEY_CHARS} chars")
        )
    if action == Action.TRIGGER.value:
        payload = document.get("payload")
        if not isinstance(payload, dict):
            errors.append(FieldError(field="payload", message="is missing or not an object"))
        else:
            _trigger_payload(payload, errors)
    _arrays(document, errors)
    if errors:
        raise InvalidBody("Event object is invalid", errors=errors)


def check_pagerduty_change(document: dict[str, Any]) -> None:
    """Refuse a change event (``/v2/change/enqueue``) PagerDuty would refuse.

    Raises:
        InvalidBody: naming every bad field.
    """
    errors: list[FieldError] = []
    _text(document, "routing_key", "routing_key", errors, required=True)
    payload = document.get("payload")
    if not isinstance(payload, dict):
        errors.append(FieldError(field="payload", message="is missing or not an object"))
    else:
        _text(payload, "summary", "payload.summary", errors, required=True)
        _text(payload, "source", "payload.source", errors)
        _timestamp(payload, errors)
        _custom_details(payload, errors)
    _arrays(document, errors)
    if errors:
        raise InvalidBody("Event object is invalid", errors=errors)


def _trigger_payload(payload: dict[str, Any], errors: list[FieldError]) -> None:
    _text(payload, "summary", "payload.summary", errors, required=True)
    _text(payload, "source", "payload.source", errors, required=True)
    severity = _text(payload, "severity", "payload.severity", errors, required=True)
    if severity and severity not in PD_SEVERITIES:
        errors.append(
            FieldError(
                field="payload.severity",
                message=f"is invalid (must be one of {', '.join(PD_SEVERITIES)})",
            )
        )
    _timestamp(payload, errors)
    for name in ("component", "group", "class"):
        _text(payload, name, f"payload.{name}", errors)
    _custom_details(payload, errors)


def _custom_details(payload: dict[str, Any], errors: list[FieldError]) -> None:
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict | str | list):
        errors.append(FieldError(field="payload.custom_details", message="must be an object"))


def _timestamp(payload: dict[str, Any], errors: list[FieldError]) -> None:
    stamp = _text(payload, "timestamp", "payload.timestamp", errors)
    if stamp:
        try:
            parse_rfc3339(stamp)
        except TimestampError:
            errors.append(FieldError(field="payload.timestamp", message="is not an ISO 8601 time"))


def _arrays(document: dict[str, Any], errors: list[FieldError]) -> None:
    for name in ("links", "images"):
        value = document.get(name)
        if value is not None and not isinstance(value, list):
            errors.append(FieldError(field=name, message="must be an array"))


def check_normalizes(envelope: Envelope) -> None:
    """Refuse an envelope the worker's normalizer would quarantine for a field-level reason.

    ``envelope`` must be the one that will be enqueued (same body, source, ``received_at`` and
    headers); normalization is pure, so the worker's result differs only by the ruleset, and
    ``EDGE_RULESET`` rejects whatever any ruleset rejects. ``orjson`` decodes, as in the worker.
    Only the refusal is wanted: ``rejection`` finds it without making the signals of a body
    it accepts.

    Raises:
        InvalidBody: naming the normalizer's field errors (at most ``MAX_FIELD_ERRORS``).
    """
    result = rejection(envelope, EDGE_RULESET, decode=orjson.loads)
    if result is not None:
        shown = result.errors[:MAX_FIELD_ERRORS]
        more = len(result.errors) - len(shown)
        detail = result.reason + (f" (the first {len(shown)} are named)" if more else "")
        raise InvalidBody(detail[:1].upper() + detail[1:], errors=shown)


def check_source(source: SourceKind, document: dict[str, Any]) -> None:  # noqa: PLR0912
    """Refuse a body that is not the document its source sends.

    Raises:
        InvalidBody: naming every bad field.
    """
    errors: list[FieldError] = []
    match source:
        case SourceKind.ALERTMANAGER | SourceKind.GRAFANA:
            _alerts(document, errors)
        case SourceKind.GENERIC:
            action = _text(document, "action", "action", errors, required=True)
            if action and action not in PD_ACTIONS:
                errors.append(
                    FieldError(field="action", message="must be trigger, acknowledge or resolve")
                )
            for name in ("labels", "details"):
                value = document.get(name)
                if value is not None and not isinstance(value, dict):
                    errors.append(FieldError(field=name, message="must be an object"))
        case SourceKind.CLOUDWATCH:
            if document.get("Type") is None and "AlarmName" in document:
                errors.append(
                    FieldError(
                        field="Type",
                        message="is required: SNS raw message delivery cannot be authenticated,"
                        " turn it off on the subscription",
                    )
                )
            elif (kind := _text(document, "Type", "Type", errors, required=True)) is None:
                pass
            elif kind not in _SNS_TYPES:
                errors.append(FieldError(field="Type", message=f"unknown SNS message type {kind}"))
            else:
                for name in (*_SNS_COMMON, *_SNS_TYPES[kind]):
                    _text(document, name, name, errors, required=True)
        case _:
            errors.append(FieldError(field="source", message=f"{source.value} is not ingested"))
    if errors:
        raise InvalidBody("The body does not have the expected shape", errors=errors)


_ALERT_STATUSES = ("firing", "resolved")


def _alerts(document: dict[str, Any], errors: list[FieldError]) -> None:
    alerts = document.get("alerts")
    if not isinstance(alerts, list):
        errors.append(FieldError(field="alerts", message="is required and must be an array"))
        return
    for index, alert in enumerate(alerts):
        if (
            type(alert) is dict
            and type(alert.get("labels")) is dict
            and alert.get("status") in _ALERT_STATUSES
        ):
            continue  # nothing to name: no field path made (every accepted alert comes here)
        path = f"alerts[{index}]"
        if not isinstance(alert, dict):
            errors.append(FieldError(field=path, message="must be an object"))
            continue
        labels = alert.get("labels")
        if not isinstance(labels, dict):
            errors.append(FieldError(field=f"{path}.labels", message="must be an object"))
        status = _text(alert, "status", f"{path}.status", errors, required=True)
        if status and status not in _ALERT_STATUSES:
            errors.append(FieldError(field=f"{path}.status", message="must be firing or resolved"))
        if len(errors) >= MAX_FIELD_ERRORS:
            return


def _text(
    obj: dict[str, Any], key: str, field: str, errors: list[FieldError], *, required: bool = False
) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        if required:
            errors.append(FieldError(field=field, message="is missing or blank"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field=field, message="must be a string"))
        return None
    return value
