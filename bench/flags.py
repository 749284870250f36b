"""Benchmark: what feature flags cost the engine, as ratios measured in one process.

    python bench/flags.py [--envelopes N] [--repeat R]

Decides the demo generator's realistic traffic (normalized once beforehand) through
``engine.apply_signal`` with: no flags (the tenant never had one), ``no_incident_grouping``
defined but off, and on at a 50% rollout (a stable hash of each alert's key per signal, and
half the alerts skip incident grouping). Prints signals per second of each and the ratio to
the no-flag run (1.0: free; above 1: faster, since skipped grouping saves work).
"""

from __future__ import annotations

import argparse
import time

import orjson

from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain import engine, flags, incident
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import DEFAULT_RULESET
from helios.domain.values import Signal


def decide_all(signals: list[Signal], context: engine.TenantContext) -> float:
    working = engine.Working(alerts={}, groups={})
    started = time.perf_counter()
    for signal in signals:
        missing = engine.apply_signal(working, signal, context)
        if missing is not None:
            for group in missing.groups:
                working.groups[group] = incident.initial_state(*group)
            engine.apply_signal(working, signal, context)
    return time.perf_counter() - started


def flagged(*, enabled: bool, percent: int) -> engine.TenantContext:
    flag = flags.Flag(name=flags.NO_INCIDENT_GROUPING, enabled=enabled, percent=percent)
    return engine.TenantContext(
        ruleset=DEFAULT_RULESET, flags=flags.FlagValues(flags=(flag,)), flags_version=2
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envelopes", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    envelopes = list(
        TrafficGenerator(tenant="bench", start=1_760_000_000_000, seed=1).envelopes(args.envelopes)
    )
    signals = [
        s
        for e in envelopes
        if isinstance(r := normalize(e, DEFAULT_RULESET, decode=orjson.loads), Normalized)
        for s in r.signals
    ]
    runs = {
        "no flags": engine.TenantContext(ruleset=DEFAULT_RULESET),
        "flag defined, off": flagged(enabled=False, percent=100),
        "flag on, 50% rollout": flagged(enabled=True, percent=50),
    }
    best: dict[str, float] = {}
    for _ in range(args.repeat):  # interleaved, so a busy moment hits every variant alike
        for name, context in runs.items():
            elapsed = decide_all(signals, context)
            best[name] = min(best.get(name, elapsed), elapsed)
    baseline = len(signals) / best["no flags"]
    print(f"{len(signals)} signals, best of {args.repeat}")
    for name, elapsed in best.items():
        rate = len(signals) / elapsed
        print(f"  {name:<22} {rate:>10,.0f} signals/s  ratio {rate / baseline:.2f}")


if __name__ == "__main__":
    main()
