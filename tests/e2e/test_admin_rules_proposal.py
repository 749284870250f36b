"""The admin console's rules page starts a draft from an Insights suggestion
(``/admin/rules?proposal=<id>``): the rules in force plus the change the suggestion proposes,
read for the signed-in admin's tenant only."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from insight_documents import FLAPPING_ID, NOISY_ID, NOISY_TOML, publish
from test_admin_console import Browser, seed_console
from test_query_api import World, start_world

from helios.apps.composition import Services
from helios.apps.http.app import create_app
from helios.apps.http.config import ApiConfig
from helios.domain.access import Role

DRAFT = re.compile(r'<textarea id="draft"[^>]*>(.*?)</textarea>', re.S)
PROPOSAL = f"/admin/rules?proposal={NOISY_ID.replace(':', '%3A').replace('=', '%3D')}"


@pytest.fixture(scope="module")
def world(
    postgres_url: str, redis_session_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    read_models: list[str] = []

    def app(services: Services) -> Any:
        read_models.append(services.settings.effective_read_models_url)
        return create_app(services, config=ApiConfig())

    data_dir = tmp_path_factory.mktemp("proposal")
    made = start_world(
        postgres_url, redis_session_url, data_dir, app=app, seed=seed_console(data_dir)
    )
    running = next(made)
    # Only the first tenant has suggestions.
    publish(read_models[-1], running.tenants[0].tenant_id)
    yield running
    next(made, None)


@pytest.fixture
def console(world: World) -> Iterator[Browser]:
    made = Browser(world)
    yield made
    made.http.close()


def _draft(page: str) -> str:
    found = DRAFT.search(page)
    assert found, page
    return html.unescape(found.group(1))


def test_an_admin_gets_the_rules_in_force_plus_the_suggested_change_as_a_draft(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    page = console.get(PROPOSAL)
    assert page.status_code == 200, page.text
    draft = _draft(page.text)
    in_force = _draft(console.get("/admin/rules").text)
    assert "version = 0" in in_force  # nothing published yet: the built-in defaults
    assert draft.startswith(in_force.replace("version = 0", "version = 1", 1))
    assert draft.endswith(NOISY_TOML)
    assert "DiskFull pages 4.9 times a week" in html.unescape(page.text)  # the notice names it
    # The draft is a valid rules file: its preview starts.
    preview = console.post("/admin/rules/preview", {"draft": draft, "days": "7"})
    assert preview.status_code == 200
    assert "/admin/rules/previews/" in str(preview.url)


def test_an_owner_may_start_from_a_suggestion_too(world: World, console: Browser) -> None:
    console.sign_in(world.tenants[0], Role.OWNER)
    assert _draft(console.get(PROPOSAL).text).endswith(NOISY_TOML)


def test_another_tenants_admin_finds_no_such_suggestion(world: World, console: Browser) -> None:
    console.sign_in(world.tenants[1], Role.ADMIN)
    page = console.get(PROPOSAL)
    assert page.status_code == 404
    assert "quieter-DiskFull" not in page.text


def test_a_suggestion_without_a_rule_change_or_unknown_is_not_found(
    world: World, console: Browser
) -> None:
    console.sign_in(world.tenants[0], Role.ADMIN)
    assert console.get(f"/admin/rules?proposal={FLAPPING_ID}").status_code == 404
    assert console.get("/admin/rules?proposal=noisy%3Anothing").status_code == 404


def test_a_viewer_is_refused_and_nobody_signed_in_is_sent_to_sign_in(
    world: World, console: Browser
) -> None:
    assert console.get(PROPOSAL).url.path == "/admin/sign-in"
    assert console.sign_in(world.tenants[0], Role.VIEWER).status_code == 403
    assert console.get(PROPOSAL).url.path == "/admin/sign-in"
