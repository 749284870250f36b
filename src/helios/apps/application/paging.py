"""Pages of a read-model list: filters joined with AND, keyset positions, one row more read to
tell whether another page follows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import attrs

from helios.apps.views.database import ReadModels
from helios.domain.values import Millis

Row = TypeVar("Row")


@attrs.frozen
class Page(Generic[Row]):
    items: tuple[Row, ...]
    more: bool
    """Whether rows follow the last one (start the next page after it)."""


@attrs.define
class Filters:
    """The WHERE clause of a list query, built filter by filter, with its parameters."""

    where: list[str] = attrs.Factory(list)
    params: list[Any] = attrs.Factory(list)

    def equal(self, column: str, value: object) -> None:
        self.where.append(f"{column} = ?")
        self.params.append(value)

    def contains(self, column: str, text: str) -> None:
        """``column`` holds ``text`` anywhere, ignoring case (LIKE wildcards taken literally)."""
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        self.where.append(f"LOWER({column}) LIKE ? ESCAPE '\\'")
        self.params.append(f"%{escaped}%")

    def time_range(self, column: str, start: Millis | None, end: Millis | None) -> None:
        """``start <= column < end``; a missing bound is open."""
        if start is not None:
            self.where.append(f"{column} >= ?")
            self.params.append(start)
        if end is not None:
            self.where.append(f"{column} < ?")
            self.params.append(end)

    def after(self, time_column: str, id_column: str, position: tuple[int, str] | None) -> None:
        """Start a list ordered by ``time_column DESC, id_column DESC`` after ``position``."""
        if position is not None:
            time, key = position
            self.where.append(f"({time_column} < ? OR ({time_column} = ? AND {id_column} < ?))")
            self.params += [time, time, key]


def page_of(
    read_models: ReadModels,
    select: str,
    filters: Filters,
    *,
    order: str,
    limit: int,
    row: Callable[[Sequence[Any]], Row],
) -> Page[Row]:
    """Up to ``limit`` rows of ``select`` (a SELECT ... FROM) under ``filters`` in ``order``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    found = read_models.query(
        f"{select} WHERE {' AND '.join(filters.where)} ORDER BY {order} LIMIT ?",
        [*filters.params, limit + 1],
    )
    return Page(items=tuple(row(r) for r in found[:limit]), more=len(found) > limit)
