"""``helios tokens …`` as the README and docs/api.md spell it, over a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helios.apps.cli import main


@pytest.fixture
def helios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run a ``helios`` command line in-process; returns (exit code, its JSON output)."""
    monkeypatch.setenv("HELIOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HELIOS_STORE_URL", raising=False)

    def run(*argv: str) -> tuple[int, Any]:
        code = main(list(argv))
        return code, json.loads(capsys.readouterr().out)

    return run


def test_tokens_create_takes_the_tenant_as_the_readme_shows(helios) -> None:
    """``--tenant`` is accepted with ``--user``, and also optional (the user names it)."""
    _, tenant = helios("tenants", "create", "acme")
    tenant_id = tenant["tenant_id"]
    _, user = helios(
        "users", "create", "--tenant", tenant_id, "--email", "a@x.io", "--role", "viewer"
    )
    user_id = user["user_id"]

    code, issued = helios("tokens", "create", "--tenant", tenant_id, "--user", user_id)
    assert code == 0
    assert issued["tenant_id"] == tenant_id and issued["token"].startswith("hxp.")
    code, plain = helios("tokens", "create", "--user", user_id, "--name", "laptop")
    assert code == 0 and plain["tenant_id"] == tenant_id

    code, listed = helios("tokens", "list", "--tenant", tenant_id, "--user", user_id)
    assert code == 0 and len(listed) == 2
    code, revoked = helios(
        "tokens", "revoke", "--tenant", tenant_id, "--user", user_id, "--token", plain["token_id"]
    )
    assert code == 0 and revoked["status"] == "revoked"


def test_tokens_create_refuses_a_tenant_the_user_is_not_in(helios) -> None:
    """A mismatched ``--tenant`` is a field error, and no token is issued."""
    _, tenant = helios("tenants", "create", "acme")
    _, other = helios("tenants", "create", "globex")
    _, user = helios(
        "users", "create", "--tenant", tenant["tenant_id"], "--email", "a@x.io", "--role", "viewer"
    )

    code, refused = helios(
        "tokens", "create", "--tenant", other["tenant_id"], "--user", user["user_id"]
    )
    assert code == 1
    assert [p["field"] for p in refused["problems"]] == ["tenant"]
    _, listed = helios("tokens", "list", "--user", user["user_id"])
    assert listed == []
