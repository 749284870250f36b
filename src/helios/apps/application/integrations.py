"""What an operator sees of a tenant's integrations: each one (never its key or secret) with
when it last sent something and how many of its deliveries were accepted and rejected
(``integration_stats``, kept by the projector: as fresh as the read models)."""

from __future__ import annotations

import attrs

from helios.apps.application.tenancy import TenancyService
from helios.apps.views import integration_stats
from helios.domain.errors import CommandRejected
from helios.domain.tenancy import Integration
from helios.ports.read_models import ReadModels


@attrs.frozen(kw_only=True)
class IntegrationOverview:
    integration: Integration
    last_seen_at: int | None
    """When it last sent a delivery (None: never)."""
    accepted: int
    rejected: int


def overview(
    tenancy: TenancyService, db: ReadModels, *, tenant: str
) -> tuple[IntegrationOverview, ...]:
    """The tenant's integrations with their delivery counts, oldest first.

    Raises:
        CommandRejected: no such tenant.
        StoreUnavailable: the store or the read-model database cannot be reached.
    """
    state = tenancy.tenant(tenant)
    if not state.exists:
        raise CommandRejected("no such tenant", (("tenant", "unknown"),))
    stats = integration_stats.of_tenant(db, tenant)
    found = []
    for integration in state.integrations:
        seen = stats.get(integration.integration_id)
        found.append(
            IntegrationOverview(
                integration=integration,
                last_seen_at=seen.last_seen_at if seen else None,
                accepted=seen.accepted if seen else 0,
                rejected=seen.rejected if seen else 0,
            )
        )
    return tuple(found)


class NoSuchIntegration(LookupError):
    """The tenant has no integration with this id (another tenant's is not found, like none)."""


def of_tenant(tenancy: TenancyService, *, tenant: str, integration_id: str) -> Integration:
    """One of the tenant's integrations, before anything is done to it on the tenant's behalf
    (integration ids are global: this keeps each tenant's admins to their own).

    Raises:
        NoSuchIntegration: the tenant has no integration with this id.
        StoreUnavailable: the store cannot be reached.
    """
    found = tenancy.tenant(tenant).integration(integration_id)
    if found is None:
        raise NoSuchIntegration(integration_id)
    return found
