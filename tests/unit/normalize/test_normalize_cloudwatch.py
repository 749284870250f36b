"""CloudWatch alarms over SNS become signals; subscription handshakes become controls."""

from __future__ import annotations

import json

import pytest
from normalize_support import only_signal, rejected_fields

from helios.domain import identity
from helios.domain.normalize import Control, FieldError, Normalized
from helios.domain.ruleset import CloudWatchInsufficientData, Ruleset
from helios.domain.timestamps import parse_rfc3339
from helios.domain.values import Action, Severity, SourceKind

CW = SourceKind.CLOUDWATCH
NOTIFICATION = "examples/sns_cloudwatch_notification.json"
ALARM = "examples/cloudwatch_alarm_message.json"
ARN = "arn:aws:cloudwatch:eu-west-1:210987654321:alarm:checkout-alb-5xx-high"


def _notification(payload_json, **alarm_changes):
    sns = payload_json(NOTIFICATION)
    alarm = json.loads(sns["Message"])
    alarm.update(alarm_changes)
    sns["Message"] = json.dumps(alarm)
    return sns


def test_an_alarm_notification_becomes_a_trigger(run, payload):
    """ALARM triggers, keyed by the alarm ARN, at StateChangeTime, with the default severity."""
    signal = only_signal(run(CW, payload(NOTIFICATION)))

    assert signal.source == "cloudwatch"
    assert signal.action is Action.TRIGGER
    assert signal.dedup_key == ARN
    assert signal.occurred_at == parse_rfc3339("2026-03-14T09:22:10.403Z")
    assert signal.severity is Severity.WARNING
    assert signal.summary.startswith("checkout-alb-5xx-high: Threshold Crossed: 2 out of")
    assert signal.service == "AWS/ApplicationELB"
    assert dict(signal.labels) == {
        "alertname": "checkout-alb-5xx-high",
        "aws_account_id": "210987654321",
        "metric_name": "HTTPCode_Target_5XX_Count",
        "namespace": "AWS/ApplicationELB",
        "region": "EU (Ireland)",
    }
    details = json.loads(signal.details)
    assert details["alarm"]["Trigger"]["Threshold"] == 25.0
    assert details["alarm"]["OldStateValue"] == "OK"
    assert details["sns"]["MessageId"] == "7b3f2c1e-9a4d-5e6f-8a1b-2c3d4e5f6a7b"
    assert "Signature" not in details["sns"]
    assert "UnsubscribeURL" not in details["sns"]


def test_a_raw_alarm_body_gives_the_same_signal(run, payload):
    """With raw message delivery the body is the alarm itself; the observation is the same."""
    raw = only_signal(run(CW, payload(ALARM)))
    wrapped = only_signal(run(CW, payload(NOTIFICATION)))

    assert raw.signal_id == wrapped.signal_id


def test_ok_resolves(run, payload_json):
    """NewStateValue OK resolves the alarm."""
    signal = only_signal(run(CW, _notification(payload_json, NewStateValue="OK")))

    assert signal.action is Action.RESOLVE
    assert signal.dedup_key == ARN


def test_insufficient_data_is_skipped_by_default(run, payload_json):
    """By default INSUFFICIENT_DATA produces no signal, and says why."""
    result = run(CW, _notification(payload_json, NewStateValue="INSUFFICIENT_DATA"))

    assert result == Normalized(
        signals=(),
        skipped=(
            FieldError(
                field="Message.NewStateValue",
                message="INSUFFICIENT_DATA is ignored by the ruleset",
            ),
        ),
    )


@pytest.mark.parametrize(
    ("policy", "action"),
    [
        (CloudWatchInsufficientData.TRIGGER, Action.TRIGGER),
        (CloudWatchInsufficientData.RESOLVE, Action.RESOLVE),
    ],
)
def test_insufficient_data_follows_the_ruleset(run, payload_json, policy, action):
    """A ruleset can make INSUFFICIENT_DATA trigger or resolve."""
    ruleset = Ruleset(cloudwatch_insufficient_data=policy)

    signal = only_signal(
        run(CW, _notification(payload_json, NewStateValue="INSUFFICIENT_DATA"), ruleset=ruleset)
    )

    assert signal.action is action


def test_without_arn_the_account_region_and_name_make_the_key(run, payload_json):
    """No AlarmArn: the key hashes AWSAccountId, Region and AlarmName."""
    sns = _notification(payload_json, AlarmArn=None)

    signal = only_signal(run(CW, sns))

    assert signal.dedup_key == "cw-" + identity.stable_hash(
        "210987654321", "EU (Ireland)", "checkout-alb-5xx-high"
    )


def test_an_arn_longer_than_the_key_limit_is_hashed(run, payload_json):
    """AWS allows ARNs past 255 characters; they are hashed rather than rejected."""
    long_arn = ARN + "x" * 300

    signal = only_signal(run(CW, _notification(payload_json, AlarmArn=long_arn)))

    assert signal.dedup_key == "cw-" + identity.stable_hash(long_arn)


def test_a_subscription_confirmation_is_a_control_message(run, payload):
    """The API confirms the subscription by visiting SubscribeURL."""
    result = run(CW, payload("examples/sns_subscription_confirmation.json"))

    assert isinstance(result, Control)
    assert result.kind == "sns.subscription_confirmation"
    assert result.topic == "arn:aws:sns:eu-west-1:210987654321:helios-cloudwatch-alarms"
    assert result.confirm_url.startswith(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    )
    assert result.message_id == "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b"


def test_an_unsubscribe_confirmation_is_a_control_message(run, payload_json):
    """UnsubscribeConfirmation is reported, not turned into a signal."""
    message = payload_json("examples/sns_subscription_confirmation.json")
    message["Type"] = "UnsubscribeConfirmation"

    result = run(CW, message)

    assert isinstance(result, Control)
    assert result.kind == "sns.unsubscribe_confirmation"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.pop("Type"), "Type"),
        (lambda m: m.update(Type="Surprise"), "Type"),
        (lambda m: m.update(Type=1), "Type"),
        (lambda m: m.pop("Message"), "Message"),
        (lambda m: m.update(Message={"AlarmName": "x"}), "Message"),
        (lambda m: m.update(Message="not json"), "Message"),
        (lambda m: m.update(Message="[1, 2]"), "Message"),
    ],
)
def test_a_malformed_sns_message_is_rejected_naming_the_field(run, payload_json, change, field):
    """The SNS envelope's own fields are checked first."""
    message = payload_json(NOTIFICATION)
    change(message)

    assert field in rejected_fields(run(CW, message))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"AlarmName": None}, "Message.AlarmName"),
        ({"AlarmName": ""}, "Message.AlarmName"),
        ({"NewStateValue": "BROKEN"}, "Message.NewStateValue"),
        ({"NewStateValue": None}, "Message.NewStateValue"),
        ({"StateChangeTime": "last tuesday"}, "Message.StateChangeTime"),
        ({"NewStateReason": ["x"]}, "Message.NewStateReason"),
        ({"Trigger": "metric"}, "Message.Trigger"),
    ],
)
def test_a_malformed_alarm_is_rejected_naming_the_field(run, payload_json, changes, field):
    """The alarm's fields are reported under Message."""
    assert field in rejected_fields(run(CW, _notification(payload_json, **changes)))


def test_a_subscription_confirmation_without_url_is_rejected(run, payload_json):
    """Nothing can confirm a subscription without its SubscribeURL."""
    message = payload_json("examples/sns_subscription_confirmation.json")
    del message["SubscribeURL"]

    assert rejected_fields(run(CW, message)) == {"SubscribeURL"}
