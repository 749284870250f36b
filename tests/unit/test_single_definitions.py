"""Each piece of domain knowledge has one definition, which every layer imports.

A copied limit or rule drifts: the HTTP edge would accept what the worker then quarantines,
or the alert would sort its signals in an order the tests do not check. These checks parse the
source with `ast`, so they point at the file that defines a second copy.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from helios.domain.normalize import common

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "helios"
LIMITS_MODULE = PACKAGE / "domain" / "normalize" / "common.py"
DOMAIN_LIMITS = frozenset(name for name in vars(common) if name.startswith("MAX_"))


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _assigned_at_module_level(tree: ast.Module) -> Iterator[tuple[str, int]]:
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                yield target.id, node.lineno


def _functions_named(tree: ast.Module, wanted: set[str]) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in wanted:
            yield node.name, node.lineno


def test_the_normalization_limits_are_the_ones_the_domain_defines() -> None:
    """No module but the normalizers' own assigns a normalization limit."""
    assert {"MAX_BODY_BYTES", "MAX_DEDUP_KEY_CHARS", "MAX_LABELS"} <= DOMAIN_LIMITS
    copies = [
        f"{path.relative_to(PACKAGE)}:{line} {name}"
        for path, tree in _modules()
        if path != LIMITS_MODULE
        for name, line in _assigned_at_module_level(tree)
        if name in DOMAIN_LIMITS
    ]
    assert copies == []


def test_the_canonical_order_of_signals_is_defined_once() -> None:
    """One function builds the ``(occurred_at, action rank, signal_id)`` key."""
    found = [
        f"{path.relative_to(PACKAGE)} {name}"
        for path, tree in _modules()
        for name, _ in _functions_named(tree, {"order_key", "_order_key"})
    ]
    assert found == ["domain/values.py order_key"]


def test_the_bearer_credential_is_read_from_the_authorization_header_in_one_place() -> None:
    """The ingestion API and the people's API read ``Authorization: Bearer`` alike."""
    found = [
        f"{path.relative_to(PACKAGE)} {name}"
        for path, tree in _modules()
        for name, _ in _functions_named(tree, {"bearer", "_bearer", "bearer_token"})
    ]
    assert found == ["apps/http/authorization.py bearer"]


def test_the_label_name_rule_is_written_once() -> None:
    """Silence matchers, rulesets and normalizers all check label names with ``LABEL_KEY``."""
    rule = "[A-Za-z_][A-Za-z0-9_.-]{0,127}"
    found = [
        str(path.relative_to(PACKAGE))
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and rule in node.value
    ]
    assert found == ["domain/ruleset.py"]
