"""Where each follower of the log stands: its committed position and how far behind it is."""

from __future__ import annotations

import attrs

from helios.apps.views.positions import committed_position
from helios.ports.event_store import EventStore
from helios.ports.read_models import ReadModels

FOLLOWERS = ("projector", "notifier", "fanout", "sns-confirmations")
"""The followers whose positions are kept in the read-model database."""


@attrs.frozen(kw_only=True)
class FollowerStatus:
    follower: str
    position: int
    lag: int
    """Log entries recorded after the follower's position."""


@attrs.frozen(kw_only=True)
class ProjectionStatus:
    head: int
    followers: tuple[FollowerStatus, ...]


def projection_status(store: EventStore, db: ReadModels) -> ProjectionStatus:
    """The log's head and every follower's position and lag (blocking).

    Raises:
        StoreUnavailable: the store or the read-model database cannot be reached.
    """
    head = store.max_position()
    followers = []
    for follower in FOLLOWERS:
        position = committed_position(db, follower)
        followers.append(
            FollowerStatus(follower=follower, position=position, lag=max(0, head - position))
        )
    return ProjectionStatus(head=head, followers=tuple(followers))
