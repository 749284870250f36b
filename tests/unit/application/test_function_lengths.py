"""The application layer and the read models read in short functions: none over 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

APPS = Path(__file__).resolve().parents[3] / "src" / "helios" / "apps"
CHECKED = (APPS / "application", APPS / "views")
MAX_LINES = 80


def long_functions(source: str, *, limit: int = MAX_LINES) -> list[tuple[int, str, int]]:
    """(line, name, length) of each function or method in ``source`` longer than ``limit``."""
    return [
        (node.lineno, node.name, length)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > limit
    ]


def test_the_checked_packages_are_where_the_check_looks() -> None:
    """Both packages exist, so an emptied path cannot make the check pass."""
    for package in CHECKED:
        assert len(list(package.rglob("*.py"))) > 3, package


def test_no_function_of_the_application_layer_or_views_is_longer_than_80_lines() -> None:
    """Every function under apps/application and apps/views fits in 80 lines."""
    found = [
        f"{path.relative_to(APPS)}:{line} {name} ({length} lines)"
        for package in CHECKED
        for path in sorted(package.rglob("*.py"))
        for line, name, length in long_functions(path.read_text(encoding="utf-8"))
    ]
    assert not found, "split these functions:\n" + "\n".join(found)


def test_the_length_check_counts_a_function_from_its_def_to_its_last_line() -> None:
    """A method of 81 lines is reported; a function of 80 lines is not."""

    def lines(count: int, indent: str) -> str:
        return "".join(f"{indent}x{i} = {i}\n" for i in range(count))

    fits = "def fits():\n" + lines(79, "    ")
    over = "class C:\n    def over(self):\n" + lines(80, "        ")
    assert long_functions(fits) == []
    assert long_functions(over) == [(2, "over", 81)]
