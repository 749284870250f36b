"""Run the benchmarks of two checkouts side by side and say whether the second is slower.

    .venv/bin/python bench/compare.py --before ../helios-old --after . [--rounds 3]
                                      [--only domain,pipeline] [--full]

Each checkout runs its *own* ``bench/*.py`` against its *own* ``src/`` (``PYTHONPATH``), in
interleaved rounds (before, after, before, after, …) so that a change in the machine's load
hits both alike. From each run's output the headline numbers are read (the ratios against the
raw baseline each benchmark measures in the same process, and the latencies it prints); the
table gives each one's median over the rounds, before and after, and the change. A number that
got worse by more than ``--tolerance`` (10 % by default) is flagged ``SLOWER``; the exit status
is 1 when any is.

By default every benchmark runs with small sizes (a few seconds each), which is enough to see a
regression of tens of percent; ``--full`` uses each benchmark's own defaults (tens of minutes).
The PostgreSQL and SQS sections use ``HELIOS_BENCH_DATABASE_URL`` / ``HELIOS_BENCH_SQS_URL``
when set, as the benchmarks themselves do.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Metric:
    """A number read from a benchmark's output: a regex whose groups name it and give it."""

    pattern: str
    higher_is_better: bool
    unit: str = ""

    def read(self, output: str) -> Iterator[tuple[str, float]]:
        """Each ``(name, value)`` the pattern finds; the last group is the value."""
        for match in re.finditer(self.pattern, output, flags=re.MULTILINE):
            *names, value = match.groups()
            label = " ".join(n.strip() for n in names if n) or self.pattern
            yield label, float(value.replace(",", ""))


@dataclass(frozen=True)
class Bench:
    script: str
    quick: tuple[str, ...]
    metrics: tuple[Metric, ...]


BENCHES = (
    Bench(
        "domain",
        ("--no-history", "--envelopes", "3000", "--repeat", "3"),
        (
            Metric(r"^(ratio core/baseline): ([\d.]+)", higher_is_better=True),
            Metric(r"^(normalize only)\s+[\d,]+\s+([\d.]+)", higher_is_better=False, unit="µs"),
        ),
    ),
    Bench(
        "pipeline",
        ("--envelopes", "1000"),
        (
            Metric(r"^\s+(ratio pipeline/raw)\s+([\d.]+)", higher_is_better=True),
            Metric(r"^\s+(enqueue→decision)\s+p50 [\d.]+ ms\s+p99 ([\d.]+)", False, "ms p99"),
        ),
    ),
    Bench(
        "api",
        ("--seconds", "2"),
        (Metric(r"^(.+?): ([\d.]+)x the bare endpoint", higher_is_better=True, unit="x bare"),),
    ),
    Bench(
        "query",
        ("--alerts", "10000", "--requests", "50", "--detail-alerts", "50"),
        (
            Metric(
                r"^(GET \S.*?)\s{2,}[\d.]+\s+([\d.]+)\s+[\d.]+\s+[\d.]+\s*$",
                higher_is_better=False,
                unit="ms p99",
            ),
        ),
    ),
    Bench(
        "replay",
        ("--sizes", "20000", "--backends", "sqlite", "--rounds", "1"),
        (
            Metric(
                r"^(\w+\s+\w+)\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+([\d.]+)\s",
                higher_is_better=True,
                unit="verify/raw",
            ),
        ),
    ),
    Bench(
        "store",
        ("--events", "2000"),
        (
            Metric(
                r"^(\S+\s+(?:adapter append|ingest use case))\s+\d+\s+[\d,]+\s+([\d.]+)x",
                higher_is_better=True,
                unit="x executemany",
            ),
        ),
    ),
    Bench(
        "coldload",
        ("--sizes", "1000"),
        (Metric(r"^(\w+\s+\d+\s+snapshots)\s+([\d.]+)", higher_is_better=False, unit="ms"),),
    ),
)


def run(checkout: Path, bench: Bench, *, full: bool) -> str:
    """One run of ``bench`` from ``checkout``; its standard output (stderr is progress)."""
    env = dict(os.environ, PYTHONPATH=str(checkout / "src"))
    args = () if full else bench.quick
    done = subprocess.run(
        [sys.executable, str(checkout / "bench" / f"{bench.script}.py"), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-5:])
        raise SystemExit(f"{bench.script} failed in {checkout} ({done.returncode}):\n{tail}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the older checkout")
    parser.add_argument("--after", type=Path, default=Path(), help="the newer checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--full", action="store_true", help="each benchmark's own sizes")
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name}
    checkouts = {"before": args.before.resolve(), "after": args.after.resolve()}
    slower = 0
    print(f"{'benchmark / measure':58} {'before':>9} {'after':>9} {'change':>8}")
    for bench in BENCHES:
        if only and bench.script not in only:
            continue
        values: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
        for round_ in range(args.rounds):
            for side, checkout in checkouts.items():
                started = time.monotonic()
                output = run(checkout, bench, full=args.full)
                for metric in bench.metrics:
                    for name, value in metric.read(output):
                        values[side].setdefault(name, []).append(value)
                print(
                    f"  [{bench.script} round {round_ + 1}/{args.rounds} {side}: "
                    f"{time.monotonic() - started:.1f} s]",
                    file=sys.stderr,
                )
        for metric in bench.metrics:
            names = dict.fromkeys(name for name, _ in metric.read(output))
            for name in names:
                before = values["before"].get(name)
                after = values["after"].get(name)
                if not before or not after:
                    print(f"{bench.script}: {name:50} (only in one checkout)")
                    continue
                b, a = statistics.median(before), statistics.median(after)
                change = (a - b) / b if b else 0.0
                worse = -change if metric.higher_is_better else change
                flag = "  SLOWER" if worse > args.tolerance else ""
                slower += bool(flag)
                label = (
                    f"{bench.script}: {name} ({metric.unit})"
                    if metric.unit
                    else (f"{bench.script}: {name}")
                )
                print(f"{label:58} {b:9.3f} {a:9.3f} {change:+8.1%}{flag}")
    print(
        f"{slower} measure(s) worse by more than {args.tolerance:.0%}"
        if slower
        else f"no measure worse by more than {args.tolerance:.0%} (medians of {args.rounds})"
    )
    return 1 if slower else 0


if __name__ == "__main__":
    sys.exit(main())
