"""Publishing analytics for the API: the documents of ``documents`` into the read models."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from helios.apps.application.analytics import documents
from helios.apps.views import insights
from helios.ports.analytics import AnalyticsStore
from helios.ports.read_models import ReadModels


def publish_documents(
    store: AnalyticsStore, db: ReadModels, *, tenants: Iterable[str], now: int
) -> list[insights.Document]:
    """Compute each tenant's overview, trends and suggestions as of ``now`` and replace the
    published ones, all tenants in one transaction.

    Raises:
        AnalyticsUnavailable: the analytics store cannot be read (nothing was published).
        StoreUnavailable: the read models cannot be written.
    """
    through = store.loaded_through()
    built: list[insights.Document] = []
    for tenant in tenants:
        bodies = {
            "overview": documents.overview(store, tenant, until=now),
            "trends": documents.trends(store, tenant, until=now),
            "suggestions": documents.suggestions(store, tenant, until=now),
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
