"""Changes (deploys, config changes) as people see them: the tenant's list, and those of a
service made shortly before an alert's episode started (a read model)."""

from __future__ import annotations

import attrs

from helios.apps.application.paging import Page
from helios.apps.views import changes as view
from helios.domain.values import Millis
from helios.ports.read_models import ReadModels

RECENT_LIMIT = 20

ChangeRow = view.ChangeRow


@attrs.frozen(kw_only=True)
class ChangeFilter:
    """What a list of changes is narrowed to; filters combine with AND."""

    service: str | None = None
    source: str | None = None
    text: str | None = None
    """Text in the summary, any case."""
    since: Millis | None = None
    until: Millis | None = None


def change_page(
    read_models: ReadModels,
    *,
    tenant: str,
    matching: ChangeFilter,
    after: tuple[int, str] | None,
    limit: int,
) -> Page[ChangeRow]:
    """The tenant's changes, most recent first (ties by id), after the (occurred_at, id)
    position ``after``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    rows, more = view.page(
        read_models,
        view.ChangeFilter(
            tenant=tenant,
            service=matching.service,
            source=matching.source,
            text=matching.text,
            since=matching.since,
            until=matching.until,
            after=after,
        ),
        limit=limit,
    )
    return Page(items=tuple(rows), more=more)


def recent_changes(
    read_models: ReadModels, *, tenant: str, service: str, started_at: Millis, window_ms: int
) -> tuple[ChangeRow, ...]:
    """The changes of ``service`` made within ``window_ms`` before ``started_at``, newest
    first, at most ``RECENT_LIMIT``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    found = view.recent(
        read_models,
        tenant=tenant,
        service=service,
        since=started_at - window_ms,
        until=started_at,
        limit=RECENT_LIMIT,
    )
    return tuple(found)
