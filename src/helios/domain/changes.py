"""Changes: deploys, configuration updates, flags flipped — what changed, not what is wrong.

A change never creates, updates or scores an alert. It is recorded with the envelope it came
in (``helios.intake.change_recorded.v1``) and shown beside the alerts of the same service
that started soon after it ("deploy api v42, 3 min before").
"""

from __future__ import annotations

import attrs

from helios.domain.identity import stable_hash
from helios.domain.values import Link, Millis


@attrs.frozen(kw_only=True)
class Change:
    """One canonical change, as normalized from its source.

    ``change_id`` is a content hash (see ``change_id``): the same change delivered twice has
    the same id, whatever its ``received_at`` or integration.
    """

    change_id: str
    tenant: str
    integration: str
    source: str
    """The format it came in (``pagerduty``)."""
    summary: str
    service: str
    """The service it changed: what alerts of that service are matched on."""
    origin: str
    """Where the sender says it happened (PagerDuty ``payload.source``, e.g. a build agent)."""
    occurred_at: Millis
    received_at: Millis
    links: tuple[Link, ...] = ()
    details: str = "{}"
    """Canonical JSON text (sorted keys): immutable and byte-stable."""
    notes: tuple[str, ...] = ()
    """What normalization changed and why (truncation, clamped clock skew, defaults)."""


def change_id(
    *,
    tenant: str,
    source: str,
    service: str,
    origin: str,
    occurred_at: Millis,
    summary: str,
    details: str,
) -> str:
    """The content hash of a change; delivery facts (arrival, integration) are left out."""
    return "chg-" + stable_hash(tenant, source, service, origin, str(occurred_at), summary, details)
