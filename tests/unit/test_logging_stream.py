"""Log lines go to the stderr of the moment, not to the one logging was configured with."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from typing import Any

import pytest
import structlog

from helios.apps.observability import configure_logging, log_writes_batched


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


def _logging_to(monkeypatch: pytest.MonkeyPatch, stream: io.StringIO) -> Any:
    """JSON log lines to ``stream`` as stderr; a logger writing them."""
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(log_format="json", level="info")
    return structlog.get_logger("helios.test")


class _CountedWrites(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def _events(out: io.StringIO) -> list[str]:
    return [json.loads(line)["event"] for line in out.getvalue().splitlines()]


def test_lines_logged_on_a_batching_loop_are_written_together_within_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = _CountedWrites()
    log = _logging_to(monkeypatch, out)

    async def answer_requests() -> tuple[list[str], list[str]]:
        with log_writes_batched(window_s=0.05):
            for n in range(20):
                log.info(f"request {n}")
            held = _events(out)
            await asyncio.sleep(0.2)
            after_window = _events(out)
            log.info("last")
        return held, after_window

    held, after_window = asyncio.run(answer_requests())

    assert held == []  # nothing written while the window is open
    assert after_window == [f"request {n}" for n in range(20)]
    assert out.writes == 2  # the twenty in one write; "last" in another, as the batch closed
    assert _events(out)[-1] == "last"


def test_a_line_of_another_thread_writes_the_waiting_lines_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    log = _logging_to(monkeypatch, out)

    async def loop_then_thread() -> list[str]:
        with log_writes_batched(window_s=60.0):
            log.info("on the loop")
            await asyncio.to_thread(log.info, "on a thread")  # not batched: written at once
            return _events(out)

    assert asyncio.run(loop_then_thread()) == ["on the loop", "on a thread"]


def test_only_one_loop_batches_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    _logging_to(monkeypatch, io.StringIO())

    async def nested() -> None:
        with log_writes_batched(), log_writes_batched():
            pass

    with pytest.raises(RuntimeError, match="already batched"):
        asyncio.run(nested())
