"""Replay and audit as a library: ``verify``, ``explain`` and ``what_if`` over an event store.

    from helios.adapters.store.factory import open_event_store
    from helios import replay

    report = replay.verify(open_event_store("sqlite:.helios/helios.db"))
    assert report.ok, report.divergences[0]

All three only read the store. ``verify`` and ``what_if`` stream the log in pages and keep a
bounded number of aggregate states in memory, so memory does not grow with history.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from helios.domain.ruleset import Ruleset
from helios.domain.values import Millis
from helios.ports.event_store import EventStore

if TYPE_CHECKING:
    from helios.apps.application.replay.explain import AlertStory
    from helios.apps.application.replay.results import VerifyReport
    from helios.apps.application.replay.whatif import WhatIfReport

# The implementations live with the replay app; imported lazily so that importing this facade
# stays cheap and the layers below never depend on apps.
__all__ = ["explain", "verify", "what_if"]


def verify(
    store: EventStore,
    *,
    tenant: str | None = None,
    since: Millis | None = None,
    until: Millis | None = None,
    page_size: int = 1_000,
    capacity: int | None = None,
    max_divergences: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Re-run normalization and decisions over the recorded inputs and compare with the log.

    Returns the report: counts, rate, and the first
    ``max_divergences`` divergences with recorded and recomputed events. ``capacity`` is how
    many aggregate states stay in memory (the rest wait on disk); memory does not grow with
    history beyond it.

    Raises:
        StoreUnavailable: the store cannot be reached.
    """
    from helios.apps.application.replay.log import Window
    from helios.apps.application.replay.states import DEFAULT_CAPACITY
    from helios.apps.application.replay.verify import Verifier

    window = Window(tenant=tenant, since=since, until=until)
    verifier = Verifier(
        store,
        window=window,
        page_size=page_size,
        capacity=capacity or DEFAULT_CAPACITY,
        max_divergences=max_divergences,
    )
    return verifier.run(progress)


def explain(
    store: EventStore,
    *,
    tenant: str | None = None,
    dedup_key: str | None = None,
    stream_id: uuid.UUID | None = None,
) -> AlertStory:
    """The story of one alert: its signals and decisions, with each score's factors.

    Raises:
        ValueError: neither (tenant, dedup key) nor a stream id was given.
        AlertNotFound: nothing is recorded for that alert.
        StoreUnavailable: the store cannot be reached.
    """
    from helios.apps.application.replay import explain as story

    return story.explain(store, tenant=tenant, dedup_key=dedup_key, stream_id=stream_id)


def what_if(
    store: EventStore,
    *,
    rules: Ruleset,
    tenant: str | None = None,
    since: Millis | None = None,
    until: Millis | None = None,
    page_size: int = 1_000,
    progress: Callable[[int, int], None] | None = None,
) -> WhatIfReport:
    """Replay a window of history under ``rules`` without writing, and report what changes.

    Raises:
        UnknownVersion: an input names rules the log never published.
        StoreUnavailable: the store cannot be reached.
    """
    from helios.apps.application.replay.log import Window
    from helios.apps.application.replay.whatif import what_if as run

    window = Window(tenant=tenant, since=since, until=until)
    return run(store, rules=rules, window=window, page_size=page_size, progress=progress)
