"""How much lower ``helios up``'s worker child runs than its API child is an operator setting."""

from __future__ import annotations

from helios.apps.settings import Settings


def test_the_worker_child_yields_the_cpu_to_the_api_child_unless_told_otherwise() -> None:
    """Without HELIOS_UP_WORKER_NICENESS the worker runs at the lowest priority nice allows
    against the API (only against it: both share the supervisor's autogroup), so that a burst
    is accepted first and decided on the CPU the API leaves; 0 turns that off."""
    assert Settings.from_env({}).up_worker_niceness == 19
    assert Settings.from_env({"HELIOS_UP_WORKER_NICENESS": "0"}).up_worker_niceness == 0


def test_the_worker_niceness_is_read_from_the_environment_within_what_nice_allows() -> None:
    """HELIOS_UP_WORKER_NICENESS sets it, kept between 0 and 19."""
    assert Settings.from_env({"HELIOS_UP_WORKER_NICENESS": "10"}).up_worker_niceness == 10
    assert Settings.from_env({"HELIOS_UP_WORKER_NICENESS": "40"}).up_worker_niceness == 19
    assert Settings.from_env({"HELIOS_UP_WORKER_NICENESS": "-5"}).up_worker_niceness == 0
