"""The container's health check: one image runs every Helios process kind.

The API process (``helios api``) is healthy when ``GET /healthz`` answers 200 on its port; any
other process (workers, followers, scheduler, ...) is healthy while it runs, which its
container's own lifetime already says. The process checked is PID 1 (the container's
entrypoint), or ``HELIOS_HEALTHCHECK_PID``.

Exit status 0 is healthy, 1 unhealthy (Docker's convention).
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

TIMEOUT_S = 2.5


def command_of(pid: str) -> list[str]:
    """The argument vector of a process, or [] when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_api(argv: list[str]) -> bool:
    """Whether the command is ``helios api`` (as the entrypoint, or ``python -m helios...``)."""
    for index, part in enumerate(argv):
        if part.endswith(("/helios", "helios.apps.cli")) or part == "helios":
            return argv[index + 1 : index + 2] == ["api"]
    return False


def main() -> int:
    pid = os.environ.get("HELIOS_HEALTHCHECK_PID", "1")
    argv = command_of(pid)
    if not argv:
        print(f"unhealthy: process {pid} is not running", file=sys.stderr)
        return 1
    if not is_api(argv):
        return 0
    port = os.environ.get("HELIOS_HTTP_PORT", "8080")
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            healthy = response.status == 200
    except OSError as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
