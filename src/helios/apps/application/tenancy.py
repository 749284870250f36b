"""Tenancy use cases (create a tenant or an integration, rotate a key or a secret) and the
cached routing-key lookup the ingestion API authenticates with.

Routing keys are ``secrets.token_urlsafe(24)`` (32 characters, the length PagerDuty's own
integration keys have, so a tool that checks it accepts ours). Only their SHA-256 hash is
recorded; the key is returned once, to the operator who created or rotated it. Signing secrets
for the generic source (an HMAC cannot be verified from a hash) are sealed in the secret vault
(``helios.ports.secrets``); events record only a reference and a fingerprint. Secrets that
versions before the vault recorded in plain text stay in those immutable events: the only
remedy is a rotation, which ``rotate_all(force=True)`` does for every integration at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import anyio.to_thread
import attrs
import structlog

from helios.apps.application.repository import KEY_INDEX, TENANT, Repository, StateCache, Step
from helios.domain import key_index, tenancy
from helios.domain.errors import CommandRejected
from helios.domain.values import Millis, SourceKind
from helios.ports.event_store import EventStore
from helios.ports.secrets import SecretError, SecretUnavailable, SecretVault

_log = structlog.get_logger("helios.tenancy")

DEFAULT_KEY_GRACE_MS = 24 * 60 * 60 * 1000
MIN_SECRET_CHARS = 16
"""The shortest signing secret an operator may set (generated ones are 49 characters)."""
TENANTS_CACHED = 10_000
"""Tenants an API process keeps for authenticating routing keys (the least recently used go)."""

Clock = Callable[[], Millis]


def wall_clock_ms() -> Millis:
    return time.time_ns() // 1_000_000


def hash_key(key: str) -> str:
    """The SHA-256 hex digest a routing key is recorded and looked up by."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_routing_key() -> str:
    return secrets.token_urlsafe(24)


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def secret_fingerprint(secret: str) -> str:
    """What events record to tell secrets apart: a short SHA-256 (secrets are 256 random bits,
    so it reveals nothing usable)."""
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


class NoSecretVault(RuntimeError):
    """A signing secret was to be created by a service built without a secret vault."""


@attrs.frozen(kw_only=True)
class Issued:
    """What an operator is shown once: the integration and its fresh credentials."""

    tenant_id: str
    integration: tenancy.Integration
    routing_key: str = ""
    signing_secret: str = ""


class TenancyService:
    """Load → decide → append for tenants and integrations (synchronous: CLI and admin)."""

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Clock = wall_clock_ms,
        repository: Repository | None = None,
        secrets: SecretVault | None = None,
    ) -> None:
        self._repository = repository if repository is not None else Repository(store)
        self._clock = clock
        self._secrets = secrets

    def _seal(self, tenant_id: str, integration_id: str, secret: str) -> tuple[str, str]:
        """Seal a new signing secret; its (reference, fingerprint).

        Raises:
            NoSecretVault: this service has no vault.
            SecretUnavailable: the vault cannot be reached.
        """
        if self._secrets is None:
            raise NoSecretVault("signing secrets need a secret vault (TenancyService(secrets=))")
        ref = f"{tenant_id}/{integration_id}/signing/{uuid.uuid4().hex}"
        self._secrets.seal(ref, secret)
        return ref, secret_fingerprint(secret)

    def create_tenant(self, name: str) -> tenancy.Tenant:
        """Create a tenant with a fresh id.

        Raises:
            CommandRejected: the name is empty or too long.
            StoreUnavailable: the store could not be reached.
        """
        tenant_id = "ten_" + uuid.uuid4().hex[:16]
        command = tenancy.CreateTenant(tenant_id=tenant_id, name=name, at=self._clock())
        return self._run_tenant(tenant_id, command)

    def tenant(self, tenant_id: str) -> tenancy.Tenant:
        """The tenant's current state (``exists`` is False for an unknown id).

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        return self._repository.load(TENANT, tenant_id)[0]

    def create_integration(
        self,
        *,
        tenant_id: str,
        kind: SourceKind,
        name: str = "",
        default_service: str = "",
        allowed_topics: Sequence[str] = (),
        by: str = "",
    ) -> Issued:
        """Create an integration with a fresh routing key (and a signing secret for generic);
        ``by`` names who asked (empty: the command line).

        Raises:
            CommandRejected: unknown tenant, or an invalid kind, name or topic.
            NoSecretVault: a generic integration, and this service has no secret vault.
            SecretUnavailable: the secret vault cannot be reached.
            StoreUnavailable: the store could not be reached.
        """
        integration_id = "int_" + uuid.uuid4().hex[:16]
        key = new_routing_key()
        secret = new_signing_secret() if kind is SourceKind.GENERIC else ""
        ref, fingerprint = self._seal(tenant_id, integration_id, secret) if secret else ("", "")
        at = self._clock()
        command = tenancy.CreateIntegration(
            integration_id=integration_id,
            kind=kind,
            name=name or kind.value,
            key_hash=hash_key(key),
            at=at,
            default_service=default_service,
            allowed_topics=tuple(allowed_topics),
            signing_secret_ref=ref,
            signing_secret_fingerprint=fingerprint,
            by=by,
        )
        state = self._run_tenant(tenant_id, command, register=(hash_key(key), integration_id))
        integration = state.integration(integration_id)
        assert integration is not None
        return Issued(
            tenant_id=tenant_id, integration=integration, routing_key=key, signing_secret=secret
        )

    def rotate_routing_key(
        self, *, integration_id: str, grace_ms: Millis = DEFAULT_KEY_GRACE_MS, by: str = ""
    ) -> Issued:
        """Issue a new routing key; the old one stays valid for ``grace_ms`` (``by``: who).

        Raises:
            CommandRejected: unknown integration or a negative grace period.
            StoreUnavailable: the store could not be reached.
        """
        tenant_id = self.tenant_of(integration_id)
        key = new_routing_key()
        command = tenancy.RotateRoutingKey(
            integration_id=integration_id,
            key_hash=hash_key(key),
            grace_ms=grace_ms,
            at=self._clock(),
            by=by,
        )
        state = self._run_tenant(tenant_id, command, register=(hash_key(key), integration_id))
        integration = state.integration(integration_id)
        assert integration is not None
        return Issued(tenant_id=tenant_id, integration=integration, routing_key=key)

    def rotate_signing_secret(
        self,
        *,
        integration_id: str,
        grace_ms: Millis = DEFAULT_KEY_GRACE_MS,
        secret: str | None = None,
        by: str = "",
    ) -> Issued:
        """Set a new signing secret — ``secret`` (one the sender already has) or a fresh
        random one; signatures made with the old one are accepted for ``grace_ms`` (``by``:
        who asked).

        Raises:
            CommandRejected: unknown integration, a negative grace period, or a given secret
                shorter than ``MIN_SECRET_CHARS``.
            NoSecretVault: this service has no secret vault.
            SecretUnavailable: the secret vault cannot be reached.
            StoreUnavailable: the store could not be reached.
        """
        tenant_id = self.tenant_of(integration_id)
        if secret is not None and len(secret) < MIN_SECRET_CHARS:
            raise CommandRejected(
                "invalid secret",
                (("signing_secret", f"must be at least {MIN_SECRET_CHARS} characters"),),
            )
        secret = secret if secret is not None else new_signing_secret()
        ref, fingerprint = self._seal(tenant_id, integration_id, secret)
        command = tenancy.RotateSigningSecret(
            integration_id=integration_id,
            grace_ms=grace_ms,
            at=self._clock(),
            signing_secret_ref=ref,
            signing_secret_fingerprint=fingerprint,
            by=by,
        )
        state = self._run_tenant(tenant_id, command)
        integration = state.integration(integration_id)
        assert integration is not None
        return Issued(tenant_id=tenant_id, integration=integration, signing_secret=secret)

    def revoke_integration(self, *, integration_id: str, by: str = "") -> tenancy.Integration:
        """Revoke an integration: its keys and secrets are accepted no more (for good).

        Raises:
            CommandRejected: unknown integration.
            StoreUnavailable: the store could not be reached.
        """
        tenant_id = self.tenant_of(integration_id)
        command = tenancy.RevokeIntegration(integration_id=integration_id, at=self._clock(), by=by)
        return self._integration_after(tenant_id, command)

    def all_integrations(self) -> list[tuple[str, tenancy.Integration]]:
        """(tenant id, integration) of every integration of every tenant, revoked included.

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        owners: dict[str, str] = {}
        for recorded in self._repository.store.read_stream(key_index.STREAM):
            registered = recorded.event
            if isinstance(registered, key_index.RoutingKeyRegistered):
                owners.setdefault(registered.integration_id, registered.tenant_id)
        found = []
        for integration_id, tenant_id in owners.items():
            integration = self.tenant(tenant_id).integration(integration_id)
            if integration is not None:
                found.append((tenant_id, integration))
        return found

    def rotate_all(
        self,
        *,
        grace_ms: Millis = DEFAULT_KEY_GRACE_MS,
        force: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Issued]:
        """Rotate the routing key (and signing secret) of every integration not revoked.

        With ``force`` the old ones stop working at once (no grace): the remedy for keys or
        secrets that may have leaked, such as the secrets earlier versions recorded in plain
        text in the log, which can never be erased from it. ``progress(done, total)`` is
        called after each integration.

        Raises:
            NoSecretVault: a generic integration, and this service has no secret vault.
            SecretUnavailable: the secret vault cannot be reached.
            StoreUnavailable: the store could not be reached.
        """
        grace = 0 if force else grace_ms
        targets = [(t, i) for t, i in self.all_integrations() if not i.revoked_at]
        issued: list[Issued] = []
        for done, (tenant_id, integration) in enumerate(targets, start=1):
            key = self.rotate_routing_key(integration_id=integration.integration_id, grace_ms=grace)
            secret = ""
            if integration.kind is SourceKind.GENERIC:
                secret = self.rotate_signing_secret(
                    integration_id=integration.integration_id, grace_ms=grace
                ).signing_secret
            latest = self.tenant(tenant_id).integration(integration.integration_id)
            assert latest is not None
            issued.append(
                Issued(
                    tenant_id=tenant_id,
                    integration=latest,
                    routing_key=key.routing_key,
                    signing_secret=secret,
                )
            )
            if progress is not None:
                progress(done, len(targets))
        return issued

    def record_confirmed(
        self,
        *,
        tenant_id: str,
        integration_id: str,
        topic_arn: str,
        message_id: str,
        subscription_arn: str,
    ) -> tenancy.Integration:
        """Record on the integration that SNS confirmed its subscription to ``topic_arn``.

        Raises:
            CommandRejected: unknown integration, not CloudWatch, or a topic it does not allow.
            StoreUnavailable: the store could not be reached.
        """
        command = tenancy.RecordSubscriptionConfirmed(
            integration_id=integration_id,
            topic_arn=topic_arn,
            message_id=message_id,
            subscription_arn=subscription_arn,
            at=self._clock(),
        )
        return self._integration_after(tenant_id, command)

    def record_confirmation_failed(
        self,
        *,
        tenant_id: str,
        integration_id: str,
        topic_arn: str,
        message_id: str,
        attempt: int,
        reason: str,
        retrying: bool,
    ) -> tenancy.Integration:
        """Record on the integration that an attempt at confirming a subscription failed.

        Raises:
            CommandRejected: unknown integration, not CloudWatch, or a malformed topic.
            StoreUnavailable: the store could not be reached.
        """
        command = tenancy.RecordConfirmationFailed(
            integration_id=integration_id,
            topic_arn=topic_arn,
            message_id=message_id,
            attempt=attempt,
            reason=reason,
            retrying=retrying,
            at=self._clock(),
        )
        return self._integration_after(tenant_id, command)

    def _integration_after(
        self, tenant_id: str, command: tenancy.TenantCommand
    ) -> tenancy.Integration:
        integration_id = getattr(command, "integration_id", "")
        integration = self._run_tenant(tenant_id, command).integration(integration_id)
        assert integration is not None
        return integration

    def tenant_of(self, integration_id: str) -> str:
        """The tenant an integration belongs to.

        Raises:
            CommandRejected: no such integration.
            StoreUnavailable: the store could not be reached.
        """
        for recorded in self._repository.store.read_stream(key_index.STREAM):
            registered = recorded.event
            if (
                isinstance(registered, key_index.RoutingKeyRegistered)
                and registered.integration_id == integration_id
            ):
                return registered.tenant_id
        raise CommandRejected("no such integration", (("integration_id", "unknown"),))

    def _run_tenant(
        self,
        tenant_id: str,
        command: tenancy.TenantCommand,
        *,
        register: tuple[str, str] | None = None,
    ) -> tenancy.Tenant:
        steps: list[Step[Any, Any]] = [
            Step(
                kind=TENANT,
                key=tenant_id,
                decide=lambda state: tenancy.decide(command, state),
            )
        ]
        if register is not None:
            # The tenant's event and the index entry commit together or not at all.
            key_hash, integration_id = register
            entry = key_index.RegisterRoutingKey(
                key_hash=key_hash,
                tenant_id=tenant_id,
                integration_id=integration_id,
                at=self._clock(),
            )
            steps.append(
                Step(kind=KEY_INDEX, key=None, decide=lambda index: key_index.decide(entry, index))
            )
        state: tenancy.Tenant = self._repository.execute_all(steps)[0][0]
        return state


class SigningSecrets:
    """The plaintext signing secrets of an integration, for verifying signatures: legacy
    secrets as recorded, sealed ones revealed by the vault once per process and cached (a
    reference names one secret for good, so the cache never goes stale)."""

    def __init__(self, vault: SecretVault, *, max_cached: int = TENANTS_CACHED) -> None:
        self._vault = vault
        self._cache: dict[str, str] = {}
        self._max_cached = max_cached

    async def plaintexts(self, integration: tenancy.Integration, at: Millis) -> tuple[str, ...]:
        """The secrets a signature may be made with ``at`` (a secret the vault cannot decrypt
        is left out, and logged).

        Raises:
            SecretUnavailable: the vault had to be read and could not be.
        """
        found: list[str] = []
        for secret in integration.signing_secrets(at):
            if secret.legacy:
                found.append(secret.legacy)
                continue
            plain = self._cache.get(secret.ref)
            if plain is None:
                plain = await self._reveal(secret.ref)
            if plain:
                found.append(plain)
        return tuple(found)

    async def _reveal(self, ref: str) -> str:
        try:
            plain = await anyio.to_thread.run_sync(self._vault.reveal, ref)
        except SecretUnavailable:
            raise
        except SecretError as error:
            _log.error("signing secret unreadable", ref=ref, error=str(error))
            return ""
        if len(self._cache) >= self._max_cached:
            self._cache.pop(next(iter(self._cache)))
        self._cache[ref] = plain
        return plain


@attrs.frozen(kw_only=True)
class Authenticated:
    """Who a valid routing key belongs to."""

    tenant_id: str
    integration: tenancy.Integration


class KeyDirectory:
    """Finds the integration of a routing key, with an in-process cache.

    The index of key hashes is caught up incrementally from its stream (``read_stream`` after
    the last version seen) when a key is not found, at most once per ``miss_refresh_s`` so
    a flood of wrong keys costs one store read per interval. (The index is kept here as a
    dictionary caught up in place: as an immutable state, each registration would copy it.)
    Tenants come from the repository's cache, accepted for ``tenant_ttl_s`` and caught up at
    once when a key belongs to an integration whose cached state does not accept it (a
    rotation made by another process).
    """

    def __init__(
        self,
        store: EventStore,
        *,
        tenant_ttl_s: float = 30.0,
        miss_refresh_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        repository: Repository | None = None,
    ) -> None:
        self._store = store
        self._repository = (
            repository
            if repository is not None
            else Repository(store, cache=StateCache(TENANTS_CACHED), monotonic=monotonic)
        )
        self._tenant_ttl_s = tenant_ttl_s
        self._miss_refresh_s = miss_refresh_s
        self._monotonic = monotonic
        self._owners: dict[str, tuple[str, str]] = {}
        self._index_version = 0
        self._index_checked_at = float("-inf")
        self._lock = asyncio.Lock()

    async def authenticate(self, key: str, *, now_ms: Millis) -> Authenticated | None:
        """The tenant and integration of ``key`` if it is valid ``now_ms``, else None.

        Raises:
            StoreUnavailable: the store had to be read and could not be.
        """
        key_hash = hash_key(key)
        owner = self._owners.get(key_hash)
        if owner is None:
            await self._catch_up_index(force=False)
            owner = self._owners.get(key_hash)
            if owner is None:
                return None
        tenant_id, integration_id = owner
        found = self._accepting(await self._tenant(tenant_id), integration_id, key_hash, now_ms)
        if found is None:
            # Maybe rotated or created by another process since the tenant was cached.
            state = await self._tenant(tenant_id, max_age_s=self._miss_refresh_s)
            found = self._accepting(state, integration_id, key_hash, now_ms)
        return found

    @staticmethod
    def _accepting(
        state: tenancy.Tenant, integration_id: str, key_hash: str, now_ms: Millis
    ) -> Authenticated | None:
        integration = state.integration(integration_id)
        if integration is not None and integration.accepts_key_hash(key_hash, now_ms):
            return Authenticated(tenant_id=state.tenant_id, integration=integration)
        return None

    async def ping(self) -> None:
        """Read the store once (readiness).

        Raises:
            StoreUnavailable: the store could not be reached.
        """
        await anyio.to_thread.run_sync(self._store.max_position)

    async def _catch_up_index(self, *, force: bool) -> None:
        async with self._lock:
            now = self._monotonic()
            if not force and now - self._index_checked_at < self._miss_refresh_s:
                return
            recorded = await anyio.to_thread.run_sync(
                self._store.read_stream, key_index.STREAM, self._index_version
            )
            for entry in recorded:
                event: Any = entry.event
                if isinstance(event, key_index.RoutingKeyRegistered):
                    self._owners[event.key_hash] = (event.tenant_id, event.integration_id)
                self._index_version = entry.version
            self._index_checked_at = now

    async def _tenant(self, tenant_id: str, *, max_age_s: float | None = None) -> tenancy.Tenant:
        limit = self._tenant_ttl_s if max_age_s is None else max_age_s
        # The hot path: a cached tenant is answered without a trip to a worker thread.
        cached = self._repository.cached(TENANT, tenant_id, max_age_s=limit)
        if cached is not None:
            return cached[0]
        state, _ = await anyio.to_thread.run_sync(
            lambda: self._repository.load(TENANT, tenant_id, max_age_s=limit)
        )
        return state
