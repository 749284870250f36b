"""How the API is served: uvicorn's settings, from ``ApiConfig``; granian's, for ``helios up``.

One place for ``helios api`` and ``helios up``, so both run with the same connection timeouts.
uvicorn bounds idle keep-alive connections itself; the time a request body may take is bounded
by the app (``middleware.BodyDeadline``), which answers 408 rather than dropping the connection.

Most malformed requests reach the app and get a problem document from ``errors``. Some never
do: the HTTP parser refuses them first (a NUL or a raw non-ASCII byte in a header or in the
request line, a broken chunked body), and uvicorn answers those itself, in plain text. The
protocol below answers them with a problem document too, so that a client sees one format.
"""

from __future__ import annotations

import math
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from helios.apps.http.config import ApiConfig
from helios.apps.http.errors import ApiError, problem_response


class MalformedRequest(ApiError):
    status = 400
    slug = "malformed-request"
    title = "The request is not valid HTTP/1.1"


class ProblemH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol (h11), answering an unparseable request with a problem
    document instead of ``text/plain``."""

    def send_400_response(self, msg: str) -> None:
        answer = problem_response(MalformedRequest(msg))
        body = answer.content
        media_type = answer.media_type
        assert isinstance(media_type, str)  # problem_response always names its media type
        headers = [
            (b"content-type", media_type.encode("ascii")),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def server_config(
    app: Any, *, host: str, port: int, api: ApiConfig, log_level: str = "info"
) -> uvicorn.Config:
    """uvicorn's configuration for serving ``app`` on ``host:port``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # the app logs one line per request itself
        lifespan="on",
        http=ProblemH11Protocol,
        timeout_keep_alive=max(1, math.ceil(api.keep_alive_s)),
        timeout_graceful_shutdown=max(1, math.ceil(api.shutdown_grace_s)),
        # The client's address keys login lockouts: take X-Forwarded-For from the proxies only.
        proxy_headers=True,
        forwarded_allow_ips=api.trusted_proxies,
    )


def granian_server(app: Any, *, host: str, port: int, api: ApiConfig) -> Any:
    """granian's ASGI server for ``app`` on ``host:port``, run on the caller's event loop
    (``await server.serve()``, ``server.stop()``), which ``helios up``'s API process uses:
    its HTTP/1.1 in Rust leaves the one core more time for the app than uvicorn's h11.

    X-Forwarded-For is taken from ``api.trusted_proxies`` only, as uvicorn does it (with its
    own middleware). A request its HTTP parser refuses is answered by granian, not with a
    problem document.
    """
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.server.embed import Server
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    return Server(
        ProxyHeadersMiddleware(app, trusted_hosts=api.trusted_proxies),
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        backlog=1024,
        http1_settings=HTTP1Settings(header_read_timeout=int(api.body_timeout_s * 1000)),
        log_enabled=False,
    )
