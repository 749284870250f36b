"""What the API reads of analytics: the documents and reports the worker published (read
models only; the API never opens the analytics store)."""

from __future__ import annotations

from typing import Any

import attrs
import orjson

from helios.apps.views import insights
from helios.ports.read_models import ReadModels


class NoSuchReport(LookupError):
    """The tenant has no report with this id."""


class NoSuchProposal(LookupError):
    """The tenant's latest suggestions have none with this id that proposes a rule change."""


@attrs.frozen(kw_only=True)
class Proposal:
    """A suggestion's rule change, as the ruleset TOML fragment a draft can add."""

    suggestion_id: str
    title: str
    toml: str


@attrs.frozen(kw_only=True)
class Published:
    """A document as of its publication (``body`` None: analytics has not published yet)."""

    generated_at: int | None
    loaded_through: int
    body: dict[str, Any] | None


def published(db: ReadModels, *, tenant: str, name: str) -> Published:
    """The tenant's latest ``overview``, ``trends`` or ``suggestions``.

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    found = insights.document(db, tenant=tenant, name=name)
    if found is None:
        return Published(generated_at=None, loaded_through=0, body=None)
    return Published(
        generated_at=found.generated_at,
        loaded_through=found.loaded_through,
        body=orjson.loads(found.body),
    )


def report_list(db: ReadModels, *, tenant: str) -> list[insights.Report]:
    """The tenant's kept reports, latest first (without their HTML).

    Raises:
        StoreUnavailable: the read models cannot be reached.
    """
    return insights.reports(db, tenant=tenant)


def report(db: ReadModels, *, tenant: str, report_id: str) -> insights.Report:
    """One of the tenant's reports, with its HTML.

    Raises:
        NoSuchReport: the tenant has no such report.
        StoreUnavailable: the read models cannot be reached.
    """
    found = insights.report(db, tenant=tenant, report_id=report_id)
    if found is None:
        raise NoSuchReport(report_id)
    return found


def proposal(db: ReadModels, *, tenant: str, suggestion_id: str) -> Proposal:
    """The rule change the tenant's suggestion ``suggestion_id`` proposes (from the latest
    suggestions analytics published).

    Raises:
        NoSuchProposal: no such suggestion, or it proposes no ruleset change.
        StoreUnavailable: the read models cannot be reached.
    """
    found = published(db, tenant=tenant, name="suggestions").body or {}
    for item in found.get("suggestions", ()):
        change = item.get("change") or {}
        if item.get("id") == suggestion_id and isinstance(change.get("toml"), str):
            return Proposal(
                suggestion_id=suggestion_id, title=str(item["title"]), toml=change["toml"]
            )
    raise NoSuchProposal(suggestion_id)
