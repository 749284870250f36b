"""Log lines go to the stderr of the moment, not to the one logging was configured with."""

from __future__ import annotations

import io
import json
import sys

import pytest
import structlog

from helios.apps.observability import configure_logging


def test_a_logger_keeps_working_after_stderr_is_swapped_and_the_old_one_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging(log_format="json", level="info")
    log = structlog.get_logger("helios.test")
    log.info("before")
    first.close()  # as a test runner closes a captured stream after its test

    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    log.info("after", n=1)  # was: ValueError: I/O operation on closed file
    assert json.loads(second.getvalue())["event"] == "after"


def test_a_log_line_is_json_whatever_values_it_carries(monkeypatch: pytest.MonkeyPatch) -> None:
    """orjson renders the lines; what it refuses (an integer past 64 bits, a key that is not a
    string, an object it does not know) still makes a line, never an error in the caller."""
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging(log_format="json", level="info")
    log = structlog.get_logger("helios.test")

    log.info("big", n=2**70)
    log.info("keys", counts={1: "one"}, thing=object)

    big, keys = (json.loads(line) for line in out.getvalue().splitlines())
    assert big["n"] == 2**70
    assert keys["counts"] == {"1": "one"}
    assert keys["thing"] == str(object)
