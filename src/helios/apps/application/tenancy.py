"""Tenancy use cases (create a tenant or an integration, rotate a key or a secret) and the
cached routing-key lookup the ingestion API authenticates with.

Routing keys are ``secrets.token_urlsafe(24)`` (32 characters, the length PagerDuty's own
integration keys have, so a tool that checks it accepts ours). Only their SHA-256 hash is
recorded; the key is returned once, to the operator who created or rotated it. Signing secrets
for the generic source are recorded as they are (an HMAC cannot be verified from a hash): the
event store must be protected like any store of credentials.
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

from helios.apps.application.repository import KEY_INDEX, TENANT, Repository, StateCache, Step
from helios.domain import key_index, tenancy
from helios.domain.errors import CommandRejected
from helios.domain.values import Millis, SourceKind
from helios.ports.event_store import EventStore

DEFAULT_KEY_GRACE_MS = 24 * 60 * 60 * 1000
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
    ) -> None:
        self._repository = repository if repository is not None else Repository(store)
        self._clock = clock

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
    ) -> Issued:
        """Create an integration with a fresh routing key (and a signing secret for generic).

        Raises:
            CommandRejected: unknown tenant, or an invalid kind, name or topic.
            StoreUnavailable: the store could not be reached.
        """
        integration_id = "int_" + uuid.uuid4().hex[:16]
        key = new_routing_key()
        secret = new_signing_secret() if kind is SourceKind.GENERIC else ""
        at = self._clock()
        command = tenancy.CreateIntegration(
            integration_id=integration_id,
            kind=kind,
            name=name or kind.value,
            key_hash=hash_key(key),
            at=at,
            signing_secret=secret,
            default_service=default_service,
            allowed_topics=tuple(allowed_topics),
        )
        state = self._run_tenant(tenant_id, command, register=(hash_key(key), integration_id))
        integration = state.integration(integration_id)
        assert integration is not None
        return Issued(
            tenant_id=tenant_id, integration=integration, routing_key=key, signing_secret=secret
        )

    def rotate_routing_key(
        self, *, integration_id: str, grace_ms: Millis = DEFAULT_KEY_GRACE_MS
    ) -> Issued:
        """Issue a new routing key; the old one stays valid for ``grace_ms``.

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
        )
        state = self._run_tenant(tenant_id, command, register=(hash_key(key), integration_id))
        integration = state.integration(integration_id)
        assert integration is not None
        return Issued(tenant_id=tenant_id, integration=integration, routing_key=key)

    def rotate_signing_secret(
        self, *, integration_id: str, grace_ms: Millis = DEFAULT_KEY_GRACE_MS
    ) -> Issued:
        """Issue a new signing secret; signatures made with the old one are accepted for
        ``grace_ms``.

        Raises:
            CommandRejected: unknown integration or a negative grace period.
            StoreUnavailable: the store could not be reached.
        """
        tenant_id = self.tenant_of(integration_id)
        secret = new_signing_secret()
        command = tenancy.RotateSigningSecret(
            integration_id=integration_id,
            signing_secret=secret,
            grace_ms=grace_ms,
            at=self._clock(),
        )
        state = self._run_tenant(tenant_id, command)
        integration = state.integration(integration_id)
        assert integration is not None
        return Issued(tenant_id=tenant_id, integration=integration, signing_secret=secret)

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
