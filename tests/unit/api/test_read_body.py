"""How an ingestion handler reads a request body: whole, bounded, from the ASGI messages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar import Request

from helios.apps.http.errors import InvalidBody, PayloadTooLarge, UnsupportedEncoding
from helios.apps.http.routes import read_body


def request(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] = []) -> Request:  # noqa: B006
    """A request whose body arrives as ``messages``, one per ``receive()``."""
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    async def send(_: Any) -> None:
        raise AssertionError("reading a body sends nothing")

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "state": {}}
    return Request(scope, receive, send)  # type: ignore[arg-type]


def chunk(body: bytes, *, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


def read(req: Request, limit: int = 100) -> bytes:
    return asyncio.run(read_body(req, limit))


def test_a_body_sent_in_several_messages_is_read_whole_in_order() -> None:
    assert (
        read(
            request(
                [
                    chunk(b"ab", more=True),
                    chunk(b""),
                ]
            )
        )
        == b"ab"
    )
    parts = [chunk(b"{", more=True), chunk(b'"a"', more=True), chunk(b":1}")]
    assert read(request(parts)) == b'{"a":1}'


def test_a_body_of_one_message_is_read_as_sent() -> None:
    assert read(request([chunk(b'{"alerts":[]}')])) == b'{"alerts":[]}'


def test_a_body_past_the_limit_is_refused_before_the_rest_is_read() -> None:
    # The third message is never asked for: receive() would fail if it were.
    with pytest.raises(PayloadTooLarge, match="exceeds 5 bytes"):
        read(request([chunk(b"abc", more=True), chunk(b"def", more=True)]), limit=5)


def test_a_declared_length_past_the_limit_is_refused_before_any_byte_is_read() -> None:
    with pytest.raises(PayloadTooLarge, match="is 500 bytes, at most 100"):
        read(request([], headers=[(b"content-length", b"500")]))


def test_a_content_length_that_is_no_number_is_refused() -> None:
    with pytest.raises(InvalidBody, match="Content-Length is not a number"):
        read(request([chunk(b"{}")], headers=[(b"content-length", b"ten")]))


def test_a_client_gone_before_the_end_of_its_body_is_told_so() -> None:
    with pytest.raises(InvalidBody, match="disconnected before sending the whole body"):
        read(request([chunk(b"{", more=True), {"type": "http.disconnect"}]))


def test_a_compressed_body_is_refused_unread() -> None:
    with pytest.raises(UnsupportedEncoding):
        read(request([], headers=[(b"content-encoding", b"gzip")]))
