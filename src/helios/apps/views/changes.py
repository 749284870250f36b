"""``changes``: one row per distinct change (deploys, config changes; never alerts): tenant,
change_id, position, ingest_id, integration, source, service, origin, summary, occurred_at,
received_at, links (JSON list), details (JSON object)."""

from __future__ import annotations

import attrs

from helios.ports.read_models import Cursor

DDL = (
    """CREATE TABLE IF NOT EXISTS changes (
    tenant TEXT NOT NULL,
    change_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    ingest_id TEXT NOT NULL,
    integration TEXT NOT NULL,
    source TEXT NOT NULL,
    service TEXT NOT NULL,
    origin TEXT NOT NULL,
    summary TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    links TEXT NOT NULL,
    details TEXT NOT NULL,
    PRIMARY KEY (tenant, change_id)
)""",
    "CREATE INDEX IF NOT EXISTS changes_by_time ON changes (tenant, occurred_at, change_id)",
    "CREATE INDEX IF NOT EXISTS changes_by_service ON changes (tenant, service, occurred_at)",
)


@attrs.frozen(kw_only=True)
class ChangeRow:
    tenant: str
    change_id: str
    position: int
    ingest_id: str
    integration: str
    source: str
    service: str
    origin: str
    summary: str
    occurred_at: int
    received_at: int
    links: str
    details: str


COLUMNS = tuple(field.name for field in attrs.fields(ChangeRow))


def add(cursor: Cursor, row: ChangeRow) -> None:
    """Write the change unless the tenant already has one with its id (the first one stays)."""
    cursor.execute(
        f"INSERT INTO changes ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
        "ON CONFLICT (tenant, change_id) DO NOTHING",
        attrs.astuple(row),
    )
