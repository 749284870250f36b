"""The dependency rule, checked on the source: domain <- ports <- adapters <- apps.

Two checks. An AST walk of the domain and the ports sees what import-linter cannot (calls such as
``datetime.now()`` or ``open()``, which matter as much for a deterministic domain) and points at
the offending file:line in milliseconds. import-linter (contracts in pyproject.toml) checks the
layers of the whole package, including the application layer and the entry points, which reach
adapters only through the composition root. A last check keeps functions short.
"""

from __future__ import annotations

import ast
import os
import subprocess
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


# --- import-linter: the layers and the composition root, as contracts in pyproject.toml -------

ROOT = SRC.parent

# The modules that must exist for every contract to name something (import-linter refuses a
# contract over a missing module), each breaking one contract in the synthetic tree below.
_SYNTHETIC_VIOLATIONS = {
    "domain/__init__.py": "from helios.ports import queue\n",
    "ports/__init__.py": "",
    "ports/queue.py": "from helios.adapters import sqs\n",
    "adapters/__init__.py": "",
    "adapters/sqs.py": "import helios.apps.settings\n",
    "replay.py": "",
    "apps/__init__.py": "",
    "apps/settings.py": "",
    "apps/composition.py": "from helios.adapters import sqs\n",
    "apps/application/__init__.py": "from helios.apps import composition\n",
    "apps/views/__init__.py": "from helios.apps.http import app\n",
    "apps/http/__init__.py": "",
    "apps/http/app.py": "from helios.adapters.sqs import SqsQueue\n",
    "apps/cli/__init__.py": "from helios.apps.composition import open_queue\n",
    "apps/workers/__init__.py": "",
    "apps/embedded/__init__.py": "",
    "apps/library.py": "",
    "apps/admin/__init__.py": "",
}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with ``root``'s pyproject.toml over ``root``'s ``src/helios`` (first on
    the path, so that an installed copy of the package is not the one checked)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(SRC)])}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
            "--config",
            str(root / "pyproject.toml"),
            "--no-cache",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_in_pyproject_are_kept() -> None:
    """Every import-linter contract (domain, ports, adapters, the application layer, entry
    points through the composition root) holds for this source tree."""
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_import_contracts_catch_each_kind_of_violation(tmp_path: Path) -> None:
    """Over a synthetic tree that breaks every contract once, lint-imports fails each one."""
    for name, source in _SYNTHETIC_VIOLATIONS.items():
        module = tmp_path / "src" / "helios" / name
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(source)
    (tmp_path / "src" / "helios" / "__init__.py").write_text("")
    config = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(config[config.index("[tool.importlinter]") :])

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "Contracts: 0 kept, 5 broken." in result.stdout, result.stdout + result.stderr
    for chain in (
        "helios.domain -> helios.ports.queue",
        "helios.ports.queue -> helios.adapters.sqs",
        "helios.adapters.sqs -> helios.apps.settings",
        "helios.apps.application -> helios.apps.composition",
        "helios.apps.views -> helios.apps.http.app",
        "helios.apps.http.app -> helios.adapters.sqs",
    ):
        assert chain in result.stdout, result.stdout


# --- function length ---------------------------------------------------------------------------

MAX_FUNCTION_LINES = 80

# Functions longer than MAX_FUNCTION_LINES today (lines from ``def`` to the last line of the
# body). The list may only shrink: a function that gets shorter must leave it, and no new one
# may join it.
LONG_FUNCTIONS: dict[str, int] = {}
"""Functions allowed over the limit, with their length (none left; one may only be listed
with a reason, and must leave the list once shortened)."""


def function_lengths(source: str) -> Iterator[tuple[str, int, int]]:
    """Yield (qualified name, first line, number of lines) for every function in ``source``,
    nested ones and methods included (a nested function counts within its parent too)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                end = child.end_lineno or child.lineno
                yield name, child.lineno, end - child.lineno + 1
                yield from walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)

    yield from walk(ast.parse(source), "")


def _long_functions() -> dict[str, int]:
    found: dict[str, int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for name, _, lines in function_lengths(path.read_text()):
            if lines > MAX_FUNCTION_LINES:
                found[f"{where}:{name}"] = lines
    return found


def test_no_function_is_longer_than_80_lines_but_those_listed() -> None:
    """A function over the limit is either listed (and no longer than listed) or a failure."""
    found = _long_functions()
    new = {name: lines for name, lines in found.items() if name not in LONG_FUNCTIONS}
    grown = {
        name: (LONG_FUNCTIONS[name], lines)
        for name, lines in found.items()
        if name in LONG_FUNCTIONS and lines > LONG_FUNCTIONS[name]
    }
    assert not new, f"functions over {MAX_FUNCTION_LINES} lines: {new}"
    assert not grown, f"listed functions that grew (listed, now): {grown}"


def test_the_list_of_long_functions_only_shrinks() -> None:
    """A listed function that was shortened (or moved, or removed) must leave the list."""
    found = _long_functions()
    stale = sorted(name for name in LONG_FUNCTIONS if name not in found)
    assert not stale, (
        f"no longer over {MAX_FUNCTION_LINES} lines, remove from LONG_FUNCTIONS: {stale}"
    )


def test_function_lengths_count_nested_functions_and_methods() -> None:
    """The measure names methods and nested functions and counts from def to the last line."""
    source = (
        "class A:\n    def m(self):\n        def inner():\n            pass\n        return 1\n"
    )
    assert list(function_lengths(source)) == [("A.m", 2, 4), ("A.m.inner", 3, 2)]
