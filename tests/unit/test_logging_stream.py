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
