"""How far behind Helios is: the queue's backlog, the log's head, each follower's lag.

Read on each scrape of ``/metrics`` (and by the alert rules in ``infra/monitoring/``), so each
part is cheap (a count, a max, a small table) and one that fails leaves the others readable.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio.to_thread
import attrs

from helios.apps.views import insights, outbox
from helios.apps.views.outbox import OutboxSummary
from helios.apps.views.positions import all_positions
from helios.ports.event_store import EventStore
from helios.ports.queue import Queue, QueueBacklog
from helios.ports.read_models import ReadModels

READ_TIMEOUT_S = 5.0


@attrs.frozen(kw_only=True)
class Health:
    backlog: QueueBacklog | None
    """None when the queue could not be read."""
    log_head: int | None
    """The event log's last position; None when the store could not be read."""
    follower_positions: dict[str, int] | None
    """Each follower's committed position; None when the read models could not be read."""
    notifications: OutboxSummary | None = None
    """The notification outbox by status; None when the read models could not be read."""
    analytics_loaded_through: int | None = None
    """The log position analytics had loaded at its last publication (None: never, or
    unknown)."""

    @property
    def analytics_lag(self) -> int | None:
        """Log entries recorded since what analytics last published had loaded: an upper
        bound (not every entry is a decision), growing while analytics is stopped."""
        if self.log_head is None or self.analytics_loaded_through is None:
            return None
        return max(0, self.log_head - self.analytics_loaded_through)

    def lag(self, follower: str) -> int | None:
        """Log entries the follower has yet to process (None when unknown)."""
        if self.log_head is None or self.follower_positions is None:
            return None
        return max(0, self.log_head - self.follower_positions.get(follower, 0))


async def read_health(
    *, store: EventStore, queue: Queue, read_models: Callable[[], ReadModels]
) -> Health:
    """Read every part; a part that fails or takes longer than ``READ_TIMEOUT_S`` is None."""
    backlog: QueueBacklog | None = None
    head: int | None = None
    positions: dict[str, int] | None = None
    notifications: OutboxSummary | None = None
    analytics: int | None = None
    with anyio.move_on_after(READ_TIMEOUT_S):
        try:
            backlog = await queue.backlog()
        except Exception:  # any failure means "unknown": the dependency gauge shows it
            backlog = None
    with anyio.move_on_after(READ_TIMEOUT_S):
        try:
            head = await anyio.to_thread.run_sync(store.max_position, abandon_on_cancel=True)
        except Exception:  # as above
            head = None
    with anyio.move_on_after(READ_TIMEOUT_S):
        try:
            positions, notifications, analytics = await anyio.to_thread.run_sync(
                lambda: (
                    all_positions(read_models()),
                    outbox.summary(read_models()),
                    insights.loaded_through(read_models()),
                ),
                abandon_on_cancel=True,
            )
        except Exception:  # as above
            positions = notifications = analytics = None
    return Health(
        backlog=backlog,
        log_head=head,
        follower_positions=positions,
        notifications=notifications,
        analytics_loaded_through=analytics,
    )
