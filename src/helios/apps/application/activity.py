"""The activity feed: the tenant's decisions worth a line, newest first (a read model)."""

from __future__ import annotations

from helios.apps.application.paging import Page
from helios.apps.views import activity as feed
from helios.ports.read_models import ReadModels

ActivityRow = feed.ActivityRow


def activity_page(
    read_models: ReadModels, *, tenant: str, kind: str | None, before: int | None, limit: int
) -> Page[ActivityRow]:
    """The tenant's entries (of ``kind`` when given), newest first, before log position
    ``before``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    rows, more = feed.page(read_models, tenant=tenant, kind=kind, before=before, limit=limit)
    return Page(items=tuple(rows), more=more)
