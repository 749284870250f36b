"""The built documentation site works offline: no request leaves the machine, diagrams render.

``scripts/docs.sh`` builds ``site/`` (the test command runs it before pytest); this opens it in
Debian's Chromium over a local HTTP server and records every request the pages make.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[2] / "site"
CHROMIUM = "/usr/bin/chromium"
PAGES = ("index.html", "architecture.html", "runbooks/index.html", "reference/cli.html")


@pytest.fixture(scope="module")
def site_url() -> Iterator[str]:
    if not (SITE / "index.html").is_file() or not Path(CHROMIUM).exists():
        reason = "site/ not built (bash scripts/docs.sh) or /usr/bin/chromium missing"
        if os.environ.get("HELIOS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_site_makes_no_request_off_the_machine_and_renders_its_diagrams(site_url: str) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page()

        def record(route, request) -> None:  # type: ignore[no-untyped-def]
            if not request.url.startswith(site_url):
                outside.append(request.url)
                route.abort()
            else:
                route.continue_()

        page.route("**/*", record)
        for path in PAGES:
            response = page.goto(f"{site_url}/{path}")
            assert response is not None and response.ok, path
        page.goto(f"{site_url}/architecture.html")
        # The theme replaces each <pre class="mermaid"> by a <div> holding the drawn SVG (in a
        # closed shadow root): a drawn diagram is a div with a height.
        page.wait_for_selector("div.mermaid", timeout=20_000)
        page.wait_for_timeout(500)
        heights = page.evaluate(
            "() => [...document.querySelectorAll('div.mermaid')]"
            ".map(e => e.getBoundingClientRect().height)"
        )
        browser.close()
    assert outside == []
    assert len(heights) >= 4  # context, containers, flow of one alert, AWS
    assert all(height > 100 for height in heights), heights
