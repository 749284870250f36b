"""The analytics store port: a columnar table of facts, one per decision, for aggregations.

Analytics is derived data kept by one worker, apart from the log and the read models: the
store can be deleted and rebuilt from the log at any time. Every fact carries the log position
of the decision it records, and loading a fact whose position is already there changes nothing,
so a redelivered or replayed message is harmless.

The store answers SQL over one table, ``facts`` (the columns of ``Fact``), in the DuckDB
dialect (``quantile_cont``, ``epoch_ms``, ``date_trunc``), which the application's analytics
queries are written in; Athena and Spark read the same columns from Parquet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs

Row = tuple[Any, ...]


class AnalyticsUnavailable(Exception):
    """The analytics store cannot be read or written now (locked, full disk, unwritable).

    Nothing of the batch being loaded was kept; the caller retries later.
    """


@attrs.frozen(kw_only=True)
class Fact:
    """One decision, flattened for counting.

    ``kind`` is what happened (``signal``, ``duplicate``, ``triggered``, ``reopened``,
    ``acknowledged``, ``resolved``, ``scored``, ``notified``, ``suppressed``,
    ``flapping_started``, ``silenced``, ...); ``at_ms`` is the decision's own recorded time
    (milliseconds since the epoch, UTC), never the time it was loaded.
    """

    position: int
    tenant: str
    kind: str
    key: str
    at_ms: int
    episode: str = ""
    source: str = ""
    service: str = ""
    priority: str = ""
    detail: str = ""
    """What else the kind needs: who acknowledged or resolved, why a notification was
    suppressed, the alert's summary."""


FACT_COLUMNS = tuple(field.name for field in attrs.fields(Fact))


class AnalyticsStore(Protocol):
    """The worker's private analytics store (one process writes it)."""

    def load(self, facts: Sequence[Fact]) -> int:
        """Add the facts whose positions are new, in one transaction; returns how many.

        Raises:
            AnalyticsUnavailable: the store cannot be written; nothing was added.
        """
        ...

    def loaded_through(self) -> int:
        """The highest log position loaded (0 when empty).

        Raises:
            AnalyticsUnavailable: the store cannot be read.
        """
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of one read-only statement over ``facts`` (``?`` placeholders).

        Raises:
            AnalyticsUnavailable: the store cannot be read.
        """
        ...

    def reset(self) -> None:
        """Forget every fact (before a rebuild from the log).

        Raises:
            AnalyticsUnavailable: the store cannot be written.
        """
        ...

    def close(self) -> None: ...
