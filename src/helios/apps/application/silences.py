"""Silence use cases: list a tenant's silences, create one, expire one, preview one.

Each is load → decide (``helios.domain.silence``) → append on the tenant's silence stream; the
decider holds every rule, so a refusal names the fields exactly as the domain does.
"""

from __future__ import annotations

import uuid

import attrs
import orjson

from helios.apps.application.repository import SILENCES, Repository
from helios.apps.views import alerts
from helios.domain import silence
from helios.domain.ruleset import LabelMatcher
from helios.domain.values import Millis
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels


class NoSuchSilence(LookupError):
    """The tenant has no silence with this id."""


def tenant_silences(store: EventStore, *, tenant: str) -> tuple[silence.Silence, ...]:
    """The tenant's silences (pending, active and expired), latest start first.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    state, _ = Repository(store).load(SILENCES, tenant)
    return tuple(sorted(state.silences, key=lambda s: -s.starts_at))


def create_silence(
    store: EventStore,
    *,
    tenant: str,
    matchers: tuple[LabelMatcher, ...],
    starts_at: Millis | None,
    ends_at: Millis,
    comment: str,
    author: str,
    at: Millis,
) -> silence.Silence:
    """Create a silence (starting ``at`` unless ``starts_at`` is given) under a new id;
    returns it as recorded.

    Raises:
        CommandRejected: the silence breaks a rule of ``helios.domain.silence.decide``.
        ConcurrencyConflict: the tenant's silences kept changing.
        StoreUnavailable: the store cannot be reached.
    """
    new = silence.Silence(
        silence_id="sil_" + uuid.uuid4().hex[:16],
        matchers=matchers,
        starts_at=at if starts_at is None else starts_at,
        ends_at=ends_at,
        created_by=author,
        comment=comment,
    )
    command = silence.CreateSilence(silence=new, at=at)
    state, _ = Repository(store).execute(
        SILENCES, tenant, lambda current: silence.decide(command, current)
    )
    recorded = state.get(new.silence_id)
    assert recorded is not None
    return recorded


def expire_silence(
    store: EventStore, *, tenant: str, silence_id: str, by: str, at: Millis
) -> silence.Silence:
    """End a silence's window ``at`` (an expired one is left as it is); returns the silence.

    Raises:
        NoSuchSilence: the tenant has no such silence.
        ConcurrencyConflict: the tenant's silences kept changing.
        StoreUnavailable: the store cannot be reached.
    """
    command = silence.ExpireSilence(silence_id=silence_id, at=at, by=by)

    def decide(state: silence.TenantSilences) -> tuple[silence.SilenceEvent, ...]:
        # Unknown is a lookup failure for the caller, not a malformed command.
        if state.get(silence_id) is None:
            raise NoSuchSilence(silence_id)
        return silence.decide(command, state)

    state, _ = Repository(store).execute(SILENCES, tenant, decide)
    expired = state.get(silence_id)
    assert expired is not None
    return expired


PREVIEW_SCAN = 2000
"""The most open alerts a preview reads (the newest first): it says when it stopped there."""


@attrs.frozen(kw_only=True)
class SilencePreview:
    """The open alerts a silence with these matchers would cover now (newest first)."""

    matched: tuple[alerts.AlertRow, ...]
    scanned: int
    complete: bool
    """False when the tenant has more open alerts than ``PREVIEW_SCAN``: older ones unread."""


def preview_silence(
    read_models: ReadModels, *, tenant: str, matchers: tuple[LabelMatcher, ...]
) -> SilencePreview:
    """Which of the tenant's open alerts a silence with ``matchers`` would cover now.

    Raises:
        CommandRejected: the matchers break a silence's rules (each named).
        StoreUnavailable: the read models cannot be reached.
    """
    silence.would_silence(matchers, {})  # the matchers' own check, before reading anything
    where = alerts.AlertFilter(tenant=tenant, statuses=alerts.OPEN_STATUSES)
    rows, more = alerts.page(read_models, where, limit=PREVIEW_SCAN)
    matched = tuple(r for r in rows if silence.would_silence(matchers, orjson.loads(r.labels)))
    return SilencePreview(matched=matched, scanned=len(rows), complete=not more)
