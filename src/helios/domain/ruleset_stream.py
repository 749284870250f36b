"""The per-tenant stream of published rulesets: every rule change is an event."""

from __future__ import annotations

import uuid

import attrs

from helios.domain.errors import CommandRejected
from helios.domain.events import event
from helios.domain.identity import stream_id
from helios.domain.patterns import RegexEngine
from helios.domain.ruleset import DEFAULT_RULESET, Ruleset, validate
from helios.domain.values import Millis


@attrs.frozen(kw_only=True)
class TenantRules:
    tenant: str
    current: Ruleset = DEFAULT_RULESET
    published: int = 0
    """How many versions were published (0: the built-in defaults are in force)."""
    published_at: Millis = 0
    """When the version in force was published (0: never)."""
    published_by: str = ""


@attrs.frozen(kw_only=True)
class PublishRuleset:
    ruleset: Ruleset
    at: Millis
    by: str = ""


@event("helios.ruleset.published.v1")
@attrs.frozen(kw_only=True)
class RulesetPublished:
    ruleset: Ruleset
    at: Millis
    by: str = ""


def initial_state(tenant: str) -> TenantRules:
    return TenantRules(tenant=tenant)


def ruleset_stream_id(tenant: str) -> uuid.UUID:
    """The stream of a tenant's published rulesets."""
    return stream_id("ruleset", tenant)


def decide(command: PublishRuleset, state: TenantRules) -> tuple[RulesetPublished, ...]:
    """Publish the next version of a tenant's rules.

    Raises:
        CommandRejected: the ruleset is invalid (a pattern RE2 cannot read included) or its
            version is not the next one.
    """
    problems = [(p.field, p.message) for p in validate(command.ruleset)]
    expected = state.current.version + 1
    if command.ruleset.version != expected:
        problems.append(("version", f"must be {expected}, the next version"))
    if problems:
        raise CommandRejected("invalid ruleset", tuple(problems))
    # Validated as RE2 just above: record it, so its patterns are never read by another engine.
    ruleset = attrs.evolve(command.ruleset, regex_engine=RegexEngine.RE2)
    return (RulesetPublished(ruleset=ruleset, at=command.at, by=command.by),)


def evolve(state: TenantRules, event: RulesetPublished) -> TenantRules:
    return attrs.evolve(
        state,
        current=event.ruleset,
        published=state.published + 1,
        published_at=event.at,
        published_by=event.by,
    )
