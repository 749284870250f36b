"""``insight_documents`` and ``insight_reports``: what the analytics worker publishes for the
API (which never opens the worker's analytics store).

A document is one tenant's overview, trends or suggestions as compact JSON, replaced whole
each time the worker publishes; a report is one tenant's weekly HTML report, kept.
"""

from __future__ import annotations

import attrs

from helios.ports.read_models import Cursor, ReadModels

DDL = (
    """CREATE TABLE IF NOT EXISTS insight_documents (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    generated_at BIGINT NOT NULL,
    loaded_through BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, name)
)""",
    """CREATE TABLE IF NOT EXISTS insight_reports (
    tenant TEXT NOT NULL,
    report_id TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    summary TEXT NOT NULL,
    html TEXT NOT NULL,
    PRIMARY KEY (tenant, report_id)
)""",
    "CREATE INDEX IF NOT EXISTS insight_reports_by_period ON insight_reports (tenant, period_end)",
)
DOCUMENTS = ("overview", "trends", "suggestions")


@attrs.frozen(kw_only=True)
class Document:
    tenant: str
    name: str
    generated_at: int
    loaded_through: int
    """The log position of the latest decision the document counts."""
    body: str


@attrs.frozen(kw_only=True)
class Report:
    tenant: str
    report_id: str
    period_start: int
    period_end: int
    created_at: int
    summary: str
    """Compact JSON: the headline numbers."""
    html: str = ""


def publish(cursor: Cursor, documents: list[Document]) -> None:
    """Replace the tenants' documents with these."""
    cursor.executemany(
        "INSERT INTO insight_documents (tenant, name, generated_at, loaded_through, body) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, name) DO UPDATE SET "
        "generated_at = excluded.generated_at, loaded_through = excluded.loaded_through, "
        "body = excluded.body",
        [(d.tenant, d.name, d.generated_at, d.loaded_through, d.body) for d in documents],
    )


def document(db: ReadModels, *, tenant: str, name: str) -> Document | None:
    """The tenant's latest published document ``name`` (None before the first publication).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT generated_at, loaded_through, body FROM insight_documents "
        "WHERE tenant = ? AND name = ?",
        (tenant, name),
    )
    if not rows:
        return None
    generated_at, loaded_through, body = rows[0]
    return Document(
        tenant=tenant,
        name=name,
        generated_at=int(generated_at),
        loaded_through=int(loaded_through),
        body=str(body),
    )


def add_report(cursor: Cursor, report: Report) -> None:
    """Keep the report (once: the same id again changes nothing)."""
    cursor.execute(
        "INSERT INTO insight_reports (tenant, report_id, period_start, period_end, created_at, "
        "summary, html) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, report_id) DO NOTHING",
        (
            report.tenant,
            report.report_id,
            report.period_start,
            report.period_end,
            report.created_at,
            report.summary,
            report.html,
        ),
    )


def reports(db: ReadModels, *, tenant: str, limit: int = 52) -> list[Report]:
    """The tenant's reports, latest period first, without their HTML.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT report_id, period_start, period_end, created_at, summary FROM insight_reports "
        "WHERE tenant = ? ORDER BY period_end DESC, report_id LIMIT ?",
        (tenant, limit),
    )
    return [
        Report(
            tenant=tenant,
            report_id=str(r),
            period_start=int(s),
            period_end=int(e),
            created_at=int(c),
            summary=str(m),
        )
        for r, s, e, c, m in rows
    ]


def report(db: ReadModels, *, tenant: str, report_id: str) -> Report | None:
    """One of the tenant's reports with its HTML (None if the tenant has no such report).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    rows = db.query(
        "SELECT period_start, period_end, created_at, summary, html FROM insight_reports "
        "WHERE tenant = ? AND report_id = ?",
        (tenant, report_id),
    )
    if not rows:
        return None
    start, end, created, summary, html = rows[0]
    return Report(
        tenant=tenant,
        report_id=report_id,
        period_start=int(start),
        period_end=int(end),
        created_at=int(created),
        summary=str(summary),
        html=str(html),
    )
