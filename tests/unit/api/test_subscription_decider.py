"""Given/When/Then on recording SNS subscription confirmations on a CloudWatch integration."""

from __future__ import annotations

import hashlib

import pytest

from helios.domain import tenancy
from helios.domain.errors import CommandRejected
from helios.domain.values import SourceKind

TOPIC = "arn:aws:sns:eu-west-1:210987654321:alarms"
OTHER = "arn:aws:sns:eu-west-1:210987654321:other"


def given(*events: tenancy.TenantEvent) -> tenancy.Tenant:
    state = tenancy.initial_state("ten_1")
    for event in events:
        state = tenancy.evolve(state, event)
    return state


def when(state: tenancy.Tenant, command: tenancy.TenantCommand) -> tenancy.Tenant:
    for event in tenancy.decide(command, state):
        state = tenancy.evolve(state, event)
    return state


def integration(kind: SourceKind = SourceKind.CLOUDWATCH) -> tenancy.IntegrationCreated:
    return tenancy.IntegrationCreated(
        tenant_id="ten_1",
        integration_id="int_1",
        kind=kind,
        name="cw",
        key_hash=hashlib.sha256(b"k").hexdigest(),
        at=2,
        allowed_topics=(TOPIC,) if kind is SourceKind.CLOUDWATCH else (),
    )


CREATED = tenancy.TenantCreated(tenant_id="ten_1", name="acme", at=1)


def failed(attempt: int, *, retrying: bool, topic: str = TOPIC) -> tenancy.RecordConfirmationFailed:
    return tenancy.RecordConfirmationFailed(
        integration_id="int_1",
        topic_arn=topic,
        message_id="m-1",
        attempt=attempt,
        reason="SNS answered HTTP 503",
        retrying=retrying,
        at=10 + attempt,
    )


def test_a_retried_then_confirmed_subscription_shows_confirmed_with_its_attempts() -> None:
    """Failures count attempts; the confirmation records the subscription ARN."""
    state = when(given(CREATED, integration()), failed(1, retrying=True))
    [sub] = state.integration("int_1").subscriptions
    assert (sub.status, sub.attempts, sub.last_error) == (
        tenancy.SubscriptionStatus.RETRYING,
        1,
        "SNS answered HTTP 503",
    )
    state = when(
        state,
        tenancy.RecordSubscriptionConfirmed(
            integration_id="int_1",
            topic_arn=TOPIC,
            message_id="m-1",
            subscription_arn=f"{TOPIC}:0d9e",
            at=20,
        ),
    )
    [sub] = state.integration("int_1").subscriptions
    assert sub.status is tenancy.SubscriptionStatus.CONFIRMED
    assert (sub.subscription_arn, sub.attempts, sub.last_error) == (f"{TOPIC}:0d9e", 2, "")


def test_a_final_failure_is_failed_and_a_new_confirmation_message_starts_counting_again() -> None:
    """Attempts are per confirmation message."""
    state = when(given(CREATED, integration()), failed(3, retrying=False))
    assert (
        state.integration("int_1").subscription(TOPIC).status is tenancy.SubscriptionStatus.FAILED
    )
    state = when(state, tenancy.RecordSubscriptionConfirmed(
        integration_id="int_1", topic_arn=TOPIC, message_id="m-2", subscription_arn="", at=30
    ))  # fmt: skip
    assert state.integration("int_1").subscription(TOPIC).attempts == 1


def test_a_topic_the_integration_does_not_allow_is_never_recorded_as_confirmed() -> None:
    """Only an allowed topic may be subscribed; its failure can still be recorded."""
    state = given(CREATED, integration())
    with pytest.raises(CommandRejected) as refused:
        when(state, tenancy.RecordSubscriptionConfirmed(
            integration_id="int_1", topic_arn=OTHER, message_id="m", subscription_arn="", at=3
        ))  # fmt: skip
    assert refused.value.problems == (
        ("topic_arn", "is not one of the integration's allowed topics"),
    )
    assert (
        when(state, failed(1, retrying=False, topic=OTHER)).integration("int_1").subscription(OTHER)
    )


def test_confirmations_are_refused_for_integrations_that_are_not_cloudwatch() -> None:
    """An Alertmanager integration has no SNS subscription."""
    with pytest.raises(CommandRejected):
        when(given(CREATED, integration(SourceKind.ALERTMANAGER)), failed(1, retrying=True))
