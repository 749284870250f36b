"""The dependency rule, checked on the source: domain <- ports <- adapters <- apps.

The check parses every module with `ast` rather than running import-linter: import-linter is not
a dependency of the project, it sees imports only (not `datetime.now()` or `open()` calls, which
matter as much for a deterministic domain), and an AST walk of a few dozen files costs
milliseconds and can point at the offending file:line.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "helios"

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}

# Standard-library modules that reach the clock, randomness, the environment, the file system,
# the network, processes, threads or logging: none of that belongs in a pure, replayable domain.
DOMAIN_FORBIDDEN_STDLIB = frozenset(
    {
        "os", "sys", "time", "random", "secrets", "asyncio", "threading", "multiprocessing",
        "concurrent", "socket", "ssl", "select", "selectors", "subprocess", "signal", "logging",
        "io", "pathlib", "shutil", "tempfile", "glob", "fnmatch", "sqlite3", "dbm", "shelve",
        "pickle", "marshal", "http", "urllib", "email", "smtplib", "ftplib", "imaplib",
        "poplib", "xmlrpc", "webbrowser", "importlib", "ctypes", "platform", "getpass",
        "resource", "mmap", "fcntl", "pty", "tty", "termios", "zoneinfo", "locale", "gc",
        "inspect", "atexit", "sched", "builtins", "faulthandler", "tracemalloc", "warnings",
    }
)  # fmt: skip

# Calls that read the clock or a random source, whatever the module alias they are reached by.
FORBIDDEN_METHOD_CALLS = frozenset(
    {
        "now",
        "utcnow",
        "today",
        "uuid1",
        "uuid4",
        "getrandbits",
        "urandom",
        "monotonic",
        "perf_counter",
        "time_ns",
    }
)
# Builtins that do I/O or load code dynamically.
FORBIDDEN_BUILTIN_CALLS = frozenset(
    {"open", "input", "print", "breakpoint", "exec", "eval", "compile", "__import__"}
)
# re2 (google-re2): a regular-expression engine, pure computation like the stdlib's re, that
# matches in linear time; label patterns are RE2 so that no pattern can stall the process.
DOMAIN_ALLOWED_THIRD_PARTY = frozenset({"attrs", "attr", "re2", "msgspec"})


@attrs.frozen
class Violation:
    """One forbidden import or call, where it was found."""

    where: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.where}:{self.line}: {self.what}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imported_modules(tree: ast.AST, *, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Yield (line, absolute module name) for every import in `tree`, relative ones resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            # `from helios import apps` must count as importing helios.apps: name each import
            # as target.name (a name that is not a submodule still lies within target).
            for alias in node.names:
                yield node.lineno, target if alias.name == "*" else f"{target}.{alias.name}"


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def check_domain_source(
    source: str, *, where: str, module: str = "helios.domain.sample", is_package: bool = False
) -> list[Violation]:
    """List what in one domain module breaks the purity rule."""
    tree = ast.parse(source, filename=where)
    found: list[Violation] = []
    for line, name in imported_modules(tree, module=module, is_package=is_package):
        top = _top(name)
        if _within(name, "helios.domain"):
            continue
        if top == "helios":
            found.append(Violation(where, line, f"imports {name}: the domain imports only itself"))
        elif top in STDLIB:
            if top in DOMAIN_FORBIDDEN_STDLIB:
                found.append(
                    Violation(
                        where,
                        line,
                        f"imports {name}: no I/O, clock, randomness or environment in the domain",
                    )
                )
        elif top not in DOMAIN_ALLOWED_THIRD_PARTY:
            found.append(
                Violation(
                    where,
                    line,
                    f"imports {name}: the domain depends on the stdlib, attrs, re2 and msgspec",
                )
            )
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in FORBIDDEN_METHOD_CALLS:
            found.append(
                Violation(
                    where,
                    node.lineno,
                    f"calls .{func.attr}(): the clock and random sources are passed in, never read",
                )
            )
        elif isinstance(func, ast.Name) and func.id in FORBIDDEN_BUILTIN_CALLS:
            found.append(Violation(where, node.lineno, f"calls {func.id}(): no I/O in the domain"))
        elif isinstance(func, ast.Name) and func.id in FORBIDDEN_METHOD_CALLS:
            found.append(
                Violation(
                    where,
                    node.lineno,
                    f"calls {func.id}(): the clock and random sources are passed in, never read",
                )
            )
    return found


def check_layer_source(
    source: str,
    *,
    where: str,
    module: str,
    is_package: bool,
    allowed: tuple[str, ...],
    allowed_third_party: frozenset[str],
    rule: str,
) -> list[Violation]:
    """List imports of one module outside the stdlib, the allowed third-party and helios parts."""
    tree = ast.parse(source, filename=where)
    found: list[Violation] = []
    for line, name in imported_modules(tree, module=module, is_package=is_package):
        top = _top(name)
        if top == "helios":
            if not any(_within(name, package) for package in allowed):
                found.append(Violation(where, line, f"imports {name}: {rule}"))
        elif top not in STDLIB and top not in allowed_third_party:
            found.append(Violation(where, line, f"imports {name}: {rule}"))
    return found


def _modules(package: str) -> list[Path]:
    root = SRC.joinpath(*package.split("."))
    return sorted(root.rglob("*.py"))


def _relative(path: Path) -> str:
    return str(path.relative_to(SRC.parent))


def _report(violations: list[Violation]) -> str:
    return "dependency rule broken:\n" + "\n".join(f"  {v}" for v in violations)


def test_the_source_tree_is_where_the_checks_look() -> None:
    """The checks below would pass vacuously if they found no modules."""
    assert _modules("helios.domain"), f"no modules under {PACKAGE / 'domain'}"
    assert _modules("helios.ports"), f"no modules under {PACKAGE / 'ports'}"


def test_the_domain_imports_only_itself_attrs_and_pure_standard_library() -> None:
    """No framework, driver, clock, random source or I/O anywhere in helios.domain."""
    violations = [
        v
        for path in _modules("helios.domain")
        for v in check_domain_source(
            path.read_text(),
            where=_relative(path),
            module=_module_name(path),
            is_package=_is_package(path),
        )
    ]
    assert not violations, _report(violations)


def test_ports_import_only_the_standard_library_attrs_and_the_domain() -> None:
    """Ports speak domain terms: no driver, framework or adapter types leak into them."""
    violations = [
        v
        for path in _modules("helios.ports")
        for v in check_layer_source(
            path.read_text(),
            where=_relative(path),
            module=_module_name(path),
            is_package=_is_package(path),
            allowed=("helios.domain", "helios.ports"),
            allowed_third_party=DOMAIN_ALLOWED_THIRD_PARTY,
            rule="ports import only the standard library, attrs and helios.domain",
        )
    ]
    assert not violations, _report(violations)


# The public library facades (``helios.open``, ``helios.replay``) sit above every layer: they
# are how an embedding program reaches the composition root, so they may import apps.
PUBLIC_FACADES = ("helios", "helios.replay")


def test_nothing_outside_apps_imports_apps() -> None:
    """Apps are the composition roots: domain, ports and adapters never reach up into them."""
    violations: list[Violation] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if _within(module, "helios.apps") or module in PUBLIC_FACADES:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        violations += [
            Violation(_relative(path), line, f"imports {name}: nothing imports helios.apps")
            for line, name in imported_modules(tree, module=module, is_package=_is_package(path))
            if _within(name, "helios.apps")
        ]
    assert not violations, _report(violations)


def test_adapters_do_not_import_apps_even_relatively() -> None:
    """A relative import from an adapter that climbs into apps is caught too."""
    source = "from ...apps import bootstrap\n"
    tree = ast.parse(source)
    names = [
        n
        for _, n in imported_modules(tree, module="helios.adapters.redis.limits", is_package=False)
    ]
    assert names == ["helios.apps.bootstrap"]


# --- the checker itself can fail ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import datetime\ndatetime.now()\n", "calls .now()"),
        ("import datetime as _dt\n_dt.datetime.utcnow()\n", "calls .utcnow()"),
        ("from datetime import date\ndate.today()\n", "calls .today()"),
        ("import uuid\nuuid.uuid4()\n", "calls .uuid4()"),
        ("from uuid import uuid4\nuuid4()\n", "calls uuid4()"),
        ("import time\n", "imports time"),
        ("import os.path\n", "imports os.path"),
        ("from random import choice\n", "imports random"),
        ("import asyncio\n", "imports asyncio"),
        ("import logging\n", "imports logging"),
        ("open('x')\n", "calls open()"),
        ("import redis\n", "imports redis"),
        ("import structlog\n", "imports structlog"),
        ("from helios.ports import clock\n", "imports helios.ports.clock"),
        ("from ..adapters import memory\n", "imports helios.adapters.memory"),
        ("def f():\n    import eventsourcing\n", "imports eventsourcing"),
    ],
)
def test_the_domain_checker_flags_impure_source(source: str, expected: str) -> None:
    """Each forbidden import or call in a synthetic module is reported with its line."""
    violations = check_domain_source(source, where="synthetic.py")
    assert any(expected in v.what for v in violations), violations
    assert all(str(v).startswith("synthetic.py:") for v in violations)


def test_the_domain_checker_accepts_pure_source() -> None:
    """Deterministic standard library use, attrs and the domain itself are allowed."""
    source = (
        "from __future__ import annotations\nimport datetime as _dt\nimport uuid, hashlib, re\n"
        "import attrs\nfrom helios.domain.values import Millis\nfrom . import values\n"
        "_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)\nuuid.uuid5(uuid.NAMESPACE_URL, 'x')\n"
    )
    assert check_domain_source(source, where="synthetic.py") == []


def test_the_ports_checker_flags_a_driver_import() -> None:
    """A port importing a driver or an adapter is reported."""
    violations = check_layer_source(
        "import redis.asyncio\nfrom helios.adapters import memory\nimport attrs\n",
        where="p.py",
        module="helios.ports.p",
        is_package=False,
        allowed=("helios.domain", "helios.ports"),
        allowed_third_party=DOMAIN_ALLOWED_THIRD_PARTY,
        rule="r",
    )
    assert [v.line for v in violations] == [1, 2]
