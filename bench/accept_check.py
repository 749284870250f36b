"""What the API's check of a body by the worker's normalizer costs, per request, in process.

    .venv/bin/python bench/accept_check.py [--requests 2000] [--rounds 5]

Before it answers 202, the API runs the worker's normalizer on the envelope it is about to
enqueue (``helios.apps.http.shapes.check_normalizes``) and throws the result away. Each request
here brings a body never seen before (an Alertmanager webhook of 10 new alerts, as
Alertmanager sends them, or a PagerDuty trigger), so no memo helps, as under load. In the same
process and the same rounds: an ``orjson`` decode of the same bodies (the floor), and the full
normalization of them (what the check ran before it had a mode of its own). Printed: µs per
request of each, median of the rounds, and the ratios, which the machine's load moves less
than the µs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator

import orjson

from helios.apps.http import shapes
from helios.domain.normalize import normalize
from helios.domain.values import Envelope, SourceKind

RECEIVED_AT = 1_893_456_000_000


def alertmanager_body(first: int, alerts: int) -> bytes:
    """A webhook of ``alerts`` new alerts, in the shape Alertmanager 0.25 sends."""
    items = [
        {
            "status": "firing",
            "labels": {
                "alertname": "HighErrorRate",
                "service": f"svc-{n % 50}",
                "instance": f"host-{n}:9100",
                "severity": ("critical", "warning", "info")[n % 3],
                "bench_seq": str(n),
            },
            "annotations": {
                "summary": f"5xx rate on host-{n} above 2 req/s",
                "runbook_url": "https://runbooks.example.com/HighErrorRate",
            },
            "startsAt": f"2029-12-31T23:{n % 60:02d}:{(n // 60) % 60:02d}.{n % 1000:03d}Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://prometheus.example.com/graph?g0.expr=HighErrorRate",
            "fingerprint": f"{n:016x}",
        }
        for n in range(first, first + alerts)
    ]
    return orjson.dumps(
        {
            "version": "4",
            "groupKey": f'{{}}:{{service="svc-{first % 50}"}}',
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "helios",
            "groupLabels": {"service": f"svc-{first % 50}"},
            "commonLabels": {"alertname": "HighErrorRate"},
            "commonAnnotations": {},
            "externalURL": "https://alertmanager.example.com",
            "alerts": items,
        }
    )


def pagerduty_body(n: int) -> bytes:
    """A PagerDuty Events API v2 trigger, with its own time."""
    return orjson.dumps(
        {
            "routing_key": "R" * 32,
            "event_action": "trigger",
            "dedup_key": f"disk-full-db-{n}",
            "payload": {
                "summary": f"disk 9{n % 10}% full on db-{n}",
                "source": f"db-{n}",
                "severity": "critical",
                "timestamp": f"2029-12-31T23:{n % 60:02d}:{(n // 60) % 60:02d}.{n % 1000:03d}Z",
                "component": "postgres",
                "group": "storage",
                "class": "disk",
                "custom_details": {"free_bytes": "0", "mount": "/var/lib/postgresql"},
            },
        }
    )


def envelopes(source: SourceKind, bodies: Iterator[bytes]) -> list[Envelope]:
    return [
        Envelope(
            ingest_id="edge-check",
            tenant="bench",
            integration="int-bench",
            source=source,
            received_at=RECEIVED_AT,
            body=body,
            content_type="application/json",
        )
        for body in bodies
    ]


def timed(run: Callable[[Envelope], object], batch: list[Envelope]) -> float:
    """µs per envelope of ``run`` over ``batch``."""
    began = time.perf_counter()
    for envelope in batch:
        run(envelope)
    return (time.perf_counter() - began) / len(batch) * 1e6


def full_normalization(envelope: Envelope) -> object:
    return normalize(envelope, shapes.EDGE_RULESET, decode=orjson.loads)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "Alertmanager, 10 new alerts": lambda first: envelopes(
            SourceKind.ALERTMANAGER,
            (alertmanager_body(first + n * 10, 10) for n in range(args.requests)),
        ),
        "PagerDuty trigger": lambda first: envelopes(
            SourceKind.PAGERDUTY, (pagerduty_body(first + n) for n in range(args.requests))
        ),
    }
    print(
        f"µs per request, {args.requests} new bodies, median of {args.rounds} rounds "
        f"(load average {os.getloadavg()[0]:.2f})"
    )
    print(
        f"{'body':<30}{'decode':>9}{'normalize':>11}{'check':>9}{'check/norm':>12}"
        f"{'check/decode':>14}"
    )
    first = 10**6
    for name, make in cases.items():
        decode, full, check = [], [], []
        for _ in range(args.rounds):
            # Every measure gets bodies it never saw: the memos of normalization cannot help.
            batch = make(first)
            first += args.requests * 10
            decode.append(timed(lambda envelope: orjson.loads(envelope.body), batch))
            full.append(timed(full_normalization, make(first)))
            first += args.requests * 10
            check.append(timed(shapes.check_normalizes, make(first)))
            first += args.requests * 10
        d, f, c = (statistics.median(values) for values in (decode, full, check))
        print(f"{name:<30}{d:>9.1f}{f:>11.1f}{c:>9.1f}{c / f:>12.2f}{c / d:>14.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
