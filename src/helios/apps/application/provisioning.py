"""First start: what a fresh store needs before anything can be sent to it or read from it.

On the first start of the embedded default (``helios up``, ``helios demo``) a default tenant
is created with an Alertmanager webhook integration and a PagerDuty Events API integration,
and a responder of that tenant with a personal API token to read alerts with. Each is created
once: the credentials, shown once, are kept in a ``Keyring`` (a file only its owner can read),
and what the keyring already holds is not created again. A keyring written before the PagerDuty
integration existed keeps its key and gains one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from helios.apps.application.access import AccessService
from helios.apps.application.repository import Repository
from helios.apps.application.tenancy import TenancyService
from helios.domain.access import Role
from helios.domain.values import SourceKind
from helios.ports.event_store import EventStore

DEFAULT_TENANT = "default"
RESPONDER_EMAIL = "oncall@localhost"
DEMO_SOURCES = (SourceKind.GRAFANA, SourceKind.PAGERDUTY)
"""Integrations the demo sends through, besides the first-start Alertmanager one."""


class Keyring(Protocol):
    """Where credentials shown once are kept between starts (only their hashes are in the
    store, so this is the only copy)."""

    def read(self) -> dict[str, str]:
        """What was kept ({} when nothing was)."""
        ...

    def write(self, details: Mapping[str, str]) -> None:
        """Replace what is kept, all at once (no reader sees half of it)."""
        ...


class Provisioning:
    """The first-start use case (synchronous; async entry points call it in a thread)."""

    def __init__(self, store: EventStore, *, repository: Repository | None = None) -> None:
        repository = repository if repository is not None else Repository(store)
        self._tenancy = TenancyService(store, repository=repository)
        self._access = AccessService(store, repository=repository)

    def integrations(self, keyring: Keyring) -> tuple[dict[str, str], frozenset[str]]:
        """The default tenant's integrations, each created (with a new key) the first time
        only: an Alertmanager webhook (``routing_key``) and a PagerDuty Events API
        integration (``pagerduty_routing_key``) for tools that send there.

        Returns what the keyring holds afterwards and the names of the keys created now (to
        be shown once).

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        details = keyring.read()
        fresh: set[str] = set()
        if not details:
            tenant = self._tenancy.create_tenant(DEFAULT_TENANT)
            issued = self._tenancy.create_integration(
                tenant_id=tenant.tenant_id, kind=SourceKind.ALERTMANAGER, name="alertmanager"
            )
            details = {
                "tenant": issued.tenant_id,
                "integration": issued.integration.integration_id,
                "kind": SourceKind.ALERTMANAGER.value,
                "routing_key": issued.routing_key,
            }
            fresh.add("routing_key")
        if "pagerduty_routing_key" not in details:
            issued = self._tenancy.create_integration(
                tenant_id=details["tenant"], kind=SourceKind.PAGERDUTY, name="pagerduty"
            )
            details["pagerduty_integration"] = issued.integration.integration_id
            details["pagerduty_routing_key"] = issued.routing_key
            fresh.add("pagerduty_routing_key")
        if fresh:
            keyring.write(details)
        return details, frozenset(fresh)

    def responder(self, keyring: Keyring, tenant_id: str) -> tuple[dict[str, str], bool]:
        """A responder of the tenant and a personal API token to read alerts with, created
        the first time only; returns what the keyring holds and whether it was created now.

        Raises:
            CommandRejected: no such tenant.
            StoreUnavailable: the store cannot be reached.
        """
        details = keyring.read()
        if details:
            return details, False
        user = self._access.create_user(
            tenant_id=tenant_id, email=RESPONDER_EMAIL, role=Role.RESPONDER
        )
        issued = self._access.issue_token(
            tenant_id=tenant_id, user_id=user.user_id, name="first start"
        )
        details = {"tenant": tenant_id, "user": user.user_id, "token": issued.token}
        keyring.write(details)
        return details, True

    def demo_integrations(
        self, keyring: Keyring, first_start: Mapping[str, str]
    ) -> dict[SourceKind, str]:
        """A routing key per demo source: the first-start Alertmanager integration's, plus a
        Grafana and a PagerDuty integration created once for the demo.

        Raises:
            StoreUnavailable: the store cannot be reached.
        """
        stored = keyring.read()
        if not stored:
            stored = {SourceKind.ALERTMANAGER.value: first_start["routing_key"]}
            for kind in DEMO_SOURCES:
                issued = self._tenancy.create_integration(
                    tenant_id=first_start["tenant"], kind=kind, name=f"demo-{kind.value}"
                )
                stored[kind.value] = issued.routing_key
            keyring.write(stored)
        return {SourceKind(kind): key for kind, key in stored.items()}
