"""Benchmark: a label pattern that backtracks catastrophically, matched by RE2 (what every new
input uses) next to Python's re (what replay of inputs recorded before RE2 still uses).

    python bench/regex.py [--budget SECONDS] [--repeat R]

For each pathological pattern, the value is ``a`` repeated then ``!`` (it almost matches, so a
backtracking engine tries every way to split the run of ``a``). RE2 is timed on 10..1,024
characters (the longest label value); re only while one match takes under ``--budget`` seconds,
and its growth per extra character is printed (x2 for ``(a+)+$``: one more character doubles
the time). Then the everyday patterns, to show what RE2 costs where re is fine.
Both go through ``helios.domain.patterns.full_match``, the code the engine runs.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from helios.domain.patterns import RegexEngine, full_match

PATHOLOGICAL = (r"(a+)+$", r"(a|aa)+b")
RE2_LENGTHS = (10, 25, 50, 100, 256, 512, 1024)
EVERYDAY = (
    ("prod-.*", "prod-eu-west-1"),
    ("(checkout|payments|search)-api", "payments-api"),
    (r"db-\d+\.example\.internal", "db-12.example.internal"),
    ("(?i)critical|page", "CRITICAL"),
)


def value_of(length: int) -> str:
    return "a" * (length - 1) + "!"


def timed(pattern: str, value: str, engine: RegexEngine, repeat: int) -> float:
    """Median seconds of one full match (compiling excluded: patterns are cached)."""
    full_match(pattern, value, engine)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        full_match(pattern, value, engine)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def python_re_until(pattern: str, budget_s: float) -> list[tuple[int, float]]:
    """(length, seconds) for growing values, stopping once a match takes over the budget."""
    points: list[tuple[int, float]] = []
    length = 4
    seconds = 0.0
    while length <= 1024:
        # The median of a few runs while they are cheap: one run is noisy on a busy machine.
        repeat = 5 if seconds < budget_s / 20 else 1
        seconds = timed(pattern, value_of(length), RegexEngine.PYTHON_RE, repeat=repeat)
        points.append((length, seconds))
        if seconds > budget_s:
            break
        length += 1
    return points


def growth(points: list[tuple[int, float]]) -> float:
    """Geometric growth of the time per extra character, over the measurable tail."""
    tail = [(n, s) for n, s in points if s > 1e-3][-10:]
    if len(tail) < 2:
        return float("nan")
    (n0, s0), (n1, s1) = tail[0], tail[-1]
    return float((s1 / s0) ** (1 / (n1 - n0)))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget", type=float, default=1.0, help="seconds for one re match")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    for pattern in PATHOLOGICAL:
        print(f"\npattern {pattern!r}, value 'a'*(n-1)+'!'")
        print(f"  {'n':>5}  {'RE2 µs':>9}")
        for length in RE2_LENGTHS:
            seconds = timed(pattern, value_of(length), RegexEngine.RE2, args.repeat)
            print(f"  {length:>5}  {seconds * 1e6:>9.2f}")
        points = python_re_until(pattern, args.budget)
        print(f"  Python re, up to about {args.budget:g} s for one match:")
        for length, seconds in points[-6:]:
            print(f"  {length:>5}  {seconds * 1e6:>12.0f} µs")
        factor = growth(points)
        last_n, last_s = points[-1]
        print(f"  re growth: x{factor:.2f} per extra character", end="")
        if factor > 1.01 and last_n < 1024:
            log10_s = math.log10(last_s) + (1024 - last_n) * math.log10(factor)
            print(f"; 1,024 characters would take ~10^{log10_s:.0f} s")
        else:
            print()

    print("\neveryday patterns (µs per match)")
    print(f"  {'pattern':<32} {'re':>7} {'RE2':>7}")
    for pattern, value in EVERYDAY:
        old = timed(pattern, value, RegexEngine.PYTHON_RE, args.repeat * 20)
        new = timed(pattern, value, RegexEngine.RE2, args.repeat * 20)
        print(f"  {pattern:<32} {old * 1e6:>7.2f} {new * 1e6:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
