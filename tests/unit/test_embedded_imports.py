"""The embedded default's processes import only what they run: no PostgreSQL driver for a
SQLite store (psycopg and libpq are about 10 MiB resident in each process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    env = {**os.environ, "HELIOS_DATA_DIR": str(tmp_path / "data"), "HELIOS_LOG_LEVEL": "error"}
    env = {k: v for k, v in env.items() if not k.endswith("_URL") or not k.startswith("HELIOS_")}
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert done.stdout.strip() == "[]", done.stdout
