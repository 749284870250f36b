"""Every aggregate of the domain is a decider in a module of its own, named alike:
``initial_state`` / ``decide`` / ``evolve`` (plus ``decide_and_evolve`` / ``evolve_all`` where
deciding computes the state anyway), so a caller never wonders which name a module chose."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "src" / "helios" / "domain"
DECIDER_NAMES = frozenset({"initial_state", "decide", "evolve"})
HELPERS = frozenset({"decide_and_evolve", "evolve_all"})
MAX_FUNCTION_LINES = 80


def _top_level_functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


MODULES = sorted(DOMAIN.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.stem)
def test_a_domain_module_names_its_decider_initial_state_decide_evolve(path: Path) -> None:
    functions = _top_level_functions(path)
    odd = sorted(
        name
        for name in functions
        if name.startswith(("decide", "evolve", "initial_")) and name not in DECIDER_NAMES | HELPERS
    )
    assert odd == []
    if "decide" in functions or "evolve" in functions:
        assert functions.keys() >= DECIDER_NAMES


def test_the_tenant_key_index_and_user_index_are_deciders() -> None:
    deciders = {path.stem for path in MODULES if _top_level_functions(path).keys() >= DECIDER_NAMES}
    assert {"tenancy", "key_index", "user_index", "access"} <= deciders


@pytest.mark.parametrize("module", ["tenancy", "key_index", "user_index"])
def test_no_function_of_the_tenancy_deciders_is_longer_than_80_lines(module: str) -> None:
    tree = ast.parse((DOMAIN / f"{module}.py").read_text(encoding="utf-8"))
    long = [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
