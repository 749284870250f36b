"""Realistic alert traffic in the sources' own wire formats, for demos and benchmarks.

What real deployments send, in miniature: Alertmanager webhook batches delivered twice by an
HA pair and repeated on every group interval, resolves that overtake their triggers, the same
problem reported by Alertmanager, Grafana and a PagerDuty-speaking tool at once, disagreeing
severities, and a flapping alert. Deterministic for a given seed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import attrs
import orjson

from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, Millis, SourceKind

UNSET = "0001-01-01T00:00:00Z"
SERVICES = ("checkout", "payments", "search", "inventory", "auth", "billing", "catalog", "ledger")
ALERTNAMES = (
    ("HighErrorRate", "critical", "5xx rate on {instance} above 2 req/s"),
    ("HighLatencyP99", "warning", "p99 latency on {instance} above 800 ms"),
    ("DiskAlmostFull", "error", "disk on {instance} is 93% full"),
    ("PodCrashLooping", "critical", "{instance} restarted 6 times in 10 minutes"),
    ("CertificateExpiring", "info", "certificate on {instance} expires in 12 days"),
)


@attrs.frozen(kw_only=True)
class Problem:
    service: str
    alertname: str
    severity: str
    instance: str
    summary: str

    @property
    def labels(self) -> dict[str, str]:
        return {
            "alertname": self.alertname,
            "service": self.service,
            "instance": self.instance,
            "severity": self.severity,
            "team": f"team-{self.service}",
        }

    @property
    def fingerprint(self) -> str:
        text = "|".join(f"{k}={v}" for k, v in sorted(self.labels.items()) if k != "severity")
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@attrs.define
class TrafficGenerator:
    """Yields envelopes in arrival order; ``tenant`` and integration ids are given."""

    tenant: str
    start: Millis
    seed: int = 7
    problems: int = 40
    integrations: dict[SourceKind, str] = attrs.field(factory=dict)
    pagerduty_routing_key: str = "R" * 32
    """Put into PagerDuty bodies (the API finds the integration by it)."""
    gap_ms: tuple[int, int] = (200, 4000)
    """Simulated time between two envelopes (a live demo keeps it near real time)."""
    _rng: random.Random = attrs.field(init=False)
    _sequence: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def catalogue(self) -> list[Problem]:
        rng = random.Random(self.seed)
        found = []
        for index in range(self.problems):
            service = SERVICES[index % len(SERVICES)]
            alertname, severity, summary = ALERTNAMES[rng.randrange(len(ALERTNAMES))]
            instance = f"{service}-{rng.randrange(16**5):05x}"
            found.append(
                Problem(
                    service=service,
                    alertname=alertname,
                    severity=severity,
                    instance=instance,
                    summary=summary.format(instance=instance),
                )
            )
        return found

    def envelopes(self, count: int) -> Iterator[Envelope]:
        """About ``count`` envelopes of mixed sources and delivery faults."""
        problems = self.catalogue()
        now = self.start
        firing: dict[str, tuple[Problem, Millis]] = {}
        produced = 0
        while produced < count:
            now += self._rng.randrange(*self.gap_ms)
            roll = self._rng.random()
            if roll < 0.45 or not firing:
                batch = self._rng.sample(problems, k=min(len(problems), self._rng.randrange(1, 10)))
                for problem in batch:
                    firing.setdefault(problem.fingerprint, (problem, now))
                alerts = [firing[p.fingerprint] for p in batch]
                body = self._alertmanager(alerts, resolved_at=None)
                # Both members of the HA pair deliver the same notification.
                yield self._envelope(SourceKind.ALERTMANAGER, body, now)
                yield self._envelope(
                    SourceKind.ALERTMANAGER, body, now + self._rng.randrange(5, 80)
                )
                produced += 2
            elif roll < 0.65:
                fingerprint = self._rng.choice(sorted(firing))
                problem, started = firing.pop(fingerprint)
                body = self._alertmanager([(problem, started)], resolved_at=now)
                yield self._envelope(SourceKind.ALERTMANAGER, body, now)
                produced += 1
            elif roll < 0.78:
                fingerprint = self._rng.choice(sorted(firing))
                problem, started = firing[fingerprint]
                yield self._envelope(SourceKind.PAGERDUTY, self._pagerduty(problem, started), now)
                produced += 1
            elif roll < 0.88:
                fingerprint = self._rng.choice(sorted(firing))
                problem, started = firing[fingerprint]
                yield self._envelope(SourceKind.GRAFANA, self._grafana(problem, started), now)
                produced += 1
            else:
                # A resolve that overtakes its trigger: the resolve arrives first.
                problem = self._rng.choice(problems)
                started = now - self._rng.randrange(60_000, 600_000)
                ended = now - self._rng.randrange(1_000, 50_000)
                firing.pop(problem.fingerprint, None)
                resolved = self._alertmanager([(problem, started)], resolved_at=ended)
                fired = self._alertmanager([(problem, started)], resolved_at=None)
                yield self._envelope(SourceKind.ALERTMANAGER, resolved, now)
                yield self._envelope(SourceKind.ALERTMANAGER, fired, now + 40)
                produced += 2

    # ------------------------------------------------------------------ formats

    def _alertmanager(
        self, alerts: list[tuple[Problem, Millis]], *, resolved_at: Millis | None
    ) -> bytes:
        status = "resolved" if resolved_at is not None else "firing"
        items = []
        for problem, started in alerts:
            items.append(
                {
                    "status": status,
                    "labels": problem.labels,
                    "annotations": {
                        "summary": problem.summary,
                        "runbook_url": f"https://runbooks.example.com/{problem.alertname}",
                    },
                    "startsAt": format_rfc3339(started),
                    "endsAt": format_rfc3339(resolved_at) if resolved_at is not None else UNSET,
                    "generatorURL": f"https://prometheus.example.com/graph?g0.expr={problem.alertname}",
                    "fingerprint": problem.fingerprint,
                }
            )
        first = alerts[0][0]
        return orjson.dumps(
            {
                "version": "4",
                "groupKey": f'{{}}:{{service="{first.service}"}}',
                "truncatedAlerts": 0,
                "status": status,
                "receiver": "helios",
                "groupLabels": {"service": first.service},
                "commonLabels": {"service": first.service},
                "commonAnnotations": {},
                "externalURL": "https://alertmanager.example.com",
                "alerts": items,
            }
        )

    def _pagerduty(self, problem: Problem, started: Millis) -> bytes:
        severity = self._rng.choice(("critical", "error", "warning"))
        return orjson.dumps(
            {
                "routing_key": self.pagerduty_routing_key,
                "event_action": "trigger",
                "dedup_key": problem.fingerprint,
                "payload": {
                    "summary": problem.summary,
                    "source": problem.instance,
                    "severity": severity,
                    "timestamp": format_rfc3339(started + self._rng.randrange(0, 5000)),
                    "component": problem.service,
                    "group": problem.service,
                    "class": problem.alertname,
                },
            }
        )

    def _grafana(self, problem: Problem, started: Millis) -> bytes:
        return orjson.dumps(
            {
                "receiver": "helios",
                "status": "firing",
                "orgId": 1,
                "alerts": [
                    {
                        "status": "firing",
                        "labels": problem.labels,
                        "annotations": {"summary": problem.summary},
                        "startsAt": format_rfc3339(started),
                        "endsAt": UNSET,
                        "generatorURL": "https://grafana.example.com/alerting/list",
                        "fingerprint": problem.fingerprint,
                        "values": {"A": 4.7},
                        "valueString": "[ var='A' value=4.7 ]",
                    }
                ],
                "groupLabels": {"service": problem.service},
                "commonLabels": problem.labels,
                "commonAnnotations": {},
                "externalURL": "https://grafana.example.com/",
                "version": "1",
                "groupKey": f'{{}}:{{service="{problem.service}"}}',
                "truncatedAlerts": 0,
                "title": f"[FIRING:1] {problem.alertname}",
                "state": "alerting",
                "message": problem.summary,
            }
        )

    def _envelope(self, source: SourceKind, body: bytes, at: Millis) -> Envelope:
        self._sequence += 1
        return Envelope(
            ingest_id=f"ing-{self.seed}-{self._sequence:09d}",
            tenant=self.tenant,
            integration=self.integrations.get(source, f"int-{source.value}"),
            source=source,
            received_at=at,
            body=body,
        )
