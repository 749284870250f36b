"""HTTP/1.1 over a plain socket, for requests no well-behaved client library will send: NUL
bytes in headers, raw bytes in the request target, a Content-Length that lies.

One request per connection (``Connection: close`` is added unless the caller set it); the
answer is the first response the server writes, whatever it writes after it.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Sequence

import attrs


@attrs.frozen(kw_only=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class NoAnswer(AssertionError):
    """The server closed the connection, or said nothing before the deadline."""


def request_bytes(
    method: str,
    target: bytes,
    *,
    host: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    content_length: int | None = None,
) -> bytes:
    """The bytes of one request; ``content_length`` overrides the true length of ``body``."""
    lines = [method.encode("ascii") + b" " + target + b" HTTP/1.1", b"Host: " + host.encode()]
    names = {name.lower() for name, _ in headers}
    lines += [name + b": " + value for name, value in headers]
    if b"connection" not in names:
        lines.append(b"Connection: close")
    if b"content-length" not in names and b"transfer-encoding" not in names:
        length = len(body) if content_length is None else content_length
        if length or method not in ("GET", "HEAD"):
            lines.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class PendingRequest:
    """A request written to an open connection, whose answer is read later (or never)."""

    def __init__(
        self, address: tuple[str, int], data: bytes, *, connect_timeout: float = 5
    ) -> None:
        self._sock = socket.create_connection(address, timeout=connect_timeout)
        # A server may answer (413, say) and close before the whole body is written, as HTTP
        # allows: its answer is still there to read, as a real client would.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._sock.sendall(data)
        self._buffer = b""

    def answer(self, *, deadline: float) -> RawResponse:
        """The first response, read until ``deadline`` (a ``time.monotonic()`` value).

        Raises:
            NoAnswer: the connection closed, or the deadline passed, before a whole response.
        """
        try:
            head = self._read_until(b"\r\n\r\n", deadline)
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers: dict[str, str] = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            status = int(status_line.split(" ", 2)[1])
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = self._read_chunked(deadline)
            elif "content-length" in headers:
                body = self._read_exactly(int(headers["content-length"]), deadline)
            else:
                body = self._read_to_close(deadline)
            return RawResponse(status=status, headers=headers, body=body)
        finally:
            self.close()

    def close(self) -> None:
        self._sock.close()

    def _receive(self, deadline: float) -> None:
        # Past the deadline, what already arrived is still read.
        self._sock.settimeout(max(deadline - time.monotonic(), 0.05))
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise NoAnswer("no answer before the deadline") from None
        except ConnectionResetError:
            raise NoAnswer("the server reset the connection") from None
        if not chunk:
            raise NoAnswer(f"the server closed the connection after {self._buffer[:200]!r}")
        self._buffer += chunk

    def _read_until(self, marker: bytes, deadline: float) -> bytes:
        while marker not in self._buffer:
            self._receive(deadline)
        found, self._buffer = self._buffer.split(marker, 1)
        return found

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._receive(deadline)
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _read_chunked(self, deadline: float) -> bytes:
        body = b""
        while True:
            size = int(self._read_until(b"\r\n", deadline).split(b";")[0], 16)
            body += self._read_exactly(size, deadline)
            self._read_until(b"\r\n", deadline)
            if size == 0:
                return body

    def _read_to_close(self, deadline: float) -> bytes:
        while True:
            try:
                self._receive(deadline)
            except NoAnswer:
                return self._buffer


def exchange(address: tuple[str, int], data: bytes, *, timeout: float = 5) -> RawResponse:
    """Send ``data`` on a new connection and read the first response.

    Raises:
        NoAnswer: no whole response within ``timeout`` seconds.
    """
    return PendingRequest(address, data).answer(deadline=time.monotonic() + timeout)
