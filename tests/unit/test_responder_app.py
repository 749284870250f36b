"""``/app/``: the built app's files from the package's ``webapp/`` folder, or, with none
built, a page that says how to build it."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from helios.apps.http.errors import PROBLEM_HANDLERS
from helios.apps.http.responder_app import app_router


def _client(build: Path) -> TestClient[Litestar]:
    return TestClient(
        Litestar(route_handlers=[app_router(build)], exception_handlers=PROBLEM_HANDLERS)
    )


def test_without_a_build_the_app_page_says_how_to_build_it(tmp_path: Path) -> None:
    """/app/: an HTML page naming the build command; a file under it: a 404 problem."""
    with _client(tmp_path / "missing") as client:
        page = client.get("/app/")
        missing = client.get("/app/assets/index.js")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "bash scripts/build_app.sh" in page.text
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_a_build_is_served_with_revalidation_and_a_same_origin_policy(tmp_path: Path) -> None:
    """index.html at /app/, assets by path, each revalidated and limited to this origin."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Helios</title>")
    (tmp_path / "assets" / "app.js").write_text("console.log(1)")
    with _client(tmp_path) as client:
        page = client.get("/app/")
        script = client.get("/app/assets/app.js")
        folder = client.get("/app", follow_redirects=False)
    assert page.status_code == 200 and "<title>Helios</title>" in page.text
    assert script.status_code == 200 and script.text == "console.log(1)"
    for response in (page, script):
        assert response.headers["cache-control"] == "no-cache"
        assert "default-src 'self'" in response.headers["content-security-policy"]
    assert (folder.status_code, folder.headers["location"]) == (308, "/app/")


def test_a_path_no_file_can_have_is_a_404_problem(tmp_path: Path) -> None:
    """A name too long for a file system, or a NUL: 404 problem, never a 500."""
    (tmp_path / "index.html").write_text("<!doctype html>")
    with _client(tmp_path) as client:
        for path in ("/app/" + "1" * 400, "/app/a%00b", "/app/" + "a/" * 600):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"].startswith("application/problem+json")
