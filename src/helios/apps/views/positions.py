"""``follower_positions``: each follower's position in the log, committed with its writes."""

from __future__ import annotations

from helios.ports.event_store import ConcurrencyConflict
from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS follower_positions (
    follower TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)""",
)


def committed_position(db: ReadModels, follower: str) -> int:
    """The follower's committed position in the event log (0 if it never ran).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query("SELECT position FROM follower_positions WHERE follower = ?", (follower,))
    return int(rows[0][0]) if rows else 0


def all_positions(db: ReadModels) -> dict[str, int]:
    """Every follower that ever committed, with its position in the log.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query("SELECT follower, position FROM follower_positions", ())
    return {str(follower): int(position) for follower, position in rows}


def move_position(cursor: Cursor, follower: str, *, after: int, to: int) -> None:
    """Record ``to`` as the follower's position, if it still is at ``after``.

    Raises:
        ConcurrencyConflict: another instance of the follower moved it meanwhile.
    """
    if after == 0:
        cursor.execute(
            "INSERT INTO follower_positions (follower, position) VALUES (?, ?) "
            "ON CONFLICT (follower) DO UPDATE SET position = excluded.position "
            "WHERE follower_positions.position = 0",
            (follower, to),
        )
    else:
        cursor.execute(
            "UPDATE follower_positions SET position = ? WHERE follower = ? AND position = ?",
            (to, follower, after),
        )
    if cursor.rowcount != 1:
        raise ConcurrencyConflict(follower=follower)


def forget_position(cursor: Cursor, follower: str) -> None:
    """Drop the follower's position (its next run starts from the log's beginning)."""
    cursor.execute("DELETE FROM follower_positions WHERE follower = ?", (follower,))
