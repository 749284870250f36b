"""The per-tenant stream of weekly reports: each report issued is an event, once per week.

Issuing is the decision that a tenant's week is reported (and mailed); the report's content
is derived data, rebuilt from the decisions it counts. The stream is small: one event a week.
"""

from __future__ import annotations

import uuid

import attrs

from helios.domain.events import event
from helios.domain.identity import stream_id
from helios.domain.values import Millis


@attrs.frozen(kw_only=True)
class TenantReports:
    tenant: str
    issued: frozenset[str] = frozenset()
    """The ids (ISO weeks, ``2030-W01``) of the reports issued."""


@attrs.frozen(kw_only=True)
class IssueReport:
    report_id: str
    period_start: Millis
    period_end: Millis
    at: Millis
    by: str


@event("helios.report.issued.v1")
@attrs.frozen(kw_only=True)
class ReportIssued:
    report_id: str
    period_start: Millis
    period_end: Millis
    at: Millis
    by: str


def initial_state(tenant: str) -> TenantReports:
    return TenantReports(tenant=tenant)


def reports_stream_id(tenant: str) -> uuid.UUID:
    """The stream of a tenant's issued reports."""
    return stream_id("reports", tenant)


def decide(command: IssueReport, state: TenantReports) -> tuple[ReportIssued, ...]:
    """Issue the report of a week, unless it was issued already (then nothing: a second
    worker, or this one after a restart, issues and mails nothing more)."""
    if command.report_id in state.issued:
        return ()
    return (
        ReportIssued(
            report_id=command.report_id,
            period_start=command.period_start,
            period_end=command.period_end,
            at=command.at,
            by=command.by,
        ),
    )


def evolve(state: TenantReports, event: ReportIssued) -> TenantReports:
    return attrs.evolve(state, issued=state.issued | {event.report_id})
