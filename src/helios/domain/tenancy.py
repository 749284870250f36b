"""Tenants and their integrations: one stream per tenant, a decider (``decide`` refuses,
``evolve`` is total).

An integration is a configured source: its kind, the SHA-256 hash of its routing key (the key
itself is shown once and never stored), an optional signing secret, a default service and, for
CloudWatch, the SNS topics it accepts. Rotating a key or a secret keeps the previous one valid
until a grace deadline, so senders can be reconfigured without losing events. Which
integration a routing-key hash belongs to is the key index's (``helios.domain.key_index``).

A CloudWatch integration also keeps, per SNS topic, how the confirmation of its subscription
went (confirmed, retrying, failed), so an operator sees it on the integration.

Signing secrets are not in the log: verifying an HMAC needs the secret itself, so it is sealed
in the secret store (``helios.ports.secrets``) and events carry only its reference and a
fingerprint (a short SHA-256, to tell secrets apart). Earlier versions recorded the secret
itself in ``signing_secret``: those immutable events still fold to a working integration (a
*legacy* secret) until it is rotated; a plaintext secret in a new command is refused. An
integration may be revoked: its keys and secrets are accepted no more.
Ids, hashes, references and times are passed in; nothing here draws randomness or reads a clock.
"""

from __future__ import annotations

import enum
import hmac
import re
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import assert_never

import attrs

from helios.domain import identity
from helios.domain.errors import CommandRejected
from helios.domain.events import ADDED_FIELD, event
from helios.domain.key_index import key_hash_problems
from helios.domain.values import Millis, SourceKind

MAX_NAME_CHARS = 100
# Change events come with a PagerDuty integration's routing key: no integration of their own.
INGEST_KINDS = frozenset(SourceKind) - {SourceKind.USER, SourceKind.PAGERDUTY_CHANGE}
_SNS_TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}")
_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{16}")
_SECRET_REF = re.compile(r"[A-Za-z0-9_./:-]{1,200}")

_PAGERDUTY_RECEIVERS = frozenset({SourceKind.ALERTMANAGER, SourceKind.GRAFANA})
ACCEPTED_FORMATS: Mapping[SourceKind, frozenset[SourceKind]] = MappingProxyType(
    {
        kind: frozenset(
            {kind, SourceKind.PAGERDUTY_CHANGE}
            if kind is SourceKind.PAGERDUTY
            else {kind, SourceKind.PAGERDUTY}
            if kind in _PAGERDUTY_RECEIVERS
            else {kind}
        )
        for kind in INGEST_KINDS
    }
)
"""The formats an integration of each kind may send with its key.

Its own (a PagerDuty integration's include change events), plus PagerDuty's alert events for
the tools that have a PagerDuty receiver (Alertmanager's ``pagerduty_configs``, Grafana's
PagerDuty contact point): a tool given its webhook integration's key for ``/v2/enqueue``
works instead of losing alerts to a configuration slip. Those tools send no change events.
CloudWatch and generic keys are never enough on their own: their formats carry a signature
(SNS, HMAC) that PagerDuty's has no place for, so they take nothing else.
"""


def tenant_stream_id(tenant_id: str) -> uuid.UUID:
    """The stream that holds one tenant and its integrations."""
    return identity.stream_id("tenant", tenant_id)


class SubscriptionStatus(enum.Enum):
    """Where the confirmation of an SNS subscription to a CloudWatch integration stands."""

    CONFIRMED = "confirmed"
    RETRYING = "retrying"
    """The last attempt failed for a reason that may pass; another one is scheduled."""
    FAILED = "failed"
    """Given up: refused by SNS or by a check, or out of attempts (an operator may redrive)."""


@attrs.frozen(kw_only=True)
class SnsSubscription:
    """The latest confirmation outcome for one topic of a CloudWatch integration."""

    topic_arn: str
    status: SubscriptionStatus
    message_id: str = ""
    subscription_arn: str = ""
    attempts: int = 0
    last_error: str = ""
    updated_at: Millis = 0


@attrs.frozen(kw_only=True)
class SigningSecret:
    """One valid signing secret: a reference into the secret store, or (``legacy``) the
    secret itself as an earlier version recorded it in the log."""

    ref: str = ""
    fingerprint: str = ""
    legacy: str = ""


@attrs.frozen(kw_only=True)
class Integration:
    integration_id: str
    kind: SourceKind
    name: str
    key_hash: str
    previous_key_hash: str = ""
    previous_key_valid_until: Millis = 0
    signing_secret: str = ""
    previous_signing_secret: str = ""
    previous_secret_valid_until: Millis = 0
    default_service: str = ""
    allowed_topics: tuple[str, ...] = ()
    created_at: Millis = 0
    subscriptions: tuple[SnsSubscription, ...] = ()
    """SNS subscriptions confirmed (or tried) for this integration, one per topic."""
    signing_secret_ref: str = ""
    signing_secret_fingerprint: str = ""
    previous_signing_secret_ref: str = ""
    revoked_at: Millis = 0
    """0: in use; else when it was revoked (nothing it sends is accepted)."""

    def legacy_secret(self, at: Millis) -> bool:
        """Whether a secret valid ``at`` is one an earlier version recorded in plain text."""
        return any(secret.legacy for secret in self.signing_secrets(at))

    def subscription(self, topic_arn: str) -> SnsSubscription | None:
        return next((s for s in self.subscriptions if s.topic_arn == topic_arn), None)

    def accepts_format(self, source: SourceKind) -> bool:
        """Whether this integration's key may send ``source``'s format (``ACCEPTED_FORMATS``)."""
        return source in ACCEPTED_FORMATS.get(self.kind, frozenset())

    def accepts_key_hash(self, key_hash: str, at: Millis) -> bool:
        """Whether a routing key hashing to ``key_hash`` is valid for this integration ``at``."""
        if self.revoked_at:
            return False
        if hmac.compare_digest(self.key_hash, key_hash):
            return True
        return (
            bool(self.previous_key_hash)
            and at < self.previous_key_valid_until
            and hmac.compare_digest(self.previous_key_hash, key_hash)
        )

    def signing_secrets(self, at: Millis) -> tuple[SigningSecret, ...]:
        """The secrets a signature may be made with ``at``: the current one, and the previous
        one during its grace period."""
        current = SigningSecret(
            ref=self.signing_secret_ref,
            fingerprint=self.signing_secret_fingerprint,
            legacy=self.signing_secret,
        )
        found = (current,) if current.ref or current.legacy else ()
        previous = SigningSecret(
            ref=self.previous_signing_secret_ref, legacy=self.previous_signing_secret
        )
        if (previous.ref or previous.legacy) and at < self.previous_secret_valid_until:
            found = (*found, previous)
        return found


@attrs.frozen(kw_only=True)
class Tenant:
    tenant_id: str
    name: str = ""
    created_at: Millis = 0
    integrations: tuple[Integration, ...] = ()

    @property
    def exists(self) -> bool:
        return self.created_at > 0 or bool(self.name)

    def integration(self, integration_id: str) -> Integration | None:
        return next((i for i in self.integrations if i.integration_id == integration_id), None)


# --- tenant commands and events ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CreateTenant:
    tenant_id: str
    name: str
    at: Millis


@attrs.frozen(kw_only=True)
class CreateIntegration:
    integration_id: str
    kind: SourceKind
    name: str
    key_hash: str
    at: Millis
    signing_secret: str = ""
    """Refused when set: a secret goes to the secret store, its reference here."""
    default_service: str = ""
    allowed_topics: tuple[str, ...] = ()
    signing_secret_ref: str = ""
    signing_secret_fingerprint: str = ""
    by: str = ""


@attrs.frozen(kw_only=True)
class RotateRoutingKey:
    integration_id: str
    key_hash: str
    grace_ms: Millis
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class RotateSigningSecret:
    integration_id: str
    grace_ms: Millis
    at: Millis
    signing_secret_ref: str
    signing_secret_fingerprint: str
    signing_secret: str = ""
    """Refused when set: a secret goes to the secret store, its reference here."""
    by: str = ""


@attrs.frozen(kw_only=True)
class RevokeIntegration:
    integration_id: str
    at: Millis
    by: str = ""


@event("helios.tenant.created.v1")
@attrs.frozen(kw_only=True)
class TenantCreated:
    tenant_id: str
    name: str
    at: Millis


@event("helios.tenant.integration_created.v1")
@attrs.frozen(kw_only=True)
class IntegrationCreated:
    tenant_id: str
    integration_id: str
    kind: SourceKind
    name: str
    key_hash: str
    at: Millis
    signing_secret: str = ""
    """The secret itself, as versions before the secret store recorded it (now always "")."""
    default_service: str = ""
    allowed_topics: tuple[str, ...] = ()
    signing_secret_ref: str = attrs.field(default="", metadata=ADDED_FIELD)
    signing_secret_fingerprint: str = attrs.field(default="", metadata=ADDED_FIELD)
    by: str = attrs.field(default="", metadata=ADDED_FIELD)
    """Who created it (empty: the command line, or a version that did not record it)."""


@event("helios.tenant.routing_key_rotated.v1")
@attrs.frozen(kw_only=True)
class RoutingKeyRotated:
    tenant_id: str
    integration_id: str
    key_hash: str
    previous_valid_until: Millis
    at: Millis
    by: str = attrs.field(default="", metadata=ADDED_FIELD)


@event("helios.tenant.signing_secret_rotated.v1")
@attrs.frozen(kw_only=True)
class SigningSecretRotated:
    tenant_id: str
    integration_id: str
    signing_secret: str
    """The secret itself, as versions before the secret store recorded it (now always "")."""
    previous_valid_until: Millis
    at: Millis
    signing_secret_ref: str = attrs.field(default="", metadata=ADDED_FIELD)
    signing_secret_fingerprint: str = attrs.field(default="", metadata=ADDED_FIELD)
    by: str = attrs.field(default="", metadata=ADDED_FIELD)


@event("helios.tenant.integration_revoked.v1")
@attrs.frozen(kw_only=True)
class IntegrationRevoked:
    tenant_id: str
    integration_id: str
    at: Millis
    by: str = ""


@attrs.frozen(kw_only=True)
class RecordSubscriptionConfirmed:
    """SNS answered the visit of a ``SubscribeURL``: the subscription is confirmed."""

    integration_id: str
    topic_arn: str
    message_id: str
    subscription_arn: str
    at: Millis


@attrs.frozen(kw_only=True)
class RecordConfirmationFailed:
    """A confirmation attempt failed; ``retrying`` when another attempt is scheduled."""

    integration_id: str
    topic_arn: str
    message_id: str
    attempt: int
    reason: str
    retrying: bool
    at: Millis


@event("helios.tenant.sns_subscription_confirmed.v1")
@attrs.frozen(kw_only=True)
class SubscriptionConfirmed:
    tenant_id: str
    integration_id: str
    topic_arn: str
    message_id: str
    subscription_arn: str
    at: Millis


@event("helios.tenant.sns_confirmation_failed.v1")
@attrs.frozen(kw_only=True)
class ConfirmationFailed:
    tenant_id: str
    integration_id: str
    topic_arn: str
    message_id: str
    attempt: int
    reason: str
    retrying: bool
    at: Millis


TenantCommand = (
    CreateTenant
    | CreateIntegration
    | RotateRoutingKey
    | RotateSigningSecret
    | RecordSubscriptionConfirmed
    | RecordConfirmationFailed
    | RevokeIntegration
)
TenantEvent = (
    TenantCreated
    | IntegrationCreated
    | RoutingKeyRotated
    | SigningSecretRotated
    | SubscriptionConfirmed
    | ConfirmationFailed
    | IntegrationRevoked
)

MAX_REASON_CHARS = 500


def initial_state(tenant_id: str) -> Tenant:
    return Tenant(tenant_id=tenant_id)


def decide(command: TenantCommand, state: Tenant) -> tuple[TenantEvent, ...]:
    """Validate a tenancy command against the tenant's current state.

    Raises:
        CommandRejected: the tenant exists already (create) or not at all (anything else), an
            unknown integration, a malformed name, kind, key hash, secret or topic.
    """
    match command:
        case CreateTenant():
            return _create_tenant(command, state)
        case CreateIntegration():
            return _create_integration(command, state)
        case RotateRoutingKey():
            return _rotate_routing_key(command, state)
        case RotateSigningSecret():
            return _rotate_signing_secret(command, state)
        case RecordSubscriptionConfirmed():
            return _record_confirmed(command, state)
        case RecordConfirmationFailed():
            return _record_confirmation_failed(command, state)
        case RevokeIntegration():
            existing = _require_integration(state, command.integration_id)
            if existing.revoked_at:
                return ()
            return (
                IntegrationRevoked(
                    tenant_id=state.tenant_id,
                    integration_id=command.integration_id,
                    at=command.at,
                    by=command.by,
                ),
            )
        case _:
            assert_never(command)


def _create_tenant(command: CreateTenant, state: Tenant) -> tuple[TenantEvent, ...]:
    problems = _name_problems("name", command.name)
    if state.exists:
        problems.append(("tenant_id", "already exists"))
    _refuse("invalid tenant", problems)
    return (TenantCreated(tenant_id=state.tenant_id, name=command.name, at=command.at),)


def _create_integration(command: CreateIntegration, state: Tenant) -> tuple[TenantEvent, ...]:
    _require_tenant(state)
    problems = _integration_problems(command)
    if state.integration(command.integration_id) is not None:
        problems.append(("integration_id", "already exists"))
    _refuse("invalid integration", problems)
    return (
        IntegrationCreated(
            tenant_id=state.tenant_id,
            integration_id=command.integration_id,
            kind=command.kind,
            name=command.name,
            key_hash=command.key_hash,
            at=command.at,
            default_service=command.default_service,
            allowed_topics=tuple(sorted(set(command.allowed_topics))),
            signing_secret_ref=command.signing_secret_ref,
            signing_secret_fingerprint=command.signing_secret_fingerprint,
            by=command.by,
        ),
    )


def _rotate_routing_key(command: RotateRoutingKey, state: Tenant) -> tuple[TenantEvent, ...]:
    existing = _require_integration(state, command.integration_id)
    problems = key_hash_problems(command.key_hash)
    problems += _grace_problems(command.grace_ms)
    if command.key_hash in (existing.key_hash, existing.previous_key_hash):
        problems.append(("key_hash", "must differ from the current and previous keys"))
    _refuse("invalid key rotation", problems)
    return (
        RoutingKeyRotated(
            tenant_id=state.tenant_id,
            integration_id=command.integration_id,
            key_hash=command.key_hash,
            previous_valid_until=command.at + command.grace_ms,
            at=command.at,
            by=command.by,
        ),
    )


def _rotate_signing_secret(command: RotateSigningSecret, state: Tenant) -> tuple[TenantEvent, ...]:
    existing = _require_integration(state, command.integration_id)
    problems = _secret_problems(
        command.signing_secret_ref,
        command.signing_secret_fingerprint,
        plaintext=command.signing_secret,
        required=True,
    )
    problems += _grace_problems(command.grace_ms)
    if command.signing_secret_ref in (
        existing.signing_secret_ref,
        existing.previous_signing_secret_ref,
    ):
        problems.append(("signing_secret_ref", "must differ from the current and previous"))
    _refuse("invalid secret rotation", problems)
    return (
        SigningSecretRotated(
            tenant_id=state.tenant_id,
            integration_id=command.integration_id,
            signing_secret="",
            previous_valid_until=command.at + command.grace_ms,
            at=command.at,
            signing_secret_ref=command.signing_secret_ref,
            signing_secret_fingerprint=command.signing_secret_fingerprint,
            by=command.by,
        ),
    )


def _record_confirmed(
    command: RecordSubscriptionConfirmed, state: Tenant
) -> tuple[TenantEvent, ...]:
    existing = _require_integration(state, command.integration_id)
    # Only a topic the integration accepts may ever be recorded as subscribed.
    _refuse("invalid confirmation", _topic_problems(existing, command.topic_arn, allowed=True))
    return (
        SubscriptionConfirmed(
            tenant_id=state.tenant_id,
            integration_id=command.integration_id,
            topic_arn=command.topic_arn,
            message_id=command.message_id,
            subscription_arn=command.subscription_arn,
            at=command.at,
        ),
    )


def _record_confirmation_failed(
    command: RecordConfirmationFailed, state: Tenant
) -> tuple[TenantEvent, ...]:
    existing = _require_integration(state, command.integration_id)
    problems = _topic_problems(existing, command.topic_arn, allowed=False)
    if command.attempt < 1:
        problems.append(("attempt", "must be at least 1"))
    _refuse("invalid confirmation failure", problems)
    return (
        ConfirmationFailed(
            tenant_id=state.tenant_id,
            integration_id=command.integration_id,
            topic_arn=command.topic_arn,
            message_id=command.message_id,
            attempt=command.attempt,
            reason=command.reason[:MAX_REASON_CHARS],
            retrying=command.retrying,
            at=command.at,
        ),
    )


def evolve(state: Tenant, event: TenantEvent) -> Tenant:
    match event:
        case TenantCreated(name=name, at=at):
            return attrs.evolve(state, name=name, created_at=at)
        case IntegrationCreated():
            integration = Integration(
                integration_id=event.integration_id,
                kind=event.kind,
                name=event.name,
                key_hash=event.key_hash,
                signing_secret=event.signing_secret,
                default_service=event.default_service,
                allowed_topics=event.allowed_topics,
                created_at=event.at,
                signing_secret_ref=event.signing_secret_ref,
                signing_secret_fingerprint=event.signing_secret_fingerprint,
            )
            return attrs.evolve(state, integrations=(*state.integrations, integration))
        case RoutingKeyRotated(integration_id=integration_id):
            return _with_integration(
                state,
                integration_id,
                lambda i: attrs.evolve(
                    i,
                    key_hash=event.key_hash,
                    previous_key_hash=i.key_hash,
                    previous_key_valid_until=event.previous_valid_until,
                ),
            )
        case SigningSecretRotated(integration_id=integration_id):
            return _with_integration(
                state,
                integration_id,
                lambda i: _with_rotated_secret(i, event),
            )
        case IntegrationRevoked(integration_id=integration_id, at=at):
            return _with_integration(
                state, integration_id, lambda i: attrs.evolve(i, revoked_at=at)
            )
        case SubscriptionConfirmed(integration_id=integration_id, topic_arn=topic):
            return _with_integration(
                state,
                integration_id,
                lambda i: _with_subscription(
                    i,
                    SnsSubscription(
                        topic_arn=topic,
                        status=SubscriptionStatus.CONFIRMED,
                        message_id=event.message_id,
                        subscription_arn=event.subscription_arn,
                        attempts=_attempts(i, topic, event.message_id) + 1,
                        updated_at=event.at,
                    ),
                ),
            )
        case ConfirmationFailed(integration_id=integration_id, topic_arn=topic):
            return _with_integration(
                state,
                integration_id,
                lambda i: _with_subscription(
                    i,
                    SnsSubscription(
                        topic_arn=topic,
                        status=(
                            SubscriptionStatus.RETRYING
                            if event.retrying
                            else SubscriptionStatus.FAILED
                        ),
                        message_id=event.message_id,
                        attempts=_attempts(i, topic, event.message_id) + 1,
                        last_error=event.reason,
                        updated_at=event.at,
                    ),
                ),
            )
        case _:
            assert_never(event)


# --- checks ------------------------------------------------------------------------------------


def _refuse(message: str, problems: list[tuple[str, str]]) -> None:
    if problems:
        raise CommandRejected(message, tuple(problems))


def _require_tenant(state: Tenant) -> None:
    if not state.exists:
        raise CommandRejected("no such tenant", (("tenant_id", "unknown"),))


def _require_integration(state: Tenant, integration_id: str) -> Integration:
    _require_tenant(state)
    existing = state.integration(integration_id)
    if existing is None:
        raise CommandRejected("no such integration", (("integration_id", "unknown"),))
    return existing


def _with_integration(
    state: Tenant, integration_id: str, change: Callable[[Integration], Integration]
) -> Tenant:
    return attrs.evolve(
        state,
        integrations=tuple(
            change(i) if i.integration_id == integration_id else i for i in state.integrations
        ),
    )


def _with_rotated_secret(integration: Integration, event: SigningSecretRotated) -> Integration:
    return attrs.evolve(
        integration,
        signing_secret=event.signing_secret,
        signing_secret_ref=event.signing_secret_ref,
        signing_secret_fingerprint=event.signing_secret_fingerprint,
        previous_signing_secret=integration.signing_secret,
        previous_signing_secret_ref=integration.signing_secret_ref,
        previous_secret_valid_until=event.previous_valid_until,
    )


def _with_subscription(integration: Integration, subscription: SnsSubscription) -> Integration:
    others = tuple(s for s in integration.subscriptions if s.topic_arn != subscription.topic_arn)
    return attrs.evolve(
        integration,
        subscriptions=tuple(sorted((*others, subscription), key=lambda s: s.topic_arn)),
    )


def _attempts(integration: Integration, topic_arn: str, message_id: str) -> int:
    """Attempts made so far at confirming ``message_id`` (a new message starts again)."""
    current = integration.subscription(topic_arn)
    return current.attempts if current is not None and current.message_id == message_id else 0


def _topic_problems(
    integration: Integration, topic_arn: str, *, allowed: bool
) -> list[tuple[str, str]]:
    if integration.kind is not SourceKind.CLOUDWATCH:
        return [("integration_id", "is not a CloudWatch integration")]
    if _SNS_TOPIC_ARN.fullmatch(topic_arn) is None:
        return [("topic_arn", "must be an SNS topic ARN")]
    if allowed and topic_arn not in integration.allowed_topics:
        return [("topic_arn", "is not one of the integration's allowed topics")]
    return []


def _name_problems(field: str, name: str) -> list[tuple[str, str]]:
    if not name.strip():
        return [(field, "must not be empty")]
    if len(name) > MAX_NAME_CHARS:
        return [(field, f"is {len(name)} characters, at most {MAX_NAME_CHARS} allowed")]
    return []


def _secret_problems(
    ref: str, fingerprint: str, *, plaintext: str, required: bool
) -> list[tuple[str, str]]:
    if plaintext:
        return [("signing_secret", "must be sealed in the secret store (pass its reference)")]
    if not ref:
        return [("signing_secret_ref", "is required")] if required else []
    problems = []
    if _SECRET_REF.fullmatch(ref) is None:
        problems.append(("signing_secret_ref", "must be a secret store reference"))
    if _FINGERPRINT.fullmatch(fingerprint) is None:
        problems.append(("signing_secret_fingerprint", "must be sha256:<16 hex digits>"))
    return problems


def _grace_problems(grace_ms: Millis) -> list[tuple[str, str]]:
    return [("grace_ms", "must not be negative")] if grace_ms < 0 else []


def _integration_problems(command: CreateIntegration) -> list[tuple[str, str]]:
    problems = _name_problems("name", command.name)
    problems += key_hash_problems(command.key_hash)
    if command.kind not in INGEST_KINDS:
        problems.append(("kind", f"{command.kind.value} is not a source kind for integrations"))
    problems += _secret_problems(
        command.signing_secret_ref,
        command.signing_secret_fingerprint,
        plaintext=command.signing_secret,
        required=command.kind is SourceKind.GENERIC,
    )
    for index, topic in enumerate(command.allowed_topics):
        if _SNS_TOPIC_ARN.fullmatch(topic) is None:
            problems.append((f"allowed_topics[{index}]", "must be an SNS topic ARN"))
    if command.allowed_topics and command.kind is not SourceKind.CLOUDWATCH:
        problems.append(("allowed_topics", "only CloudWatch integrations take SNS topics"))
    return problems
