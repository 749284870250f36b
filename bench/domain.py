"""Benchmark: signals per second through the pure core (normalize + decide), next to only
decoding the same payloads with orjson, in the same process.

    python bench/domain.py [--envelopes N] [--repeat R] [--history-max N] [--no-history]
                           [--clock {wall,cpu}]

The traffic is the demo generator's realistic mix: Alertmanager batches delivered twice by an
HA pair, repeats, out-of-order resolves, PagerDuty and Grafana reports of the same problems.
Prints both rates and their ratio (core rate / decode-only rate; 1.0 would mean the core is
free, 0.2 means it costs 5x the decode).

The history section feeds ONE alert (one PagerDuty dedup key) distinct triggers and resolves,
each with its own timestamp, and measures the cost of a signal (normalize + decide) once the
alert has 1k, 10k, 100k and 1M signals of history, with the size of the alert's state (msgpack
as replay spills it) at each. Cost per signal must not depend on history: it prints
``history growth: cost at 1M / cost at 1k``. ``--history-max`` stops it earlier (the ratio is
then taken at the largest size reached).

``--count PHASE`` (decode, normalize, decide or core) runs that phase once over the first
``--envelopes`` of the mix, its work alone inside one ``functools.reduce`` call, for an
instruction count steady whatever the machine's load (decide's signals are normalized first,
outside it)::

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \
        python bench/domain.py --count decide --envelopes 3000
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import attrs
import msgspec
import orjson

from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain import alert, engine, incident
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import Ruleset
from helios.domain.timestamps import format_rfc3339
from helios.domain.values import Envelope, Signal, SourceKind

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
"""What the traffic mix can be timed with (``--clock``)."""

HISTORY_SIZES = (1_000, 10_000, 100_000, 1_000_000)
HISTORY_SAMPLE = 2_000
"""Signals timed at each size (the ones right after it)."""
HISTORY_SLICES = 10
HISTORY_START = 1_760_000_000_000
HISTORY_BATCH = 100
"""Signals decided between two flushes of the decided events (as the worker's batches)."""
MIX_BATCH = 100
"""Envelopes of the mix decided between two flushes of the decided events: the worker appends
a batch's events and forgets them, so they do not pile up over the whole run."""


def decode_only(envelopes: list[Envelope], clock: Callable[[], float]) -> float:
    started = clock()
    for envelope in envelopes:
        orjson.loads(envelope.body)
    return clock() - started


def normalize_only(
    envelopes: list[Envelope], ruleset: Ruleset, clock: Callable[[], float]
) -> float:
    """Normalization alone (decode, checks, signal assembly), without deciding."""
    started = clock()
    for envelope in envelopes:
        normalize(envelope, ruleset, decode=orjson.loads)
    return clock() - started


def core(
    envelopes: list[Envelope], ruleset: Ruleset, clock: Callable[[], float]
) -> tuple[float, int, int]:
    """Normalize and decide, a batch of ``MIX_BATCH`` envelopes at a time as the worker does
    (``Ingestor``: the batch's envelopes normalized, then its signals decided, then its events
    flushed)."""
    context = engine.TenantContext(ruleset=ruleset)
    working = engine.Working(alerts={}, groups={})
    signals = decisions = 0
    started = clock()
    for first in range(0, len(envelopes), MIX_BATCH):
        signals += _core_batch(working, context, envelopes[first : first + MIX_BATCH])
        decisions += flush(working)
    return clock() - started, signals, decisions


def _core_batch(
    working: engine.Working, context: engine.TenantContext, batch: list[Envelope]
) -> int:
    """Normalize ``batch``, then decide its signals (not flushed); returns how many.

    Normalizing the whole batch first, as the worker does, is not only more faithful: deciding
    each envelope's signals right after normalizing it (as this did until 2026-12-02) cost
    about 1 µs per signal more in CPU time for about the same instructions (most likely the two
    working sets evicting each other from the caches at every envelope)."""
    ruleset = context.ruleset
    signals: list[Signal] = []
    for envelope in batch:
        result = normalize(envelope, ruleset, decode=orjson.loads)
        if isinstance(result, Normalized):
            signals.extend(result.signals)
    for signal in signals:
        missing = engine.apply_signal(working, signal, context)
        if missing is not None:
            for group in missing.groups:
                working.groups[group] = incident.initial_state(*group)
            engine.apply_signal(working, signal, context)
    return len(signals)


def flush(working: engine.Working) -> int:
    """Forget the events decided so far, as the worker does once it appended them."""
    count = sum(len(events) for events in working.events.values())
    working.clear_events()
    return count


def decide_only(
    envelopes: list[Envelope], ruleset: Ruleset, clock: Callable[[], float]
) -> tuple[float, int]:
    """Deciding alone: the signals are normalized first, untimed."""
    signals = []
    for envelope in envelopes:
        result = normalize(envelope, ruleset, decode=orjson.loads)
        if isinstance(result, Normalized):
            signals.extend(result.signals)
    context = engine.TenantContext(ruleset=ruleset)
    working = engine.Working(alerts={}, groups={})
    started = clock()
    for index, signal in enumerate(signals, 1):
        missing = engine.apply_signal(working, signal, context)
        if missing is not None:
            for group in missing.groups:
                working.groups[group] = incident.initial_state(*group)
            engine.apply_signal(working, signal, context)
        if index % MIX_BATCH == 0:
            flush(working)
    return clock() - started, len(signals)


def counted(phase: str, envelopes: list[Envelope], ruleset: Ruleset) -> int:
    """Run ``phase`` once over ``envelopes``, its work alone inside ``functools.reduce`` (which
    callgrind can be told to count alone); returns the signals it handled."""
    signals: list[Signal] = []
    for envelope in envelopes:
        result = normalize(envelope, ruleset, decode=orjson.loads)
        if isinstance(result, Normalized):
            signals.extend(result.signals)
    context = engine.TenantContext(ruleset=ruleset)
    working = engine.Working(alerts={}, groups={})
    if phase == "decide":
        functools.reduce(functools.partial(_decide_one, working, context), signals, 0)
    elif phase == "core":
        batches = [
            envelopes[first : first + MIX_BATCH] for first in range(0, len(envelopes), MIX_BATCH)
        ]
        functools.reduce(functools.partial(_core_one, working, context), batches, 0)
    elif phase == "normalize":
        functools.reduce(functools.partial(_normalize_one, ruleset), envelopes, 0)
    else:
        functools.reduce(_decode_one, envelopes, 0)
    return len(signals)


def _decode_one(count: int, envelope: Envelope) -> int:
    orjson.loads(envelope.body)
    return count + 1


def _normalize_one(ruleset: Ruleset, count: int, envelope: Envelope) -> int:
    normalize(envelope, ruleset, decode=orjson.loads)
    return count + 1


def _decide_one(
    working: engine.Working, context: engine.TenantContext, count: int, signal: Signal
) -> int:
    """Decide one signal, and flush every ``MIX_BATCH`` signals (as ``decide_only``)."""
    missing = engine.apply_signal(working, signal, context)
    if missing is not None:
        for group in missing.groups:
            working.groups[group] = incident.initial_state(*group)
        engine.apply_signal(working, signal, context)
    if (count + 1) % MIX_BATCH == 0:
        flush(working)
    return count + 1


def _core_one(
    working: engine.Working, context: engine.TenantContext, count: int, batch: list[Envelope]
) -> int:
    """Normalize and decide one batch of envelopes, then flush (as ``core``)."""
    _core_batch(working, context, batch)
    flush(working)
    return count + 1


def history_envelope(index: int, start: int) -> Envelope:
    """The ``index``-th signal of one alert that fires and clears: a trigger every other
    minute, its resolve 40 s later, each with its own PagerDuty timestamp."""
    action = "trigger" if index % 2 == 0 else "resolve"
    at = start + (index // 2) * 120_000 + (index % 2) * 40_000
    body = orjson.dumps(
        {
            "routing_key": "R" * 32,
            "event_action": action,
            "dedup_key": "disk-full-db-1",
            "payload": {
                "summary": f"disk 9{index % 10}% full on db-1",
                "source": "db-1",
                "severity": "critical",
                "timestamp": format_rfc3339(at),
                "component": "db",
                "group": "storage",
                "class": "disk",
            },
        }
    )
    return Envelope(
        ingest_id=f"ing-h-{index:09d}",
        tenant="bench",
        integration="int-pagerduty",
        source=SourceKind.PAGERDUTY,
        received_at=at + 500,
        body=body,
    )


@attrs.define
class _Alert:
    """One alert being fed its history: the engine's working states and the next signal."""

    working: engine.Working
    index: int = 0

    def copy(self) -> _Alert:
        # States are immutable: copying the dicts that hold them copies the alert.
        alerts, groups = dict(self.working.alerts), dict(self.working.groups)
        return _Alert(working=engine.Working(alerts=alerts, groups=groups), index=self.index)


def feed(fed: _Alert, count: int, ruleset: Ruleset, context: engine.TenantContext) -> None:
    working = fed.working
    for _ in range(count):
        envelope = history_envelope(fed.index, HISTORY_START)
        result = normalize(envelope, ruleset, decode=orjson.loads)
        fed.index += 1
        if not isinstance(result, Normalized):
            raise SystemExit(f"signal {fed.index} rejected: {result}")
        for signal in result.signals:
            missing = engine.apply_signal(working, signal, context)
            if missing is not None:
                for group in missing.groups:
                    working.groups[group] = incident.initial_state(*group)
                engine.apply_signal(working, signal, context)
        if fed.index % HISTORY_BATCH == 0:
            working.clear_events()


def history(ruleset: Ruleset, largest: int) -> list[tuple[int, float, float, int, int]]:
    """At each history size: (size, µs per signal after it, µs per signal of the same alert
    back at the first size measured at the same moment, state bytes, signals kept).

    The second figure is the control: this machine is shared, and its load drifts over the
    minutes a large history takes; timing slices of both alternately cancels the drift."""
    context = engine.TenantContext(ruleset=ruleset)
    fed = _Alert(working=engine.Working(alerts={}, groups={}))
    sizes = [size for size in HISTORY_SIZES if size <= largest]
    found = []
    control: _Alert | None = None
    per_slice = HISTORY_SAMPLE // HISTORY_SLICES
    for size in sizes:
        feed(fed, size - fed.index, ruleset, context)
        if control is None:
            control = fed.copy()
        (state,) = fed.working.alerts.values()
        encoded = len(msgspec.msgpack.encode(alert.compacted(state)))
        slices, controls = [], []
        for _ in range(HISTORY_SLICES):
            started = time.perf_counter()
            feed(fed, per_slice, ruleset, context)
            slices.append((time.perf_counter() - started) / per_slice)
            again = control.copy()
            started = time.perf_counter()
            feed(again, per_slice, ruleset, context)
            controls.append((time.perf_counter() - started) / per_slice)
        cost, base = statistics.median(slices) * 1e6, statistics.median(controls) * 1e6
        found.append((size, cost, base, encoded, len(state.signals)))
        print(
            f"{size:>12,}{cost:>14.1f}{base:>18.1f}{encoded:>16,}{len(state.signals):>14,}",
            flush=True,
        )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envelopes", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--history-max", type=int, default=HISTORY_SIZES[-1])
    parser.add_argument("--no-history", action="store_true")
    parser.add_argument("--history-only", action="store_true")
    parser.add_argument(
        "--count",
        choices=("decode", "normalize", "decide", "core"),
        help="run this phase once over the first --envelopes of the mix, alone inside "
        "functools.reduce, for callgrind to count (see above); nothing is timed",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="time the mix in wall time, or in this process's CPU time (steadier on a busy "
        "machine, where the wall time counts the other processes' turns too)",
    )
    args = parser.parse_args()
    if args.count:
        generator = TrafficGenerator(tenant="bench", start=1_760_000_000_000, problems=200)
        envelopes = list(generator.envelopes(args.envelopes))
        signals = counted(args.count, envelopes, Ruleset())
        print(f"{args.count}: {len(envelopes):,} envelopes, {signals:,} signals")
        return 0
    if not args.history_only:
        mix(args)
    if not args.no_history:
        print(
            f"\nhistory: one alert, distinct PagerDuty triggers and resolves (sample of "
            f"{HISTORY_SAMPLE:,} signals after each size)"
        )
        print(
            f"{'history':>12}{'µs/signal':>14}{'at 1k, same time':>18}"
            f"{'state bytes':>16}{'signals kept':>14}"
        )
        found = history(Ruleset(), args.history_max)
        first, last = found[0], found[-1]
        print(
            f"history growth: cost at {_short(last[0])} / cost at {_short(first[0])} = "
            f"{last[1] / last[2]:.2f}  (target <= 1.5; against the {_short(first[0])} alert "
            f"timed alongside; {last[1] / first[1]:.2f} against the first measure)"
        )
        print(f"state size: {min(f[3] for f in found):,} to {max(f[3] for f in found):,} bytes")
    return 0


def _short(size: int) -> str:
    return f"{size // 1_000_000}M" if size >= 1_000_000 else f"{size // 1_000}k"


def mix(args: argparse.Namespace) -> None:
    generator = TrafficGenerator(tenant="bench", start=1_760_000_000_000, problems=200)
    envelopes = list(generator.envelopes(args.envelopes))
    ruleset = Ruleset()
    payload_bytes = sum(len(e.body) for e in envelopes)

    core_times, decode_times, normalize_times, decide_times = [], [], [], []
    signals = decisions = 0
    for _ in range(args.repeat):
        clock = CLOCKS[args.clock]
        decode_times.append(decode_only(envelopes, clock))
        normalize_times.append(normalize_only(envelopes, ruleset, clock))
        elapsed, signals, decisions = core(envelopes, ruleset, clock)
        core_times.append(elapsed)
        decide_times.append(decide_only(envelopes, ruleset, clock)[0])
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
    decide_rate = signals / statistics.median(decide_times)
    print(f"{'decide only (normalized first)':<34}{decide_rate:>14,.0f}{1e6 / decide_rate:>12.2f}")
    print(f"{'normalize + decide (core)':<34}{core_rate:>14,.0f}{1e6 / core_rate:>12.2f}")
    print(
        f"ratio core/baseline: {core_rate / decode_rate:.3f}"
        f"  (target >= 0.2; median of {args.repeat} runs, {args.clock} time)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
