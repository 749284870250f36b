"""Only SNS's own confirmation URL for the message's topic is ever visited."""

from __future__ import annotations

import pytest

from helios.apps.workers.subscriptions import subscribe_url_problem

TOPIC = "arn:aws:sns:eu-west-1:210987654321:helios-cloudwatch-alarms"
GOOD = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    f"&TopicArn={TOPIC}&Token=2336412f37fb687f5d51e6e2425dacbb"
)


def test_snss_own_confirmation_url_for_the_topic_passes() -> None:
    """https, the topic's regional SNS host, Action=ConfirmSubscription, the topic, a token."""
    assert subscribe_url_problem(GOOD, TOPIC) is None
    china_topic = "arn:aws-cn:sns:cn-north-1:210987654321:alarms"
    china = (
        "https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription"
        f"&TopicArn={china_topic}&Token=2336412f"
    )
    assert subscribe_url_problem(china, china_topic) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (GOOD.replace("https://", "http://"), "not https"),
        (GOOD.replace("sns.eu-west-1.amazonaws.com", "evil.example.com"), "not on an SNS host"),
        (GOOD.replace("sns.eu-west-1.amazonaws.com", "sns.eu-west-1.amazonaws.com.evil.io"),
         "not on an SNS host"),
        (GOOD.replace("sns.eu-west-1.amazonaws.com", "sns.eu-west-1.amazonaws.com:8443"),
         "not on an SNS host"),
        (GOOD.replace("https://", "https://user@"), "not on an SNS host"),
        (GOOD.replace("sns.eu-west-1.", "sns.us-east-1."), "region is not the topic's"),
        (GOOD.replace("ConfirmSubscription", "Unsubscribe"), "does not confirm"),
        (GOOD.replace("helios-cloudwatch-alarms", "other-topic"), "names another topic"),
        (GOOD.partition("&Token=")[0], "has no Token"),
        ("https://[::1", "not a URL"),
    ],
)  # fmt: skip
def test_any_other_url_is_refused_with_the_reason(url: str, problem: str) -> None:
    """Each check names what is wrong; nothing but SNS's regional endpoint is visited."""
    found = subscribe_url_problem(url, TOPIC)
    assert found is not None and problem in found
