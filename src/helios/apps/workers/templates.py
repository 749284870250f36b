"""Human-readable notification emails, rendered from the alert as of the decision."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import attrs

from helios.apps.views.streams import FoldedAlert
from helios.domain.alert import NotificationRequested


@attrs.frozen(kw_only=True)
class RenderedEmail:
    subject: str
    body: str


def render(
    request: NotificationRequested, folded: FoldedAlert, *, public_url: str
) -> RenderedEmail:
    """Subject like ``[P1] checkout: 5xx rate above 2 req/s (triggered)``; the body explains
    the score factor by factor and links to the alert."""
    state = folded.state
    episode = state.episode
    priority = request.priority.value if request.priority else "--"
    service = episode.service if episode and episode.service else state.dedup_key
    summary = episode.summary if episode else state.dedup_key
    subject = f"[{priority}] {service}: {summary} ({request.reason})"
    link = f"{public_url.rstrip('/')}/alerts/{quote(state.tenant, safe='')}/" + quote(
        state.dedup_key, safe=""
    )
    lines = [
        f"{summary}",
        "",
        f"Reason:      {request.reason}",
        f"Priority:    {priority}" + (f" (score {state.score})" if state.score is not None else ""),
        f"Alert:       {state.dedup_key}",
        f"Tenant:      {state.tenant}",
    ]
    if episode is not None:
        lines += [
            f"Status:      {episode.status.value}",
            f"Severity:    {episode.severity.value}",
            f"Service:     {episode.service or '-'}",
            f"Sources:     {', '.join(episode.sources) or '-'}",
            f"Occurrences: {episode.occurrences} in episode {episode.number}",
            f"Started:     {_time(episode.started_at)}",
        ]
    lines.append(f"Decided at:  {_time(request.at)}")
    if folded.factors:
        lines += ["", "Why this priority:"]
        lines += [f"  {f.name:<14} {f.input:<28} {f.effect:+d}" for f in folded.factors]
        lines.append(f"  (ruleset version {request.ruleset_version})")
    if episode is not None and episode.labels:
        lines += ["", "Labels:"]
        lines += [f"  {key}={value}" for key, value in episode.labels]
    lines += ["", f"Open the alert: {link}", "", f"Notification {request.notification_id}"]
    return RenderedEmail(subject=subject, body="\n".join(lines) + "\n")


def _time(millis: int) -> str:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
