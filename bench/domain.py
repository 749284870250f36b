"""Benchmark: signals per second through the pure core (normalize + decide), next to only
decoding the same payloads with orjson, in the same process.

    python bench/domain.py [--envelopes N] [--repeat R]

The traffic is the demo generator's realistic mix: Alertmanager batches delivered twice by an
HA pair, repeats, out-of-order resolves, PagerDuty and Grafana reports of the same problems.
Prints both rates and their ratio (core rate / decode-only rate; 1.0 would mean the core is
free, 0.2 means it costs 5x the decode).
"""

from __future__ import annotations

import argparse
import statistics
import time

import orjson

from helios.apps.traffic import TrafficGenerator
from helios.domain import engine, incident
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import Ruleset
from helios.domain.values import Envelope


def decode_only(envelopes: list[Envelope]) -> float:
    started = time.perf_counter()
    for envelope in envelopes:
        orjson.loads(envelope.body)
    return time.perf_counter() - started


def normalize_only(envelopes: list[Envelope], ruleset: Ruleset) -> float:
    """Normalization alone (decode, checks, signal assembly), without deciding."""
    started = time.perf_counter()
    for envelope in envelopes:
        normalize(envelope, ruleset, decode=orjson.loads)
    return time.perf_counter() - started


def core(envelopes: list[Envelope], ruleset: Ruleset) -> tuple[float, int, int]:
    context = engine.TenantContext(ruleset=ruleset)
    working = engine.Working(alerts={}, groups={})
    signals = decisions = 0
    started = time.perf_counter()
    for envelope in envelopes:
        result = normalize(envelope, ruleset, decode=orjson.loads)
        if not isinstance(result, Normalized):
            continue
        for signal in result.signals:
            signals += 1
            missing = engine.apply_signal(working, signal, context)
            if missing is not None:
                for group in missing.groups:
                    working.groups[group] = incident.initial_state(*group)
                engine.apply_signal(working, signal, context)
    elapsed = time.perf_counter() - started
    decisions = sum(len(events) for events in working.events.values())
    return elapsed, signals, decisions


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envelopes", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    generator = TrafficGenerator(tenant="bench", start=1_760_000_000_000, problems=200)
    envelopes = list(generator.envelopes(args.envelopes))
    ruleset = Ruleset()
    payload_bytes = sum(len(e.body) for e in envelopes)

    core_times, decode_times, normalize_times = [], [], []
    signals = decisions = 0
    for _ in range(args.repeat):
        decode_times.append(decode_only(envelopes))
        normalize_times.append(normalize_only(envelopes, ruleset))
        elapsed, signals, decisions = core(envelopes, ruleset)
        core_times.append(elapsed)
    decode_s = statistics.median(decode_times)
    core_s = statistics.median(core_times)
    decode_rate = signals / decode_s
    core_rate = signals / core_s

    print(
        f"traffic: {len(envelopes):,} envelopes, {signals:,} signals, "
        f"{payload_bytes / 1e6:.1f} MB, {decisions:,} events decided"
    )
    print(f"{'measure':<34}{'signals/s':>14}{'µs/signal':>12}")
    print(f"{'orjson decode only (baseline)':<34}{decode_rate:>14,.0f}{1e6 / decode_rate:>12.2f}")
    normalize_rate = signals / statistics.median(normalize_times)
    print(f"{'normalize only':<34}{normalize_rate:>14,.0f}{1e6 / normalize_rate:>12.2f}")
    print(f"{'normalize + decide (core)':<34}{core_rate:>14,.0f}{1e6 / core_rate:>12.2f}")
    print(
        f"ratio core/baseline: {core_rate / decode_rate:.3f}"
        f"  (target >= 0.2; median of {args.repeat} runs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
