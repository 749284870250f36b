"""Browser tests of the responders' app, against a whole Helios running on loopback
(``test_query_api.World``); the browser itself comes from ``tests/browser/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_query_api import World, start_world

from helios.apps.http.responder_app import is_built

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "app"


@pytest.fixture(scope="module")
def browser_context_args() -> dict[str, Any]:
    """Every page starts at a desktop size (tests resize for the phone screenshots)."""
    return {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    if not is_built():
        pytest.fail("the app is not built: bash scripts/build_app.sh")
    made = start_world(postgres_url, redis_session_url, tmp_path_factory.mktemp("app"))
    yield next(made)
    next(made, None)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
