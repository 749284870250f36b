"""Ruleset use cases: publish a tenant's next ruleset, read the one in force.

Every rule change is an event on the tenant's ruleset stream, decided by
``helios.domain.ruleset_stream`` (validation, next version, the pattern engine recorded).
"""

from __future__ import annotations

import attrs

from helios.apps.application.repository import RULESET, Repository
from helios.domain import ruleset_stream
from helios.domain.ruleset import Ruleset
from helios.domain.values import Millis
from helios.ports.event_store import EventStore


@attrs.frozen(kw_only=True)
class RulesInForce:
    """A tenant's current ruleset and who published it when (None, "": the defaults)."""

    ruleset: Ruleset
    published_at: Millis | None
    published_by: str


def publish_rules(store: EventStore, *, tenant: str, ruleset: Ruleset, by: str, at: Millis) -> int:
    """Publish the next version of a tenant's rules; returns the version.

    Raises:
        CommandRejected: the ruleset is invalid or not the next version.
        ConcurrencyConflict: another version was published meanwhile.
        StoreUnavailable: the store cannot be reached.
    """
    command = ruleset_stream.PublishRuleset(ruleset=ruleset, at=at, by=by)
    Repository(store).execute(RULESET, tenant, lambda state: ruleset_stream.decide(command, state))
    return ruleset.version


def rules_in_force(store: EventStore, *, tenant: str) -> RulesInForce:
    """The tenant's ruleset in force, with its publication.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    state, version = Repository(store).load(RULESET, tenant)
    return RulesInForce(
        ruleset=state.current,
        published_at=state.published_at if version else None,
        published_by=state.published_by,
    )
