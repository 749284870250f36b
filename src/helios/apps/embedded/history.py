"""Backdated history: weeks of realistic alerting for one tenant, with recorded times, so
that analytics, reports and suggestions have something real to say right after a demo start.

What it contains, deterministic for a seed (times in UTC):

- a noisy disk alert that pages two or three times a day, at any hour, resolves by itself
  within minutes and is never acknowledged (the first suggestion: quieter);
- a latency alert that flaps (bursts of fire/resolve a few minutes apart) a few times a week;
- a crash loop on ``checkout`` that always brings an error-rate alert on ``payments`` with it
  (alerts that fire together);
- everyday alerts on every service, acknowledged by a person within minutes and resolved
  within the hour, slower to resolve on ``search`` in the latest week.

Every alert arrives as an Alertmanager webhook (twice: an HA pair), every human action as a
user action, exactly as the API would enqueue them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import attrs
import orjson

from helios.domain.normalize import Normalized, normalize
from helios.domain.normalize.user import user_action_body
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, Millis, SourceKind

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
UNSET = "0001-01-01T00:00:00Z"
EVERYDAY = (
    ("checkout", "HighLatencyP99", "warning"),
    ("payments", "QueueBacklog", "error"),
    ("search", "IndexLag", "error"),
    ("inventory", "ReplicaDown", "critical"),
    ("auth", "LoginErrors", "error"),
    ("billing", "JobFailed", "warning"),
)


@attrs.frozen(kw_only=True)
class _Alert:
    service: str
    alertname: str
    severity: str

    @property
    def labels(self) -> dict[str, str]:
        return {
            "alertname": self.alertname,
            "service": self.service,
            "severity": self.severity,
            "instance": f"{self.service}-1",
        }


@attrs.define
class HistoryGenerator:
    """Envelopes of ``days`` days ending at ``until``, in arrival order."""

    tenant: str
    until: Millis
    days: int = 30
    seed: int = 30
    integration: str = "int-alertmanager"
    user: str = "usr-oncall"
    _events: list[tuple[Millis, int, Envelope]] = attrs.field(init=False, factory=list)

    def envelopes(self) -> Iterator[Envelope]:
        rng = random.Random(self.seed)
        start = self.until - self.days * DAY
        self._noisy(rng, start)
        self._flapping(rng, start)
        self._together(rng, start)
        self._everyday(rng, start)
        self._events.sort(key=lambda item: (item[0], item[1]))
        for _, _, envelope in self._events:
            yield envelope

    def _noisy(self, rng: random.Random, start: Millis) -> None:
        disk = _Alert(service="ledger", alertname="DiskAlmostFull", severity="critical")
        at = start + rng.randrange(HOUR)
        while at < self.until - HOUR:
            self._episode(disk, at, resolve_after=rng.randrange(2, 7) * MINUTE, ack_after=None)
            at += rng.randrange(6 * HOUR, 14 * HOUR)

    def _flapping(self, rng: random.Random, start: Millis) -> None:
        latency = _Alert(service="search", alertname="LatencyBurst", severity="warning")
        day = start
        while day < self.until - DAY:
            if rng.random() < 0.45:
                at = day + rng.randrange(DAY - 3 * HOUR)
                for _ in range(6):
                    self._episode(latency, at, resolve_after=2 * MINUTE, ack_after=None)
                    at += rng.randrange(3, 5) * MINUTE
            day += DAY

    def _together(self, rng: random.Random, start: Millis) -> None:
        crash = _Alert(service="checkout", alertname="PodCrashLooping", severity="critical")
        errors = _Alert(service="payments", alertname="HighErrorRate", severity="critical")
        at = start + rng.randrange(DAY)
        while at < self.until - DAY:
            self._episode(crash, at, resolve_after=25 * MINUTE, ack_after=4 * MINUTE)
            self._episode(
                errors,
                at + rng.randrange(20_000, 90_000),
                resolve_after=30 * MINUTE,
                ack_after=None,
            )
            at += rng.randrange(DAY, 3 * DAY)

    def _everyday(self, rng: random.Random, start: Millis) -> None:
        for service, alertname, severity in EVERYDAY:
            alert = _Alert(service=service, alertname=alertname, severity=severity)
            at = start + rng.randrange(DAY)
            while at < self.until - 2 * HOUR:
                slow = service == "search" and at > self.until - 7 * DAY
                resolve = rng.randrange(20, 70) * MINUTE * (3 if slow else 1)
                self._episode(
                    alert, at, resolve_after=resolve, ack_after=rng.randrange(1, 12) * MINUTE
                )
                at += rng.randrange(10 * HOUR, 30 * HOUR)

    def _episode(
        self, alert: _Alert, at: Millis, *, resolve_after: int, ack_after: int | None
    ) -> None:
        started = at
        self._webhook(alert, started, resolved_at=None, at=at)
        if ack_after is not None and ack_after < resolve_after:
            key = self._dedup_key(alert, started)
            body = user_action_body("acknowledge", dedup_key=key, user=self.user)
            self._add(at + ack_after, SourceKind.USER, "api", body)
        self._webhook(alert, started, resolved_at=at + resolve_after, at=at + resolve_after)

    def _webhook(
        self, alert: _Alert, started: Millis, *, resolved_at: Millis | None, at: Millis
    ) -> None:
        body = _alertmanager(alert, started, resolved_at)
        # Both members of the HA pair deliver it.
        self._add(at, SourceKind.ALERTMANAGER, self.integration, body)
        self._add(at + 40, SourceKind.ALERTMANAGER, self.integration, body)

    def _dedup_key(self, alert: _Alert, started: Millis) -> str:
        envelope = self._envelope(
            started, SourceKind.ALERTMANAGER, self.integration, _alertmanager(alert, started, None)
        )
        result = normalize(envelope, Ruleset(), decode=orjson.loads)
        assert isinstance(result, Normalized)
        return result.signals[0].dedup_key

    def _add(self, at: Millis, source: SourceKind, integration: str, body: bytes) -> None:
        envelope = self._envelope(at, source, integration, body)
        self._events.append((at, len(self._events), envelope))

    def _envelope(self, at: Millis, source: SourceKind, integration: str, body: bytes) -> Envelope:
        ingest_id = hashlib.sha256(b"%d|%d|%s" % (self.seed, at, body)).hexdigest()[:32]
        return Envelope(
            ingest_id=f"hist-{ingest_id}",
            tenant=self.tenant,
            integration=integration,
            source=source,
            received_at=at,
            body=body,
        )


def _alertmanager(alert: _Alert, started: Millis, resolved_at: Millis | None) -> bytes:
    status = "resolved" if resolved_at is not None else "firing"
    return orjson.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{service="{alert.service}"}}',
            "status": status,
            "receiver": "helios",
            "groupLabels": {"service": alert.service},
            "commonLabels": {"service": alert.service},
            "alerts": [
                {
                    "status": status,
                    "labels": alert.labels,
                    "annotations": {"summary": f"{alert.alertname} on {alert.service}"},
                    "startsAt": format_rfc3339(started),
                    "endsAt": format_rfc3339(resolved_at) if resolved_at is not None else UNSET,
                    "fingerprint": hashlib.sha256(
                        orjson.dumps(alert.labels, option=orjson.OPT_SORT_KEYS)
                    ).hexdigest()[:16],
                }
            ],
        }
    )
