"""Terminal and JSON renderings of replay results (rich tables; plain data for --json)."""

from __future__ import annotations

from typing import Any

import msgspec
from rich.console import Console
from rich.table import Table

from helios.apps.application.replay.explain import AlertStory
from helios.apps.application.replay.results import VerifyReport
from helios.apps.application.replay.whatif import WhatIfReport
from helios.domain.timestamps import format_rfc3339


def as_json(result: object) -> bytes:
    """Any replay result as indented JSON (attrs classes and properties included)."""
    data: Any = msgspec.to_builtins(result)
    if isinstance(result, VerifyReport):
        data.update(ok=result.ok, rate=round(result.rate, 1))
    if isinstance(result, WhatIfReport):
        data["changed"] = result.changed
    return msgspec.json.format(msgspec.json.encode(data), indent=2) + b"\n"


def verify_text(console: Console, report: VerifyReport) -> None:
    """The summary, then each divergence with recorded and recomputed events."""
    verdict = "[green]OK[/green]" if report.ok else "[red]DIVERGED[/red]"
    console.print(
        f"verify {verdict}: {report.inputs:,} inputs, {report.events:,} events, "
        f"{report.decisions:,} decisions compared, {report.divergence_count:,} divergences "
        f"({report.rate:,.0f} events/s, {report.elapsed_s:.2f} s, "
        f"up to position {report.last_position:,})"
    )
    if report.snapshots_checked or report.snapshots_skipped:
        console.print(
            f"snapshots: {report.snapshots_checked:,} compared with their streams"
            + (
                f", {report.snapshots_skipped:,} of an older state shape skipped"
                if report.snapshots_skipped
                else ""
            )
        )
    for divergence in report.divergences:
        console.print(
            f"\n[bold red]{divergence.kind}[/bold red] at position {divergence.position} "
            f"stream {divergence.stream_id} version {divergence.version} {divergence.name}"
            + (f" (from input at {divergence.input_position})" if divergence.input_position else "")
            + (f": {divergence.message}" if divergence.message else "")
        )
        console.print("  recorded:   ", _compact(divergence.recorded), markup=False)
        console.print("  recomputed: ", _compact(divergence.recomputed), markup=False)
    hidden = report.divergence_count - len(report.divergences)
    if hidden > 0:
        console.print(f"\n… and {hidden:,} more divergences")


def story_text(console: Console, story: AlertStory) -> None:
    """Signals, then decisions with their score factors."""
    console.print(
        f"[bold]alert {story.dedup_key}[/bold] (tenant {story.tenant}, stream {story.stream_id})"
    )
    console.print(
        f"status: {story.status or '-'}   priority: {story.priority or '-'}   "
        f"score: {story.score if story.score is not None else '-'}   "
        f"episodes: {story.episodes}   silenced by: {', '.join(story.silenced_by) or '-'}"
    )
    signals = Table(title="signals", title_justify="left")
    for column in ("v", "source", "action", "severity", "occurred_at", "received_at", "note"):
        signals.add_column(column)
    for seen in story.signals:
        note = "duplicate" if seen.duplicate else "late" if seen.late else ""
        signals.add_row(
            str(seen.version),
            seen.source,
            seen.action,
            seen.severity,
            format_rfc3339(seen.occurred_at),
            format_rfc3339(seen.received_at),
            f"[yellow]{note}[/yellow]" if note else "",
        )
    console.print(signals)
    decisions = Table(title="decisions", title_justify="left")
    for column in ("v", "at", "decision", "rules"):
        decisions.add_column(column)
    for decision in story.decisions:
        what = decision.what
        for factor in decision.factors:
            what += f"\n  {factor.name} ({factor.input}): {factor.effect:+d}"
        rules = f"v{decision.ruleset_version}" if decision.ruleset_version is not None else ""
        decisions.add_row(str(decision.version), format_rfc3339(decision.at), what, rules)
    console.print(decisions)


def what_if_text(console: Console, report: WhatIfReport) -> None:
    """Priority counts before/after, notification differences, and changed alerts."""
    console.print(
        f"what-if with ruleset v{report.ruleset_version}: {report.inputs:,} inputs, "
        f"{report.alerts:,} alerts in the window"
    )
    counts = Table(title="alerts per highest priority", title_justify="left")
    for column in ("priority", "recorded", "what-if", "change"):
        counts.add_column(column)
    for priority, count_before in report.before.items():
        count_after = report.after.get(priority, 0)
        delta = count_after - count_before
        counts.add_row(
            priority, str(count_before), str(count_after), f"{delta:+d}" if delta else ""
        )
    console.print(counts)
    for title, notes in (
        ("would also notify", report.would_notify),
        ("would no longer notify", report.would_not_notify),
    ):
        if notes:
            console.print(f"[bold]{title}[/bold] ({len(notes)}):")
            for note in notes:
                console.print(
                    f"  {note.tenant}/{note.dedup_key} {note.reason} at {note.priority or '-'}",
                    markup=False,
                )
    if not report.changes:
        console.print("no alert changes priority")
        return
    changes = Table(title="alerts whose priority changes", title_justify="left")
    for column in ("alert", "recorded", "what-if", "factors recorded → what-if"):
        changes.add_column(column)
    for change in report.changes:
        before = ", ".join(f"{f.name} {f.effect:+d}" for f in change.before_factors)
        after = ", ".join(f"{f.name} {f.effect:+d}" for f in change.after_factors)
        changes.add_row(
            f"{change.tenant}/{change.dedup_key}",
            f"{change.before or '-'} ({change.before_score})",
            f"{change.after or '-'} ({change.after_score})",
            f"{before}\n→ {after}",
        )
    console.print(changes)


def _compact(data: Any) -> str:
    if data is None:
        return "(none)"
    return msgspec.json.encode(data).decode()
