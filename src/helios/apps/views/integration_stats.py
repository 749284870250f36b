"""``integration_stats``: per integration, when it last sent something and how many of its
deliveries the ingest worker accepted (normalized, or recorded as changes or controls) and
rejected (quarantined): tenant, integration, last_seen_at, accepted, rejected.

Fed by the projector from the envelope streams (``intake.envelope_*`` events), a page at a
time with one upsert per integration, so neither the API nor the worker does any extra work.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS integration_stats (
    tenant TEXT NOT NULL,
    integration TEXT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    PRIMARY KEY (tenant, integration)
)""",
)


@attrs.frozen(kw_only=True)
class IntegrationStats:
    tenant: str
    integration: str
    last_seen_at: int
    accepted: int
    rejected: int


@attrs.define
class PageCounts:
    """What one page adds, per (tenant, integration)."""

    counts: dict[tuple[str, str], list[int]] = attrs.field(factory=dict)

    def count(self, tenant: str, integration: str, received_at: int, *, accepted: bool) -> None:
        entry = self.counts.setdefault((tenant, integration), [0, 0, 0])
        entry[0] = max(entry[0], received_at)
        entry[1 if accepted else 2] += 1

    def write(self, cursor: Cursor) -> None:
        add(
            cursor,
            (
                IntegrationStats(
                    tenant=t, integration=i, last_seen_at=seen, accepted=ok, rejected=bad
                )
                for (t, i), (seen, ok, bad) in self.counts.items()
            ),
        )


def add(cursor: Cursor, rows: Iterable[IntegrationStats]) -> None:
    """Add each row's counts to the integration's, keeping the later last-seen time."""
    cursor.executemany(
        "INSERT INTO integration_stats (tenant, integration, last_seen_at, accepted, rejected) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, integration) DO UPDATE SET "
        "accepted = integration_stats.accepted + excluded.accepted, "
        "rejected = integration_stats.rejected + excluded.rejected, "
        "last_seen_at = CASE WHEN excluded.last_seen_at > integration_stats.last_seen_at "
        "THEN excluded.last_seen_at ELSE integration_stats.last_seen_at END",
        [(r.tenant, r.integration, r.last_seen_at, r.accepted, r.rejected) for r in rows],
    )


def of_tenant(db: ReadModels, tenant: str) -> dict[str, IntegrationStats]:
    """The tenant's integrations that have sent anything, by integration id.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT tenant, integration, last_seen_at, accepted, rejected FROM integration_stats "
        "WHERE tenant = ?",
        [tenant],
    )
    return {
        r[1]: IntegrationStats(
            tenant=r[0],
            integration=r[1],
            last_seen_at=int(r[2]),
            accepted=int(r[3]),
            rejected=int(r[4]),
        )
        for r in rows
    }
