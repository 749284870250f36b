"""Changes (deploys, config changes) as people see them: the tenant's list, and those of a
service made shortly before an alert's episode started (a read model)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from helios.apps.application.paging import Filters, Page, page_of
from helios.apps.views.database import ReadModels
from helios.domain.values import Millis

RECENT_LIMIT = 20
_COLUMNS = (
    "change_id, summary, service, origin, source, integration, occurred_at, received_at, "
    "links, details"
)


@attrs.frozen(kw_only=True)
class ChangeRow:
    change_id: str
    summary: str
    service: str
    origin: str
    source: str
    integration: str
    occurred_at: Millis
    received_at: Millis
    links: str
    """JSON text: a list of ``{"href", "text"}``."""
    details: str
    """JSON text: an object."""

    @classmethod
    def of(cls, row: Sequence[Any]) -> ChangeRow:
        return cls(
            change_id=row[0],
            summary=row[1],
            service=row[2],
            origin=row[3],
            source=row[4],
            integration=row[5],
            occurred_at=row[6],
            received_at=row[7],
            links=row[8],
            details=row[9],
        )


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
    filters = Filters()
    filters.equal("tenant", tenant)
    if matching.service:
        filters.equal("service", matching.service)
    if matching.source:
        filters.equal("source", matching.source)
    if matching.text:
        filters.contains("summary", matching.text)
    filters.time_range("occurred_at", matching.since, matching.until)
    filters.after("occurred_at", "change_id", after)
    return page_of(
        read_models,
        f"SELECT {_COLUMNS} FROM changes",
        filters,
        order="occurred_at DESC, change_id DESC",
        limit=limit,
        row=ChangeRow.of,
    )


def recent_changes(
    read_models: ReadModels, *, tenant: str, service: str, started_at: Millis, window_ms: int
) -> tuple[ChangeRow, ...]:
    """The changes of ``service`` made within ``window_ms`` before ``started_at``, newest
    first, at most ``RECENT_LIMIT``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    rows = read_models.query(
        f"SELECT {_COLUMNS} FROM changes WHERE tenant = ? AND service = ? "
        "AND occurred_at >= ? AND occurred_at <= ? "
        "ORDER BY occurred_at DESC, change_id DESC LIMIT ?",
        (tenant, service, started_at - window_ms, started_at, RECENT_LIMIT),
    )
    return tuple(ChangeRow.of(row) for row in rows)
