"""The CPUs ``helios up``'s API child keeps to (``HELIOS_UP_API_CPUS``).

Each request the API answers is a dozen hand-offs between its threads: the event loop,
granian's I/O threads and the thread that commits to the intake file. Left to the scheduler,
those threads land on whichever core is free, beside the worker child, and every hand-off is
a wake-up on another core, its data in another core's cache. Kept to one core, they hand off
on a warm cache, and the worker (at its lower priority) takes the other cores. Measured on two
cores under wrk (``bench/accept_cpu.py``, 10 alerts a request, alternated twice): the API spent
23 µs of CPU per accepted alert instead of 30, and accepted 35,600 to 37,100 alerts/s instead
of 29,700 to 30,100 (docs/operations.md).

``one`` (the default) keeps the API to the CPU it was started on, when it may run on two or
more (so that several ``helios up`` on one host, each seeing every CPU, spread out rather than
all keep to the first); ``any`` leaves it to the scheduler; a list (``0``, ``2-3``, ``0,2``) names
the CPUs, of those this process may run on.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

ONE = "one"
ANY = "any"


def parse_cpu_list(text: str) -> frozenset[int]:
    """The CPUs of a list such as ``0,2-3`` (the form of ``taskset -c`` and cgroups' cpusets).

    Raises:
        ValueError: the text is not such a list (what is wrong is said).
    """
    cpus: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"{part.strip()!r} is not a CPU number or a range of them")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"the range {part.strip()!r} ends before it starts")
        cpus.update(range(low, high + 1))
    return frozenset(cpus)


def check_setting(name: str, value: str) -> str:
    """``value`` if it is ``one``, ``any`` or a CPU list.

    Raises:
        ValueError: it is none of them; the message names the setting.
    """
    if value in (ONE, ANY):
        return value
    try:
        parse_cpu_list(value)
    except ValueError as error:
        raise ValueError(
            f"{name} must be 'one', 'any' or a CPU list such as 0,2-3: {error}"
        ) from None
    return value


def api_cpus(
    setting: str, allowed: Collection[int], *, running_on: int | None = None
) -> frozenset[int] | None:
    """The CPUs the API keeps to under ``setting``, of the ``allowed`` ones (``one``: the CPU
    it is ``running_on``, else the first allowed); None: where the scheduler puts it.

    Raises:
        ValueError: a list that names none of the allowed CPUs.
    """
    if setting == ANY:
        return None
    if setting == ONE:
        if len(allowed) < 2:
            return None
        if running_on is None or running_on not in allowed:
            return frozenset({min(allowed)})
        return frozenset({running_on})
    chosen = parse_cpu_list(setting) & frozenset(allowed)
    if not chosen:
        raise ValueError(
            f"HELIOS_UP_API_CPUS={setting} names none of the CPUs this process may run on "
            f"({', '.join(map(str, sorted(allowed)))})"
        )
    return chosen


def keep_to(cpus: frozenset[int]) -> None:
    """Run every thread of this process on ``cpus`` only; the threads they start later
    inherit it."""
    for task in Path("/proc/self/task").iterdir():  # this thread among them
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except ProcessLookupError:
            continue  # a thread that ended meanwhile


def planned_api_cpus(setting: str) -> frozenset[int] | None:
    """The CPUs the API child of this process would keep to (``api_cpus`` of the CPUs this
    process may run on); None also where the system has no CPU affinity (not Linux).

    Raises:
        ValueError: a list that names none of the CPUs this process may run on.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None  # the scheduler decides, as with ``any``
    return api_cpus(setting, os.sched_getaffinity(0), running_on=running_on())


def running_on() -> int | None:
    """The CPU this process last ran on (``processor``, field 39 of ``/proc/self/stat``);
    None where it cannot be read."""
    try:
        fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
        return int(fields[36])  # the fields after the command name start at field 3
    except (OSError, IndexError, ValueError):
        return None


def keep_api_to_cpus(setting: str) -> frozenset[int] | None:
    """Keep this process (the API child) to the CPUs ``setting`` names; returns them, or None
    where nothing was changed (``any``, a single CPU, or a system without CPU affinity).

    Raises:
        ValueError: a list that names none of the CPUs this process may run on.
    """
    cpus = planned_api_cpus(setting)
    if cpus is not None:
        keep_to(cpus)
    return cpus
