"""Test-wide setup: Hypothesis profiles, test server addresses, shared fixtures.

Hypothesis profiles (choose with HYPOTHESIS_PROFILE, default `dev`):
  dev   the default for local runs; same settings as ci
  ci    60 examples per property, no deadline (2 shared cores make timings noisy)
  deep  2000 examples per property, for a long run before a release or after a domain change
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, settings

TESTS_DIR = Path(__file__).resolve().parent
SERVICES_ENV = TESTS_DIR.parent / ".services" / "env"

# Suites import `services` (tests/services.py) whatever pytest's import mode or package layout.
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from services import (  # noqa: E402, F401  (fixtures are registered by being imported here)
    postgres_url,
    private_postgres,
    redis_session_url,
    redis_url,
    smtp_sink,
    sqs_endpoint,
)

_CI = settings(
    max_examples=60,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", _CI)
settings.register_profile("dev", _CI)
settings.register_profile("deep", _CI, max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _load_services_env(path: Path) -> None:
    """Adopt the addresses written by `scripts/services.sh start`, unless already set.

    So that a plain `pytest` works after starting the servers; variables already in the
    environment (from `scripts/test.sh` or the developer) win.
    """
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if sep and name and name not in os.environ:
            os.environ[name] = value.strip().strip("'\"")


_load_services_env(SERVICES_ENV)


# Commands run in-process by some tests (``helios analytics …``, ``helios rules …``) configure
# structlog for the whole process: its level, its output, and loggers cached on first use, which
# later reconfiguration (``structlog.testing.capture_logs`` in other tests) can no longer reach.
# Loggers stay uncached under test, and each test starts from structlog's defaults.
_configure_structlog = structlog.configure


def _configure_uncached(**options: Any) -> None:
    _configure_structlog(**{**options, "cache_logger_on_first_use": False})


structlog.configure = _configure_uncached


@pytest.fixture(autouse=True)
def _structlog_defaults() -> Iterator[None]:
    yield
    structlog.reset_defaults()
