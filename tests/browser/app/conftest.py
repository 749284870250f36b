"""Browser tests of the responders' app: Debian's Chromium through pytest-playwright (no
browser download), against a whole Helios running on loopback (``test_query_api.World``).

Playwright's sync API keeps its event loop marked as running while it is started, which
breaks every asyncio test that runs after it in the same session: here Playwright and the
browser live for this folder's module only (pytest-playwright's are session-wide)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserType, Playwright, sync_playwright

E2E = Path(__file__).resolve().parents[2] / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

from test_query_api import World, start_world  # noqa: E402

from helios.apps.http.responder_app import is_built  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "app"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.fail("these tests need Debian's chromium (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser_context_args() -> dict[str, Any]:
    """Every page starts at a desktop size (tests resize for the phone screenshots)."""
    return {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module")
def browser_type(playwright: Playwright, browser_name: str) -> BrowserType:
    browser: BrowserType = getattr(playwright, browser_name)
    return browser


@pytest.fixture(scope="module")
def launch_browser(
    browser_type_launch_args: dict[str, Any], browser_type: BrowserType
) -> Callable[..., Browser]:
    def launch(**kwargs: Any) -> Browser:
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="module")
def browser(launch_browser: Callable[..., Browser]) -> Iterator[Browser]:
    launched = launch_browser()
    yield launched
    launched.close()


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
