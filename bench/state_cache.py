"""CPU microseconds per alert of the repository's state cache, against a plain ``OrderedDict``
keyed by ``UUID`` doing the same LRU moves, in one process.

    python bench/state_cache.py [--alerts 10000] [--rounds 5]

The ingest worker gets and puts each new alert's state a few times per batch: ``preload``
(a get and a put), ``load`` (a get and a put) and the commit (a put). Here the same pattern
runs over ``--alerts`` fresh stream ids, through ``StateCache`` and through the baseline (an
``OrderedDict`` keyed by the ``UUID`` itself, with the lock, no entry object): the ratio is
what the cache's bookkeeping adds to the dictionary's. CPU time of this thread
(``time.thread_time``), medians of the rounds; say how busy the machine was (the load average
is printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from helios.apps.application.repository import StateCache


class Baseline:
    """The least an LRU of states can do: a locked ``OrderedDict`` keyed by the ``UUID``."""

    def __init__(self) -> None:
        self._items: OrderedDict[uuid.UUID, tuple[Any, int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, stream: uuid.UUID) -> tuple[Any, int, float] | None:
        with self._lock:
            item = self._items.get(stream)
            if item is not None:
                self._items.move_to_end(stream)
            return item

    def put(self, stream: uuid.UUID, state: Any, version: int, checked_at: float) -> None:
        with self._lock:
            self._items[stream] = (state, version, checked_at)
            self._items.move_to_end(stream)


def per_alert(cache: Any, streams: list[uuid.UUID]) -> float:
    """CPU µs per alert of the ingest worker's pattern over ``streams``."""
    began = time.thread_time()
    for stream in streams:  # preload: unknown, then its initial state
        cache.get(stream)
        cache.put(stream, None, 0, 0.0)
    for stream in streams:  # load, then the commit at the new version
        cache.get(stream)
        cache.put(stream, None, 0, 1.0)
        cache.put(stream, None, 3, 1.0)
    return (time.thread_time() - began) / len(streams) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cached, baseline = [], []
    for _ in range(args.rounds):
        streams = [uuid.uuid4() for _ in range(args.alerts)]
        cached.append(per_alert(StateCache(capacity=2 * args.alerts), streams))
        baseline.append(per_alert(Baseline(), streams))
    ours, raw = statistics.median(cached), statistics.median(baseline)
    load = os.getloadavg()[0]
    print(f"{args.alerts} alerts, {args.rounds} rounds, medians; load average {load:.2f}")
    print(f"  StateCache            {ours:6.2f} µs/alert")
    print(f"  OrderedDict by UUID   {raw:6.2f} µs/alert")
    print(f"  ratio                 {ours / raw:6.2f}")


if __name__ == "__main__":
    main()
