"""Grouped calls on an embedded SQLite file: concurrent callers share one trip to the file's
thread, each gets its own answer, and a failed group fails each of its callers only."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from helios.adapters.sqlite_idempotency import SqliteIdempotencyStore
from helios.adapters.sqlite_thread import Grouped, SqliteThread

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _file(path: Path) -> SqliteThread:
    return SqliteThread(
        path,
        busy_timeout_s=1,
        thread_name="test-grouped",
        prepare=lambda _conn: None,
        unavailable=lambda where, error: RuntimeError(f"{where}: {error}"),
    )


async def test_concurrent_calls_share_groups_and_each_gets_its_own_answer(tmp_path: Path) -> None:
    """100 concurrent calls run in far fewer groups, in arrival order, answers matched."""
    file = _file(tmp_path / "f.db")
    groups: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        groups.append(items)
        return [item * 2 for item in items]

    doubled = Grouped(file, run)
    answers = await asyncio.gather(*(doubled(n) for n in range(100)))
    await file.close()
    assert answers == [n * 2 for n in range(100)]
    assert [item for group in groups for item in group] == list(range(100))
    assert len(groups) <= 2  # the first call alone, then everyone who came meanwhile


async def test_a_failed_group_fails_its_callers_and_the_next_group_runs(tmp_path: Path) -> None:
    """The file's error reaches every caller of the failed group; later calls succeed."""
    file = _file(tmp_path / "f.db")
    failing = True

    def run(items: list[int]) -> list[int]:
        if failing:
            raise sqlite3.OperationalError("database is locked")
        return items

    echo = Grouped(file, run)
    outcomes = await asyncio.gather(*(echo(n) for n in range(5)), return_exceptions=True)
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    failing = False
    assert await echo(7) == 7
    await file.close()


async def test_concurrent_content_checks_of_the_idempotency_file_answer_each_caller(
    tmp_path: Path,
) -> None:
    """Many fingerprints remembered at once are each seen after; others are not."""
    async with SqliteIdempotencyStore(path=tmp_path / "q.db") as store:
        await asyncio.gather(
            *(
                store.remember_seen(scope="s", fingerprint=f"f{n}", window_ms=1000, now_ms=0)
                for n in range(0, 60, 2)
            )
        )
        seen = await asyncio.gather(
            *(store.recently_seen(scope="s", fingerprint=f"f{n}", now_ms=500) for n in range(60))
        )
        later = await store.recently_seen(scope="s", fingerprint="f0", now_ms=1000)
    assert seen == [n % 2 == 0 for n in range(60)]
    assert later is False
