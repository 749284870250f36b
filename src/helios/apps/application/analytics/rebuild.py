"""Rebuilding the analytics store from the event log (``helios analytics rebuild``)."""

from __future__ import annotations

from collections.abc import Callable

from helios.apps.application.analytics.decisions import decision_body, is_fanned_out
from helios.apps.application.analytics.facts import fact_from_message
from helios.apps.views.streams import StreamDirectory
from helios.ports.analytics import AnalyticsStore, Fact
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

PAGE_SIZE = 2_000


def rebuild_analytics(
    log: EventStore,
    analytics: AnalyticsStore,
    db: ReadModels,
    *,
    progress: Callable[[int, int], None] | None = None,
    page_size: int = PAGE_SIZE,
) -> int:
    """Forget every fact and load the log's decisions again, as the fan-out would have sent
    them (the same message, read the same way); returns the facts loaded.

    ``progress(position, end)`` is called after each page. Run it with the analytics worker
    stopped: the worker holds the store's file.

    Raises:
        AnalyticsUnavailable: the analytics store cannot be written.
        StoreUnavailable: the log or the read models cannot be read.
    """
    directory = StreamDirectory(db, log)
    end = log.max_position()
    analytics.reset()
    loaded = 0
    after = 0
    while True:
        page = log.read_log(after, page_size)
        if not page:
            break
        directory.learn(page)
        facts: list[Fact] = []
        for entry in page:
            if not is_fanned_out(entry.name):
                continue
            owner = directory.name(entry.stream_id)
            body = decision_body(
                entry, tenant=owner.tenant if owner else "", key=owner.key if owner else ""
            )
            fact = fact_from_message(body)
            if fact is not None:
                facts.append(fact)
        loaded += analytics.load(facts)
        after = page[-1].position
        if progress is not None:
            progress(after, max(end, after))
        if len(page) < page_size:
            break
    return loaded
