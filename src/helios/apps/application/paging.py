"""A page of a read-model list: its rows, and whether another page follows."""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

Row = TypeVar("Row")


@attrs.frozen
class Page(Generic[Row]):
    items: tuple[Row, ...]
    more: bool
    """Whether rows follow the last one (start the next page after it)."""
