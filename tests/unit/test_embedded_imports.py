"""The embedded default's processes import only what they run: no PostgreSQL driver for a
SQLite store (psycopg and libpq are about 10 MiB resident in each process)."""

from __future__ import annotations

from pathlib import Path

from embedded_imports import modules_imported

CHECK = """
import asyncio, sys
import helios.apps.cli.up, helios.apps.embedded.runner, helios.apps.http.app
from helios.apps.composition import open_services
from helios.apps.settings import Settings
from helios.apps.workers.runtime import read_models

async def main():
    async with open_services(Settings.from_env()) as services:
        (await read_models(services)).close()

asyncio.run(main())
print(sorted(m for m in sys.modules if m.split(".")[0] == "psycopg" or "postgres" in m))
"""


def test_the_processes_of_helios_up_do_not_import_the_postgres_driver(tmp_path: Path) -> None:
    imported = modules_imported(CHECK, tmp_path / "data")
    assert imported == "[]", imported
