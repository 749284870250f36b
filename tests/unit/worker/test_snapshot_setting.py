"""The snapshot interval is an operator setting that reaches the ingest worker."""

from __future__ import annotations

from helios.apps.application.repository import SNAPSHOT_EVERY
from helios.apps.settings import Settings


def test_the_snapshot_interval_defaults_to_the_use_case_default() -> None:
    """Without HELIOS_SNAPSHOT_EVERY, states are snapshotted every 100 events."""
    assert Settings.from_env({}).snapshot_every == SNAPSHOT_EVERY == 100


def test_the_snapshot_interval_is_read_from_the_environment_and_zero_turns_it_off() -> None:
    """HELIOS_SNAPSHOT_EVERY sets the interval; 0 (or less) means no snapshots."""
    assert Settings.from_env({"HELIOS_SNAPSHOT_EVERY": "250"}).snapshot_every == 250
    assert Settings.from_env({"HELIOS_SNAPSHOT_EVERY": "-3"}).snapshot_every == 0
