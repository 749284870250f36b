"""What every endpoint that reads a request body checks before decoding it.

- **Content-Encoding**: bodies are taken as sent, uncompressed. A compressed body would only
  fail later as "not valid UTF-8"; it is refused up front with 415 saying so.
- **Nesting**: JSON decoders recurse once per level. msgspec (the query API's bodies) raises
  ``RecursionError`` near the interpreter's recursion limit — how near depends on how deep the
  stack already is — and orjson stops at 1024 levels. One fixed bound, checked on the raw bytes
  before any decoder runs, gives every route the same 400 whatever decodes the body and
  whatever the stack; nothing Helios reads nests anywhere near it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from litestar import Request

from helios.apps.http.errors import InvalidBody, UnsupportedEncoding
from helios.domain.normalize import FieldError

MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects a JSON body may have."""

# A JSON string, escapes included; brackets inside strings do not nest anything.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` opens more than ``limit`` arrays or objects inside one another.

    Malformed JSON is followed as far as a decoder would recurse into it: up to an unmatched
    closing bracket (where decoding stops), or to the end.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # too few brackets to nest that deep: the usual case, at C speed
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
            if depth < 0:
                return False
    return False


def refuse_deep_json(body: bytes) -> None:
    """Refuse a body nested deeper than ``MAX_JSON_DEPTH``.

    Raises:
        InvalidBody: naming ``body``.
    """
    if json_too_deep(body):
        raise InvalidBody(
            "The body nests too deeply",
            errors=(
                FieldError(
                    field="body",
                    message=f"is nested deeper than {MAX_JSON_DEPTH} arrays or objects",
                ),
            ),
        )


def refuse_content_encoding(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """Refuse a body sent with a ``Content-Encoding`` other than ``identity``.

    Raises:
        UnsupportedEncoding: naming the encodings (415).
    """
    codings = [
        coding
        for name, value in headers
        if name.lower() == b"content-encoding"
        for coding in (c.strip().lower() for c in value.decode("latin-1").split(","))
        if coding and coding != "identity"
    ]
    if codings:
        shown = ", ".join(codings)[:100]
        raise UnsupportedEncoding(
            f"Content-Encoding {shown} is not supported: send the body uncompressed",
            errors=(FieldError(field="Content-Encoding", message="must be identity or absent"),),
        )


async def check_json_body(request: Request[Any, Any, Any]) -> None:
    """Before a handler that takes a JSON body: its encoding and nesting (then the handler's
    own decoding reads the body already received).

    Raises:
        UnsupportedEncoding: the body is compressed.
        InvalidBody: it nests too deeply.
        RequestTimeout: it did not arrive in time.
        HTTPException: 413, it is too large (rendered as ``PayloadTooLarge``).
    """
    if "data" not in request.route_handler.parsed_fn_signature.parameters:
        return
    refuse_content_encoding(request.scope["headers"])
    refuse_deep_json(await request.body())
