"""The ingest worker makes its HTTPS client at the first SNS subscription URL to visit, not at
start: most workers never visit one, and making it costs CPU and memory at every start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from embedded_imports import modules_imported
from helios.apps.workers.runtime import FetcherWhenNeeded
from helios.ports.http import HttpAnswer, HttpFetcher

CHECK = """
import asyncio, sys
from helios.apps.composition import open_services
from helios.apps.settings import Settings
from helios.apps.workers.runtime import ingest_worker

async def main():
    async with open_services(Settings.from_env()) as services:
        ingest_worker(services)

asyncio.run(main())
print(sorted(m for m in sys.modules if m.split(".")[0] == "aiohttp"))
"""


class _Recorded:
    def __init__(self) -> None:
        self.urls: list[str] = []

    async def get(self, url: str, *, timeout_s: float, max_bytes: int) -> HttpAnswer:
        self.urls.append(url)
        return HttpAnswer(status=200, body=b"ok")


def test_a_started_worker_has_not_imported_the_https_client(tmp_path: Path) -> None:
    imported = modules_imported(CHECK, tmp_path / "data")
    assert imported == "[]", imported


def test_the_fetcher_is_made_once_at_the_first_url_and_then_used() -> None:
    made: list[_Recorded] = []

    def make() -> HttpFetcher:
        made.append(_Recorded())
        return made[-1]

    fetcher = FetcherWhenNeeded(make)
    assert made == []

    async def visit() -> list[HttpAnswer]:
        return [
            await fetcher.get(url, timeout_s=1.0, max_bytes=100)
            for url in ("https://a.example/1", "https://a.example/2")
        ]

    answers = asyncio.run(visit())
    assert [answer.body for answer in answers] == [b"ok", b"ok"]
    assert len(made) == 1
    assert made[0].urls == ["https://a.example/1", "https://a.example/2"]
