"""The ``helios`` command line: one sub-command group per module in this package.

Each module ``helios.apps.cli.<name>`` defines ``register(subparsers)``, which adds its
sub-commands; each sub-command sets ``func(args) -> int`` (the exit code). Adding a command
never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import helios
from helios.apps.settings import InvalidSetting

CONFIG_ERROR = 78
"""Exit code of a process stopped by an invalid setting (EX_CONFIG of sysexits.h)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helios",
        description=(
            "Helios: one trustworthy, prioritised, auditable record from noisy alert streams."
        ),
        epilog="Run 'helios COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"helios {helios.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    package = sys.modules[__name__]
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        if module.startswith("_"):
            continue
        loaded = importlib.import_module(f"{__name__}.{module}")
        register = getattr(loaded, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except InvalidSetting as error:
        # A configuration mistake is one line that names the variable, not a traceback: it is
        # what a crash-looping process's log shows last.
        print(f"helios: invalid setting: {error}", file=sys.stderr)
        return CONFIG_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
