"""Given/When/Then on the tenancy deciders: what they refuse and what the state becomes."""

from __future__ import annotations

import hashlib

import pytest

from helios.domain import key_index, tenancy
from helios.domain.errors import CommandRejected
from helios.domain.values import SourceKind


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def given(*events: tenancy.TenantEvent) -> tenancy.Tenant:
    state = tenancy.initial_state("ten_1")
    for event in events:
        state = tenancy.evolve(state, event)
    return state


FINGERPRINT = "sha256:0123456789abcdef"
CREATED = tenancy.TenantCreated(tenant_id="ten_1", name="acme", at=1)
INTEGRATION = tenancy.IntegrationCreated(
    tenant_id="ten_1",
    integration_id="int_1",
    kind=SourceKind.GENERIC,
    name="generic",
    key_hash=key_hash("k1"),
    at=2,
    signing_secret="whsec_0123456789abcdef",  # as versions before the secret store recorded it
)


def test_an_integration_of_an_unknown_tenant_is_refused() -> None:
    """No tenant, no integration."""
    command = tenancy.CreateIntegration(
        integration_id="int_1", kind=SourceKind.PAGERDUTY, name="pd", key_hash=key_hash("k"), at=2
    )
    with pytest.raises(CommandRejected, match="no such tenant"):
        tenancy.decide(command, given())


def test_a_malformed_integration_names_every_problem() -> None:
    """Bad hash, user kind, topics on a non-CloudWatch kind: all reported at once."""
    command = tenancy.CreateIntegration(
        integration_id="int_2",
        kind=SourceKind.USER,
        name="",
        key_hash="plain-key",
        at=2,
        allowed_topics=("not-an-arn",),
    )
    with pytest.raises(CommandRejected) as refused:
        tenancy.decide(command, given(CREATED))
    fields = {field for field, _ in refused.value.problems}
    assert fields == {"name", "key_hash", "kind", "allowed_topics[0]", "allowed_topics"}


def test_a_generic_integration_needs_a_signing_secret() -> None:
    """HMAC verification is impossible without one."""
    command = tenancy.CreateIntegration(
        integration_id="int_2", kind=SourceKind.GENERIC, name="g", key_hash=key_hash("k"), at=2
    )
    with pytest.raises(CommandRejected):
        tenancy.decide(command, given(CREATED))


def test_a_plaintext_secret_in_a_new_command_is_refused() -> None:
    """Secrets go to the secret store; the log gets a reference and a fingerprint."""
    command = tenancy.CreateIntegration(
        integration_id="int_2",
        kind=SourceKind.GENERIC,
        name="g",
        key_hash=key_hash("k"),
        at=2,
        signing_secret="whsec_0123456789abcdef",
    )
    with pytest.raises(CommandRejected) as refused:
        tenancy.decide(command, given(CREATED))
    assert [field for field, _ in refused.value.problems] == ["signing_secret"]


def test_a_new_integration_records_a_reference_and_a_fingerprint_only() -> None:
    command = tenancy.CreateIntegration(
        integration_id="int_2",
        kind=SourceKind.GENERIC,
        name="g",
        key_hash=key_hash("k"),
        at=2,
        signing_secret_ref="ten_1/int_2/signing/1",
        signing_secret_fingerprint=FINGERPRINT,
    )
    [event] = tenancy.decide(command, given(CREATED))
    assert isinstance(event, tenancy.IntegrationCreated)
    assert (event.signing_secret, event.signing_secret_ref) == ("", "ten_1/int_2/signing/1")
    integration = given(CREATED, event).integration("int_2")
    assert integration is not None and not integration.legacy_secret(3)
    assert integration.signing_secrets(3) == (
        tenancy.SigningSecret(ref="ten_1/int_2/signing/1", fingerprint=FINGERPRINT),
    )


def test_a_rotated_key_is_accepted_with_the_old_one_until_the_grace_deadline() -> None:
    """Old key valid before ``at + grace``, refused from then on; new key always valid."""
    rotate = tenancy.RotateRoutingKey(
        integration_id="int_1", key_hash=key_hash("k2"), grace_ms=1000, at=10
    )
    [event] = tenancy.decide(rotate, given(CREATED, INTEGRATION))
    state = given(CREATED, INTEGRATION, event)
    integration = state.integration("int_1")
    assert integration is not None
    assert integration.accepts_key_hash(key_hash("k1"), 1009)
    assert not integration.accepts_key_hash(key_hash("k1"), 1010)
    assert integration.accepts_key_hash(key_hash("k2"), 10**12)


def test_a_legacy_secret_rotated_into_the_store_stays_valid_only_during_the_grace_period() -> None:
    """A secret an earlier version recorded in plain text still verifies, as the previous one,
    until the deadline; then only the sealed one does."""
    rotate = tenancy.RotateSigningSecret(
        integration_id="int_1",
        grace_ms=100,
        at=10,
        signing_secret_ref="ten_1/int_1/signing/2",
        signing_secret_fingerprint=FINGERPRINT,
    )
    assert given(CREATED, INTEGRATION).integration("int_1").legacy_secret(5)  # type: ignore[union-attr]
    [event] = tenancy.decide(rotate, given(CREATED, INTEGRATION))
    integration = given(CREATED, INTEGRATION, event).integration("int_1")
    assert integration is not None
    sealed = tenancy.SigningSecret(ref="ten_1/int_1/signing/2", fingerprint=FINGERPRINT)
    assert integration.signing_secrets(50) == (
        sealed,
        tenancy.SigningSecret(legacy="whsec_0123456789abcdef"),
    )
    assert integration.signing_secrets(110) == (sealed,)
    assert integration.legacy_secret(50) and not integration.legacy_secret(110)


def test_a_revoked_integration_accepts_no_key() -> None:
    revoke = tenancy.RevokeIntegration(integration_id="int_1", at=10, by="cli")
    [event] = tenancy.decide(revoke, given(CREATED, INTEGRATION))
    integration = given(CREATED, INTEGRATION, event).integration("int_1")
    assert integration is not None and not integration.accepts_key_hash(key_hash("k1"), 11)
    assert tenancy.decide(revoke, given(CREATED, INTEGRATION, event)) == ()


def test_the_key_index_refuses_a_hash_registered_twice() -> None:
    """A key hash identifies one integration, forever."""
    register = key_index.RegisterRoutingKey(
        key_hash=key_hash("k1"), tenant_id="ten_1", integration_id="int_1", at=1
    )
    [event] = key_index.decide(register, key_index.initial_state())
    with pytest.raises(CommandRejected, match="invalid routing key"):
        key_index.decide(register, key_index.evolve(key_index.initial_state(), event))


@pytest.mark.parametrize(
    ("kind", "formats"),
    [
        (SourceKind.PAGERDUTY, {SourceKind.PAGERDUTY, SourceKind.PAGERDUTY_CHANGE}),
        (SourceKind.ALERTMANAGER, {SourceKind.ALERTMANAGER, SourceKind.PAGERDUTY}),
        (SourceKind.GRAFANA, {SourceKind.GRAFANA, SourceKind.PAGERDUTY}),
        (SourceKind.CLOUDWATCH, {SourceKind.CLOUDWATCH}),
        (SourceKind.GENERIC, {SourceKind.GENERIC}),
    ],
)
def test_an_integration_sends_its_own_format_and_pagerdutys_only_if_unsigned(
    kind: SourceKind, formats: set[SourceKind]
) -> None:
    """Tools with a PagerDuty receiver may use /v2/enqueue (not change events); signed formats
    take nothing else."""
    integration = tenancy.Integration(
        integration_id="int_1", kind=kind, name="x", key_hash=key_hash("k")
    )
    assert {source for source in SourceKind if integration.accepts_format(source)} == formats
