"""The activity feed: the tenant's decisions worth a line, newest first (a read model)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from helios.apps.application.paging import Filters, Page, page_of
from helios.apps.views.database import ReadModels
from helios.domain.values import Millis


@attrs.frozen(kw_only=True)
class ActivityRow:
    position: int
    """The decision's position in the tenant-wide log (the entry's id)."""
    at: Millis
    kind: str
    subject: str
    text: str

    @classmethod
    def of(cls, row: Sequence[Any]) -> ActivityRow:
        return cls(position=row[0], at=row[1], kind=row[2], subject=row[3], text=row[4])


def activity_page(
    read_models: ReadModels, *, tenant: str, kind: str | None, before: int | None, limit: int
) -> Page[ActivityRow]:
    """The tenant's entries (of ``kind`` when given), newest first, before log position
    ``before``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    filters = Filters()
    filters.equal("tenant", tenant)
    if kind:
        filters.equal("kind", kind)
    if before is not None:
        filters.where.append("position < ?")
        filters.params.append(before)
    return page_of(
        read_models,
        "SELECT position, at, kind, subject, text FROM activity",
        filters,
        order="position DESC",
        limit=limit,
        row=ActivityRow.of,
    )
