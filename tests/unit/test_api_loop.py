"""Which event loop each process of ``helios up`` runs on."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from helios.apps.embedded.runner import CHILD_ROLES, child_loop_factory
from helios.apps.settings import InvalidSetting


def loop_kind(role: str) -> str:
    """The module of the loop ``role``'s child would run on."""
    factory = child_loop_factory(role)
    if factory is None:
        return "asyncio (the default)"
    loop = factory()
    try:
        return type(loop).__module__.partition(".")[0]
    finally:
        loop.close()


def test_the_api_child_runs_on_uvloop_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HELIOS_API_LOOP", raising=False)
    assert loop_kind("api") == "uvloop"
    assert child_loop_factory("api") is uvloop.new_event_loop


def test_the_api_child_runs_on_asyncios_loop_when_told_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIOS_API_LOOP", "asyncio")
    assert child_loop_factory("api") is None


def test_the_other_children_keep_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIOS_API_LOOP", "uvloop")
    assert [loop_kind(role) for role in CHILD_ROLES if role != "api"] == [
        "asyncio (the default)"
    ] * (len(CHILD_ROLES) - 1)


def test_an_unknown_loop_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIOS_API_LOOP", "tokio")
    with pytest.raises(InvalidSetting, match="HELIOS_API_LOOP must be one of uvloop, asyncio"):
        child_loop_factory("api")


def test_a_loop_of_the_factory_runs_coroutines() -> None:
    factory = child_loop_factory("api")
    assert factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        assert runner.run(asyncio.sleep(0, result="ran")) == "ran"
