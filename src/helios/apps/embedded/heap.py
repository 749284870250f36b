"""Keeping the API's and the worker's garbage collections short: their start-up heap, frozen.

The API child builds its whole application before it serves (Litestar's routes and models,
msgspec and attrs types, the adapters, the normalizers): a few hundred thousand container
objects that live as long as the process. CPython's cycle collector walks every one of them in
each full (generation 2) collection, which the allocations of requests trigger every few
seconds under load; measured under wrk at 32 connections, those collections stopped the event
loop for 60-270 ms each, and every request in flight waited out the pause: they were the
slowest one percent of answers. ``gc.freeze()`` moves what is alive once start-up is done into
the permanent generation, which the collector never walks, so a full collection costs the
objects made since. Reference counting still frees frozen objects that are released later;
only a reference cycle among them would stay (the start-up heap has none worth the walk).
The worker child freezes its own for the same reason: its batches' allocations trigger full
collections as often, and each one walked the services it built at start-up.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> int:
    """Collect the start-up garbage once, then freeze every object still alive so that the
    cycle collector no longer walks it; returns how many objects are frozen now."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


YOUNG_COLLECTION = 20_000
"""Allocations (net, of containers) between two young collections in the API and worker
processes, against CPython's 700: each request of 10 alerts makes a few thousand, so at 700
the collector ran several times a request (and a batch of decisions, many times an alert).
Under wrk (10 alerts a request, ``bench/accept_cpu.py``, eight rounds each, alternated) the
API accepted 28,300-30,200 alerts/s against 26,600-29,300, and spent 30-33 µs of CPU per
accepted alert against 34-35 (the last four rounds of each). In ``bench/visible.py`` (three
runs each, alternated) 10,000 new alerts were listed after 1.99-2.14 s against 2.02-2.26 s,
for 2.10-2.37 s of CPU against 2.17-2.50. The garbage a young collection finds waits a
little longer (a few MB at most)."""


def collect_young_less_often(allocations: int = YOUNG_COLLECTION) -> None:
    """Run the young generation's collection every ``allocations`` net container
    allocations; the older generations keep their thresholds (relative to it)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(allocations, middle, old)


def settle_long_lived_heap() -> dict[str, int]:
    """What a child of ``helios up`` does once it is built, before it serves: freeze the
    start-up heap, then collect the young generation less often. Returns both, for the log."""
    frozen = freeze_start_up_heap()
    collect_young_less_often()
    return {"objects": frozen, "young_collection": gc.get_threshold()[0]}
