"""``/app/``: the responders' web app (``web/`` in the repository), served from package data.

``web/``'s build writes into ``webapp/`` beside this module, which the wheel ships as package
data and an editable install reads in place. Without a build the API works as ever, ``/app/``
answers a page saying how to make one, and its other paths a 404 problem. The app routes by
the URL's fragment (``/app/#/alerts/…``), so the server only ever serves files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath
from litestar.response import Redirect
from litestar.static_files import create_static_files_router

from helios.apps.http.errors import NotFound

BUILD = Path(__file__).parent / "webapp"
"""Where ``web/``'s build puts the app."""

PATH = "/app"

# Everything the app loads comes from this origin; images an alert's source sent (a graph's
# snapshot) may come from anywhere over HTTPS.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Helios — the app is not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto;
line-height: 1.5; padding: 0 1rem">
<h1>The responders' app is not built</h1>
<p>This Helios serves its API (see <a href="/schema">/schema</a>), but the web app in
<code>web/</code> has not been built into the package. From the repository:</p>
<pre>bash scripts/build_app.sh</pre>
<p>then restart Helios and open <a href="/app/">/app/</a>.</p>
</body></html>
"""


def is_built(build: Path = BUILD) -> bool:
    return (build / "index.html").is_file()


def app_router(build: Path = BUILD) -> Router:
    """The routes of ``/app/``: the built app's files, or the page that says how to build it."""
    if not is_built(build):
        return Router(
            PATH,
            route_handlers=[_not_built, _not_built_anywhere],
            include_in_schema=False,
            before_request=_before,
        )
    files = create_static_files_router(
        path="/",
        directories=[build],
        html_mode=True,
        name="responder-app",
        # The service worker keeps the app offline; the server's copies are always revalidated
        # so a new build (a new sw.js) is seen on the next visit.
        cache_control=CacheControlHeader(no_cache=True),
        after_request=_with_security_headers,
        include_in_schema=False,
    )
    return Router(PATH, route_handlers=[files], include_in_schema=False, before_request=_before)


async def _before(request: Request[Any, Any, Any]) -> Redirect | None:
    """``/app`` → ``/app/`` (the service worker's scope is the folder); a path no file of the
    app can have is a 404 before the file system is asked (a NUL, a name too long for it).

    Raises:
        NotFound: the path cannot name a file of the app.
    """
    # Litestar routes both alike and strips the slash from ``path``: ask the raw one.
    raw = (request.scope.get("raw_path") or b"").split(b"?", 1)[0]
    if raw == PATH.encode():
        return Redirect(f"{PATH}/", status_code=308)
    path = request.url.path
    if "\x00" in path or len(path) > _MAX_PATH or any(len(p) > _MAX_NAME for p in path.split("/")):
        raise NotFound("no such file of the app")
    return None


_MAX_PATH = 1024
_MAX_NAME = 255


def _with_security_headers(response: Response[Any]) -> Response[Any]:
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@get("/", media_type="text/html", include_in_schema=False, sync_to_thread=False)
def _not_built() -> Response[str]:
    return Response(_NOT_BUILT, media_type="text/html", headers=_SECURITY_HEADERS)


@get("/{path:path}", include_in_schema=False, sync_to_thread=False)
def _not_built_anywhere(path: FromPath[str]) -> None:
    """Any other file of an app that is not there (a problem, as every 404 of the API).

    Raises:
        NotFound: always.
    """
    raise NotFound(f"no such file of the app: {path[:100]!r} (the app is not built)")
