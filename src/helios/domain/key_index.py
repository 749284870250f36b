"""The routing-key index: which integration a routing-key hash belongs to.

One stream for the installation. The API hashes the routing key it receives and looks it up
here; the index refuses a hash that is already registered, so one key never opens two
integrations. A decider: ``decide`` refuses, ``evolve`` is total.
"""

from __future__ import annotations

import re

import attrs

from helios.domain import identity
from helios.domain.errors import CommandRejected
from helios.domain.events import event
from helios.domain.values import Millis

STREAM = identity.stream_id("tenancy.key-index")
"""The one stream of the key index."""

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@attrs.frozen(kw_only=True)
class KeyIndex:
    """Every routing-key hash ever registered (a rotated-out key stays: hashes are never
    reused). A frozenset: evolving copies it, fine for the thousands of keys an installation
    holds."""

    key_hashes: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class RegisterRoutingKey:
    key_hash: str
    tenant_id: str
    integration_id: str
    at: Millis


@event("helios.tenancy.routing_key_registered.v1")
@attrs.frozen(kw_only=True)
class RoutingKeyRegistered:
    key_hash: str
    tenant_id: str
    integration_id: str
    at: Millis


def initial_state() -> KeyIndex:
    return KeyIndex()


def decide(command: RegisterRoutingKey, state: KeyIndex) -> tuple[RoutingKeyRegistered, ...]:
    """Register a routing-key hash for an integration.

    Raises:
        CommandRejected: the hash is malformed or already registered.
    """
    problems = key_hash_problems(command.key_hash)
    if command.key_hash in state.key_hashes:
        problems.append(("key_hash", "already registered"))
    if problems:
        raise CommandRejected("invalid routing key", tuple(problems))
    return (
        RoutingKeyRegistered(
            key_hash=command.key_hash,
            tenant_id=command.tenant_id,
            integration_id=command.integration_id,
            at=command.at,
        ),
    )


def evolve(state: KeyIndex, event: RoutingKeyRegistered) -> KeyIndex:
    return KeyIndex(key_hashes=state.key_hashes | {event.key_hash})


def key_hash_problems(key_hash: str) -> list[tuple[str, str]]:
    """What is wrong with a routing-key hash (the tenant checks it too, on create and rotate)."""
    if _SHA256_HEX.fullmatch(key_hash) is None:
        return [("key_hash", "must be a SHA-256 hex digest")]
    return []
