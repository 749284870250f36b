"""Publishing analytics for the API: the documents of ``documents`` into the read models."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from helios.apps.application.analytics import documents
from helios.apps.application.analytics.whatif import with_what_if
from helios.apps.views import insights
from helios.ports.analytics import AnalyticsStore
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels


def publish_documents(
    store: AnalyticsStore,
    db: ReadModels,
    *,
    tenants: Iterable[str],
    now: int,
    log: EventStore | None = None,
) -> list[insights.Document]:
    """Compute each tenant's overview, trends and suggestions as of ``now`` and replace the
    published ones, all tenants in one transaction.

    With ``log``, the best suggestions get a new what-if (a replay of 30 days); without, they
    keep the what-if last published for the same suggestion.

    Raises:
        AnalyticsUnavailable: the analytics store cannot be read (nothing was published).
        StoreUnavailable: the read models cannot be written.
    """
    through = store.loaded_through()
    built: list[insights.Document] = []
    for tenant in tenants:
        overview = documents.overview(store, tenant, until=now)
        suggestions = documents.suggestions(store, tenant, until=now)
        if log is not None:
            pages = int(overview["totals"].get("notifications", 0))
            with_what_if(log, suggestions, tenant=tenant, until=now, pages=pages)
        else:
            _keep_what_if(db, tenant, suggestions)
        bodies = {
            "overview": overview,
            "trends": documents.trends(store, tenant, until=now),
            "suggestions": suggestions,
        }
        built.extend(
            insights.Document(
                tenant=tenant,
                name=name,
                generated_at=now,
                loaded_through=through,
                body=orjson.dumps(body).decode(),
            )
            for name, body in bodies.items()
        )
    if built:
        with db.transaction() as cursor:
            insights.publish(cursor, built)
    return built


def _keep_what_if(db: ReadModels, tenant: str, suggestions: dict[str, Any]) -> None:
    previous = insights.document(db, tenant=tenant, name="suggestions")
    if previous is None:
        return
    known = {item["id"]: item.get("what_if") for item in orjson.loads(previous.body)["suggestions"]}
    for item in suggestions["suggestions"]:
        if known.get(item["id"]) is not None:
            item["what_if"] = known[item["id"]]
