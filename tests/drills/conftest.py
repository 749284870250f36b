"""Drills: each runbook's failure caused for real, then recovered with the page's own commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Helios


@pytest.fixture
def helios(tmp_path: Path) -> Iterator[Helios]:
    """Helios on the embedded default in a scratch directory; its processes stopped after."""
    system = Helios.create(tmp_path)
    try:
        yield system
    finally:
        system.stop_all()
