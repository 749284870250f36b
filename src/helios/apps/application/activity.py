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


def activity_since(
    read_models: ReadModels, *, tenant: str, after: int | None, limit: int
) -> tuple[tuple[ActivityRow, ...], int]:
    """What a live client has not seen: the tenant's entries after log position ``after``
    (oldest first, at most ``limit``), and the position it has now seen up to. With no
    ``after`` (a new client), nothing, and the tenant's latest position.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    if after is None:
        return (), feed.latest_position(read_models, tenant=tenant)
    rows = feed.after(read_models, tenant=tenant, position=after, limit=limit)
    return tuple(rows), rows[-1].position if rows else after
