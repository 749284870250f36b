"""Quantifying a suggested rule change: replay the last 30 days under the current rules plus
the change (``helios.apps.application.replay.whatif``) and say what it would have changed."""

from __future__ import annotations

from typing import Any

import attrs

from helios.apps.application.analytics.queries import DAY_MS
from helios.apps.application.replay.log import Window
from helios.apps.application.replay.whatif import what_if
from helios.apps.application.rules import rules_in_force
from helios.domain.ruleset import LabelMatcher, MatchOp, Multiplier, Ruleset
from helios.ports.event_store import EventStore

WINDOW_DAYS = 30
MOST = 3
"""Suggestions replayed per tenant and publication (each replay reads the log)."""


def with_what_if(
    log: EventStore, document: dict[str, Any], *, tenant: str, until: int, pages: int
) -> dict[str, Any]:
    """``document`` (the tenant's suggestions) with a ``what_if`` on the ``MOST`` best ranked
    suggestions that propose a multiplier; ``pages`` is what the tenant was paged in the
    window as recorded.

    Raises:
        StoreUnavailable: the log cannot be read.
    """
    rules = rules_in_force(log, tenant=tenant).ruleset
    window = Window(tenant=tenant, since=until - WINDOW_DAYS * DAY_MS, until=until)
    replayed = 0
    for item in document["suggestions"]:
        change = item.get("change") or {}
        if "multiplier" not in change or replayed >= MOST:
            continue
        replayed += 1
        candidate = _with_multiplier(rules, change["multiplier"])
        report = what_if(log, rules=candidate, window=window)
        after = max(0, pages - len(report.would_not_notify) + len(report.would_notify))
        key = item["evidence"].get("key")
        own = int(item["evidence"].get("pages", 0))
        own_after = max(
            0,
            own
            - sum(1 for n in report.would_not_notify if n.dedup_key == key)
            + sum(1 for n in report.would_notify if n.dedup_key == key),
        )
        p1 = sum(1 for c in report.changes if "P1" in (c.before, c.after))
        item["what_if"] = {
            "days": WINDOW_DAYS,
            "alert_pages_before": own,
            "alert_pages_after": own_after,
            "pages_before": pages,
            "pages_after": after,
            "alerts_changed": len(report.changes),
            "p1_changed": p1,
            "text": f"would have cut {own} pages to {own_after} "
            f"({pages} to {after} for the tenant in {WINDOW_DAYS} days); "
            + ("no P1 changed" if not p1 else f"{p1} P1 alert(s) changed"),
        }
    return document


def _with_multiplier(rules: Ruleset, proposed: dict[str, Any]) -> Ruleset:
    matchers = []
    for text in proposed["matchers"]:
        name, _, value = str(text).partition("=")
        matchers.append(LabelMatcher(name=name, op=MatchOp.EQ, value=value))
    multiplier = Multiplier(
        name=str(proposed["name"]),
        percent=int(proposed["percent"]),
        matchers=tuple(matchers),
        service=proposed.get("service") or None,
    )
    return attrs.evolve(rules, multipliers=(*rules.multipliers, multiplier))
