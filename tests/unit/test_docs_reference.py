"""The generated reference pages say something about everything they list.

The documentation site's command, configuration and HTTP references are generated from the code
(``scripts/docs_reference.py``); these tests fail when a setting, a command, an option or an
operation is added without the words the reference would print for it.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_reference", REPO / "scripts" / "docs_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_reference"] = module
    spec.loader.exec_module(module)
    return module


reference = _load_generator()


def _variables_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "src" / "helios").rglob("*.py"):
        names.update(re.findall(r"[\"'](HELIOS_[A-Z0-9_]+)[\"']", path.read_text(encoding="utf-8")))
    return names


def _cli_help_text() -> str:
    parser = reference.cli_parser()
    texts = [parser.format_help()]
    texts.extend(sub.format_help() for _path, sub, _summary in reference.walk_commands(parser))
    return "\n".join(texts)


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    documented = reference.documented_variables()
    cli_help = _cli_help_text()
    undocumented = sorted(
        name
        for name in _variables_read_by_the_code()
        if name not in documented and name not in cli_help
    )
    assert not undocumented, (
        "add a row to a settings table (helios.apps.settings or helios.apps.http.config) "
        f"for: {undocumented}"
    )


def test_the_settings_tables_name_no_variable_the_code_does_not_read() -> None:
    read = _variables_read_by_the_code() | {"AWS_REGION", "AWS_DEFAULT_REGION"}
    stale = sorted(
        name
        for name in reference.documented_variables()
        if name.startswith("HELIOS_") and name not in read
    )
    assert not stale, f"the settings tables document variables nothing reads: {stale}"


def test_every_setting_has_a_default_column_and_a_meaning() -> None:
    rows = reference.settings_rows()
    assert len(rows) > 20
    empty = [variable for variable, _default, meaning in rows if not meaning]
    assert not empty, f"settings without a meaning: {empty}"


def test_every_command_and_option_says_what_it_does() -> None:
    parser = reference.cli_parser()
    silent: list[str] = []
    commands = list(reference.walk_commands(parser))
    assert len(commands) > 20
    for path, sub, summary in commands:
        name = "helios " + " ".join(path)
        if not (summary or sub.description):
            silent.append(name)
        for action in reference.options_of(sub):
            if not action.help:
                silent.append(f"{name} {reference._argument_name(action)}")
    assert not silent, f"give these a help text: {silent}"


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = reference.openapi_document()
    return document


def test_every_http_operation_has_a_summary_or_a_description(openapi: dict[str, Any]) -> None:
    operations = list(reference.operations(openapi))
    assert len(operations) > 20
    silent = [
        f"{method.upper()} {path}"
        for path, method, operation in operations
        if not (operation.get("summary") or operation.get("description"))
    ]
    assert not silent, f"give these operations a summary: {silent}"


def test_the_pages_list_every_command_setting_and_operation(openapi: dict[str, Any]) -> None:
    cli = reference.cli_page()
    configuration = reference.configuration_page()
    http = reference.http_page(openapi)
    for path, _sub, _summary in reference.walk_commands(reference.cli_parser()):
        assert f"`helios {' '.join(path)}`" in cli
    for variable, _default, _meaning in reference.settings_rows():
        if not variable.endswith("*"):
            assert f"`{variable}`" in configuration
    for path, method, _operation in reference.operations(openapi):
        assert f"`{method.upper()} {path}`" in http
