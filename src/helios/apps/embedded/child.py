"""One supervised process of ``helios up``, started without the command line around it.

``python -m helios.apps.embedded.child --port N --supervisor PID --child ROLE`` runs the role
as ``helios up --child ROLE`` would, but imports only what the role needs: going through
``helios.apps.cli`` would load every command's module (the analytics, replay, admin and demo
commands, rich's console for the banner) into the API and the worker, where none of them is
ever used. Each child writes log lines only, so rich is refused as the supervisor refuses it
(structlog's console renderer and Litestar's logging look for it and do without): about
6 MiB less in each child, measured as resident memory after the API child's imports.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    sys.modules.setdefault("rich", None)  # type: ignore[arg-type]

import argparse
import os
from collections.abc import Sequence

import attrs

from helios.apps.embedded.runner import CHILD_ROLES, run_child_process
from helios.apps.observability import configure_logging
from helios.apps.settings import InvalidSetting, Settings

CONFIG_ERROR = 78
"""Exit status of a child stopped by an invalid setting, as the ``helios`` command's."""


def command(*, port: int, supervisor: int, role: str) -> tuple[str, ...]:
    """The command line that starts ``role`` under the supervisor ``supervisor``."""
    return (
        sys.executable,
        "-m",
        "helios.apps.embedded.child",
        "--port",
        str(port),
        "--supervisor",
        str(supervisor),
        "--child",
        role,
    )


def main(argv: Sequence[str]) -> int:
    """Run the role ``argv`` names until SIGTERM; 0 once it has drained, 78 on a bad setting."""
    parser = argparse.ArgumentParser(prog="helios up --child", description=__doc__)
    parser.add_argument("--child", required=True, choices=sorted(CHILD_ROLES))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--supervisor", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.port:
            settings = attrs.evolve(settings, http_port=args.port)
        configure_logging(log_format=settings.log_format, level=settings.log_level)
        run_child_process(settings, args.child, supervisor=args.supervisor or os.getppid())
    except KeyboardInterrupt:
        return 130
    except InvalidSetting as error:
        # One line naming the variable: what a crash-looping child's log shows last.
        print(f"helios: invalid setting: {error}", file=sys.stderr)
        return CONFIG_ERROR
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
