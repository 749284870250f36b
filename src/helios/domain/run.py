"""``Run``: an immutable sequence whose append and drop-from-the-front cost O(1) amortised.

The alert state keeps its signals inside the lateness horizon, and the fold after each, as
runs. A new state is made for every signal; copying the whole sequence each time would make the
cost of a signal grow with how many the alert holds. A run is a view ``items[start:stop]`` of a
backing list that only ever grows at its end: appending to the run that ends where the list
ends extends the list in place and returns a longer view, so every older view still sees
exactly what it saw. Appending to any other view (a branch) copies. Dropping from the front
moves ``start``; the dropped items are let go of by the next copy, made once they are more than
the items kept, so the memory held stays within twice the run and the copying amortises.

It is a frozen ``msgspec.Struct`` (two are built for every new signal: a struct is built in C and
never tracked by the garbage collector), so the state stays encodable (the spilled states of
replay, snapshots), with the shape the attrs class it was had. Equality is that of the items
seen, whatever the backing list holds around them.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")

_COMPACT_ABOVE = 32
"""Dropped items kept around at most, below which no copy is worth making."""


class Run(msgspec.Struct, Generic[T], frozen=True, eq=False, kw_only=True, gc=False):
    items: list[T] = msgspec.field(default_factory=list)
    start: int = 0
    stop: int = 0

    @classmethod
    def of(cls, values: Sequence[T]) -> Run[T]:
        return Run(items=list(values), start=0, stop=len(values))

    def __len__(self) -> int:
        return self.stop - self.start

    def __bool__(self) -> bool:
        return self.stop > self.start

    def __getitem__(self, index: int) -> T:
        size = self.stop - self.start
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(index)
        return self.items[self.start + index]

    def __iter__(self) -> Iterator[T]:
        items = self.items
        for position in range(self.start, self.stop):
            yield items[position]

    def __reversed__(self) -> Iterator[T]:
        items = self.items
        for position in range(self.stop - 1, self.start - 1, -1):
            yield items[position]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Run):
            return len(self) == len(other) and all(
                mine == theirs for mine, theirs in zip(self, other, strict=True)
            )
        if isinstance(other, tuple | list):
            return self.to_tuple() == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Run({list(self)!r})"

    def to_tuple(self) -> tuple[T, ...]:
        return tuple(self.items[self.start : self.stop])

    def last(self) -> T | None:
        return self.items[self.stop - 1] if self.stop > self.start else None

    def appended(self, value: T) -> Run[T]:
        """This run with ``value`` at its end: O(1) unless this run is a branch (or its
        dropped items are due to be let go of), which copies it once."""
        # Fields read once, and ``max`` spelled out: this runs for every new signal, twice.
        items, start, stop = self.items, self.start, self.stop
        if stop == len(items) and (start <= _COMPACT_ABOVE or start <= stop - start):
            items.append(value)
            # Another state made from this same one may have appended first (between our
            # length check and our append): then ours landed further on, and this is a branch.
            if items[stop] is value:
                return _replace(self, stop=stop + 1)  # a copy made in C, of the same list
        copied = items[start:stop]
        copied.append(value)
        return Run(items=copied, start=0, stop=len(copied))

    def without_first(self, count: int) -> Run[T]:
        """This run without its first ``count`` items, in O(1)."""
        if count <= 0:
            return self
        start, stop = self.start + count, self.stop
        # ``min``, spelled out: the builtin's call costs several times the comparison.
        return Run(items=self.items, start=stop if start > stop else start, stop=stop)

    def prefix_then(self, index: int, values: Sequence[T]) -> Run[T]:
        """The first ``index`` items of this run followed by ``values`` (a copy)."""
        copied = self.items[self.start : self.start + index]
        copied.extend(values)
        return Run(items=copied, start=0, stop=len(copied))

    def inserted(self, index: int, value: T) -> Run[T]:
        """This run with ``value`` at ``index`` (a copy)."""
        copied = self.items[self.start : self.stop]
        copied.insert(index, value)
        return Run(items=copied, start=0, stop=len(copied))

    def tail(self, index: int) -> list[T]:
        """The items from ``index`` on (a copy)."""
        return self.items[self.start + index : self.stop]

    def head(self, count: int) -> list[T]:
        """The first ``count`` items (a copy)."""
        return self.items[self.start : self.start + count]

    def bisect_right(self, key: Any, by: Callable[[T], Any]) -> int:
        """Where an item whose ``by`` is ``key`` goes after its equals (the run being sorted by
        ``by``), in O(log n)."""
        found = bisect.bisect_right(self.items, key, lo=self.start, hi=self.stop, key=by)
        return found - self.start

    def bisect_left(self, key: Any, by: Callable[[T], Any]) -> int:
        """Where an item whose ``by`` is ``key`` goes before its equals, in O(log n)."""
        found = bisect.bisect_left(self.items, key, lo=self.start, hi=self.stop, key=by)
        return found - self.start

    def compact(self) -> Run[T]:
        """The same run over a list of exactly its items (smaller to encode)."""
        if self.start == 0 and self.stop == len(self.items):
            return self
        return Run(items=self.items[self.start : self.stop], start=0, stop=self.stop - self.start)


_replace = msgspec.structs.replace


def empty_run() -> Run[Any]:
    """A new empty run (each its own backing list)."""
    return Run(items=[], start=0, stop=0)
