"""Ruleset use cases: publish a tenant's next ruleset, read the one in force.

Every rule change is an event on the tenant's ruleset stream, decided by
``helios.domain.ruleset_stream`` (validation, next version, the pattern engine recorded).
"""

from __future__ import annotations

import attrs

from helios.apps.application.repository import execute
from helios.domain import engine, ruleset_stream
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
    execute(
        store,
        engine.ruleset_stream(tenant),
        initial=lambda: ruleset_stream.initial_state(tenant),
        evolve=ruleset_stream.evolve,
        decide=lambda state: ruleset_stream.decide(command, state),
    )
    return ruleset.version


def rules_in_force(store: EventStore, *, tenant: str) -> RulesInForce:
    """The tenant's ruleset in force, with its publication.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    state = ruleset_stream.initial_state(tenant)
    published_at: Millis | None = None
    published_by = ""
    for item in store.read_stream(engine.ruleset_stream(tenant)):
        state = ruleset_stream.evolve(state, item.event)
        published_at, published_by = item.event.at, item.event.by
    return RulesInForce(ruleset=state.current, published_at=published_at, published_by=published_by)
