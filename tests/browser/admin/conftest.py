"""Browser tests of the admin console: Debian's Chromium driven by pytest-playwright (never a
downloaded browser), against the app ``helios up`` serves over the test servers.

Screenshots of every screen are written to ``test-artifacts/admin/`` (ignored by git).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Playwright
from test_admin_console import seed_console
from test_query_api import World, start_world

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "admin"


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("admin-browser")
    made = start_world(postgres_url, redis_session_url, data_dir, seed=seed_console(data_dir))
    yield next(made)
    next(made, None)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser_context_args(playwright: Playwright) -> dict[str, Any]:
    # No device emulation nor base URL: the tests set their viewport and use full URLs.
    return {}
