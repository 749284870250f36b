"""Running a snippet of Helios in a fresh interpreter on the embedded default, to see what
it imported: a test process has already imported far more than any Helios process would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def modules_imported(check: str, data_dir: Path) -> str:
    """What ``check`` prints when run by a fresh Python on the embedded default (a data
    directory of its own and no ``HELIOS_*_URL`` naming a server), stripped.

    Raises:
        subprocess.CalledProcessError: the snippet failed.
    """
    env = {**os.environ, "HELIOS_DATA_DIR": str(data_dir), "HELIOS_LOG_LEVEL": "error"}
    env = {k: v for k, v in env.items() if not k.endswith("_URL") or not k.startswith("HELIOS_")}
    done = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    return done.stdout.strip()
