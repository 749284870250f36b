"""CloudWatch alarms delivered by an SNS HTTP(S) subscription, as signals.

The body is the SNS envelope; its ``Type`` decides:

- ``SubscriptionConfirmation`` / ``UnsubscribeConfirmation`` → ``Control`` (the API confirms by
  visiting ``SubscribeURL``; verifying the SNS signature is the API's job too).
- ``Notification`` → the alarm, a JSON *string* in ``Message``. A body that is the alarm itself
  (raw message delivery) is accepted as well.

Alarm mapping: ``NewStateValue`` ALARM → trigger, OK → resolve, INSUFFICIENT_DATA as the
ruleset says (by default ignored: ``Normalized(signals=(), skipped=...)``). The dedup key is
``AlarmArn`` (hashed when longer than the limit), else a hash of ``AWSAccountId``, ``Region``
and ``AlarmName``. ``occurred_at`` is ``StateChangeTime``. CloudWatch has no severity, so it is
the ruleset's default. The summary is ``AlarmName: NewStateReason``. Labels: ``alertname``
(the alarm name, so the default key labels apply), ``aws_account_id``, ``region``,
``namespace``, ``metric_name``; ``service`` is the metric namespace. The alarm's other fields
and the SNS message's (``MessageId``, ``TopicArn``, ``Subject``, ``Timestamp`` …) are kept in
``details``; the SNS signature fields and ``UnsubscribeURL`` (which lets anyone holding it
unsubscribe) are not.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from helios.domain import identity
from helios.domain.normalize import (
    Control,
    FieldError,
    JsonDecoder,
    Normalized,
    NormalizeResult,
)
from helios.domain.normalize import common as check
from helios.domain.ruleset import CloudWatchInsufficientData, Ruleset
from helios.domain.timestamps import TimestampError
from helios.domain.values import Action, Envelope

_STATES = {"ALARM": Action.TRIGGER, "OK": Action.RESOLVE}
_INSUFFICIENT_DATA = {
    CloudWatchInsufficientData.TRIGGER: Action.TRIGGER,
    CloudWatchInsufficientData.RESOLVE: Action.RESOLVE,
}
_CONTROL_KINDS = {
    "SubscriptionConfirmation": "sns.subscription_confirmation",
    "UnsubscribeConfirmation": "sns.unsubscribe_confirmation",
}
_SNS_OMITTED = frozenset(
    {"Type", "Message", "Signature", "SignatureVersion", "SigningCertURL", "UnsubscribeURL"}
)
_ALARM_MAPPED = frozenset({"AlarmName", "NewStateValue", "StateChangeTime", "AWSAccountId"})


def normalize_cloudwatch(
    envelope: Envelope, ruleset: Ruleset, document: check.JsonObject, decode: JsonDecoder
) -> NormalizeResult:
    """An SNS message as a channel control, or its CloudWatch alarm as a signal."""
    errors: check.Errors = []
    kind = check.text(document, "Type", "Type", errors)
    if kind is None and not errors and "AlarmName" in document:
        return _alarm(envelope, ruleset, document, sns={}, path="", errors=errors)
    if kind in _CONTROL_KINDS:
        url = check.text(document, "SubscribeURL", "SubscribeURL", errors, required=True)
        topic = check.text(document, "TopicArn", "TopicArn", errors)
        message_id = check.text(document, "MessageId", "MessageId", errors)
        if errors:
            return check.rejected("SNS message", errors)
        return Control(
            kind=_CONTROL_KINDS[kind],
            topic=topic or "",
            confirm_url=url or "",
            message_id=message_id or "",
        )
    if kind != "Notification":
        if not errors:
            problem = "is required" if kind is None else f"unknown SNS message type {kind[:80]!r}"
            errors.append(FieldError(field="Type", message=problem))
        return check.rejected("SNS message", errors)
    message = check.text(document, "Message", "Message", errors, required=True)
    if errors or message is None:
        return check.rejected("SNS message", errors)
    alarm = check.decode_object(message.encode("utf-8"), decode, field="Message", errors=errors)
    sns = {k: v for k, v in document.items() if k not in _SNS_OMITTED}
    return _alarm(envelope, ruleset, alarm, sns=sns, path="Message.", errors=errors)


def _alarm(
    envelope: Envelope,
    ruleset: Ruleset,
    alarm: check.JsonObject,
    *,
    sns: check.JsonObject,
    path: str,
    errors: check.Errors,
) -> NormalizeResult:
    if errors:
        return check.rejected("CloudWatch alarm", errors)
    notes: check.Notes = []
    name = check.text(alarm, "AlarmName", f"{path}AlarmName", errors, required=True) or ""
    state = check.text(alarm, "NewStateValue", f"{path}NewStateValue", errors, required=True)
    action = _STATES.get(state or "")
    if state == "INSUFFICIENT_DATA":
        action = _INSUFFICIENT_DATA.get(ruleset.cloudwatch_insufficient_data)
        if action is None:
            return Normalized(
                signals=(),
                skipped=(
                    FieldError(
                        field=f"{path}NewStateValue",
                        message="INSUFFICIENT_DATA is ignored by the ruleset",
                    ),
                ),
            )
    elif state and action is None:
        errors.append(
            FieldError(
                field=f"{path}NewStateValue", message="must be ALARM, OK or INSUFFICIENT_DATA"
            )
        )
    reason = check.text(alarm, "NewStateReason", f"{path}NewStateReason", errors)
    at = check.timestamp(alarm, "StateChangeTime", f"{path}StateChangeTime", errors)
    arn = check.text(alarm, "AlarmArn", f"{path}AlarmArn", errors)
    account = check.text(alarm, "AWSAccountId", f"{path}AWSAccountId", errors) or ""
    region = check.text(alarm, "Region", f"{path}Region", errors) or ""
    trigger = check.mapping(alarm, "Trigger", f"{path}Trigger", errors) or {}
    namespace = check.text(trigger, "Namespace", f"{path}Trigger.Namespace", errors) or ""
    metric = check.text(trigger, "MetricName", f"{path}Trigger.MetricName", errors) or ""
    candidates = (
        ("alertname", name),
        ("aws_account_id", account),
        ("region", region),
        ("namespace", namespace),
        ("metric_name", metric),
    )
    labels = check.labels_from(
        {key: value for key, value in candidates if value}, f"{path}labels", errors
    )
    if arn and len(arn) > check.MAX_DEDUP_KEY_CHARS:
        key = "cw-" + identity.stable_hash(arn)
    else:
        key = arn or "cw-" + identity.stable_hash(account, region, name)
    extra: check.JsonObject = {k: v for k, v in alarm.items() if k not in _ALARM_MAPPED}
    details = check.details(
        {"alarm": extra, "sns": sns} if sns else {"alarm": extra}, path or "body", errors
    )
    if errors or action is None:
        return check.rejected("CloudWatch alarm", errors)
    headline = f"{name}: {reason}" if reason else name
    return Normalized(
        signals=(
            check.assemble(
                envelope=envelope,
                dedup_key=key,
                action=action,
                severity=check.severity(None, ruleset, "severity", notes),
                summary=check.summary(headline, notes),
                occurred_at=check.occurred_at(
                    at, envelope.received_at, ruleset, f"{path}StateChangeTime", notes
                ),
                labels=labels,
                service=namespace,
                details=details,
                notes=notes,
            ),
        )
    )


# -- typed decoding ---------------------------------------------------------------------------
# An SNS notification of known fields whose message is a CloudWatch alarm of known fields (as
# CloudWatch writes them for a single-metric alarm) decodes straight into these structs and maps
# to the same signal. Subscription handshakes, raw message delivery, metric-math alarms and any
# other body go through the checks.


class TypedTrigger(msgspec.Struct, forbid_unknown_fields=True):
    """``Trigger`` of a single-metric alarm."""

    MetricName: str | UnsetType = UNSET
    Namespace: str | UnsetType = UNSET
    StatisticType: str | UnsetType = UNSET
    Statistic: str | UnsetType = UNSET
    ExtendedStatistic: str | UnsetType = UNSET
    Unit: str | UnsetType | None = UNSET
    Dimensions: list[dict[str, str]] | UnsetType = UNSET
    Period: check.Int64 | UnsetType = UNSET
    EvaluationPeriods: check.Int64 | UnsetType = UNSET
    DatapointsToAlarm: check.Int64 | UnsetType = UNSET
    ComparisonOperator: str | UnsetType = UNSET
    Threshold: check.Int64 | float | UnsetType = UNSET
    TreatMissingData: str | UnsetType = UNSET
    EvaluateLowSampleCountPercentile: str | UnsetType = UNSET


class TypedAlarm(msgspec.Struct, forbid_unknown_fields=True):
    """The CloudWatch alarm in an SNS notification's ``Message``."""

    AlarmName: str
    NewStateValue: str
    AlarmDescription: str | UnsetType | None = UNSET
    AWSAccountId: str | UnsetType = UNSET
    AlarmConfigurationUpdatedTimestamp: str | UnsetType = UNSET
    NewStateReason: str | UnsetType = UNSET
    StateChangeTime: str | UnsetType = UNSET
    Region: str | UnsetType = UNSET
    AlarmArn: str | UnsetType = UNSET
    OldStateValue: str | UnsetType = UNSET
    OKActions: list[str] | UnsetType = UNSET
    AlarmActions: list[str] | UnsetType = UNSET
    InsufficientDataActions: list[str] | UnsetType = UNSET
    Trigger: TypedTrigger | UnsetType = UNSET


class TypedNotification(msgspec.Struct, forbid_unknown_fields=True):
    """An SNS message; only a ``Notification`` takes the typed path."""

    Type: str
    Message: str
    MessageId: str | UnsetType = UNSET
    TopicArn: str | UnsetType = UNSET
    Subject: str | UnsetType = UNSET
    Timestamp: str | UnsetType = UNSET
    SignatureVersion: str | UnsetType = UNSET
    Signature: str | UnsetType = UNSET
    SigningCertURL: str | UnsetType = UNSET
    UnsubscribeURL: str | UnsetType = UNSET


_NOTIFICATION = msgspec.json.Decoder(TypedNotification)
_ALARM = msgspec.json.Decoder(TypedAlarm)
_SNS_KEPT = tuple(name for name in TypedNotification.__struct_fields__ if name not in _SNS_OMITTED)


def typed_cloudwatch(envelope: Envelope, ruleset: Ruleset, version: int) -> NormalizeResult | None:
    """``normalize_cloudwatch`` of a well-formed alarm notification by typed decoding; None
    when the body is not one, or when a field check fails (the field checks then name every
    bad field)."""
    del version  # no version changed this mapping
    notification = check.decode_typed(envelope.body, _NOTIFICATION)
    if notification is None or notification.Type != "Notification":
        return None
    alarm = check.decode_typed(notification.Message.encode("utf-8"), _ALARM)
    if alarm is None or not alarm.AlarmName:
        return None
    state = alarm.NewStateValue
    action = _STATES.get(state)
    if state == "INSUFFICIENT_DATA":
        action = _INSUFFICIENT_DATA.get(ruleset.cloudwatch_insufficient_data)
        if action is None:
            return Normalized(
                signals=(),
                skipped=(
                    FieldError(
                        field="Message.NewStateValue",
                        message="INSUFFICIENT_DATA is ignored by the ruleset",
                    ),
                ),
            )
    if action is None:
        return None
    at = None
    if alarm.StateChangeTime:
        try:
            at = check.parse_time(alarm.StateChangeTime)
        except TimestampError:
            return None
    name = alarm.AlarmName
    account = alarm.AWSAccountId or ""
    region = alarm.Region or ""
    trigger = alarm.Trigger or TypedTrigger()
    namespace = trigger.Namespace or ""
    candidates = (
        ("alertname", name),
        ("aws_account_id", account),
        ("region", region),
        ("namespace", namespace),
        ("metric_name", trigger.MetricName or ""),
    )
    labels = check.typed_labels({key: value for key, value in candidates if value})
    if labels is None:
        return None
    arn = alarm.AlarmArn or ""
    if len(arn) > check.MAX_DEDUP_KEY_CHARS:
        key = "cw-" + identity.stable_hash(arn)
    else:
        key = arn or "cw-" + identity.stable_hash(account, region, name)
    kept: dict[str, Any] = msgspec.to_builtins(alarm)
    extra = {k: v for k, v in kept.items() if k not in _ALARM_MAPPED}
    sns = {name: value for name in _SNS_KEPT if (value := getattr(notification, name)) is not UNSET}
    details = check.typed_details({"alarm": extra, "sns": sns} if sns else {"alarm": extra})
    if details is None:
        return None
    reason = alarm.NewStateReason
    headline = f"{name}: {reason}" if reason else name
    notes: check.Notes = []
    return Normalized(
        signals=(
            check.assemble(
                envelope=envelope,
                dedup_key=key,
                action=action,
                severity=check.severity(None, ruleset, "severity", notes),
                summary=check.summary(headline, notes),
                occurred_at=check.occurred_at(
                    at, envelope.received_at, ruleset, "Message.StateChangeTime", notes
                ),
                labels=labels,
                service=namespace,
                details=details,
                notes=notes,
            ),
        )
    )
