"""The access decider's rules for users: which emails it takes, and what it refuses."""

from __future__ import annotations

import pytest

from helios.domain import access
from helios.domain.access import Role
from helios.domain.errors import CommandRejected


def create(email: str) -> access.CreateUser:
    return access.CreateUser(user_id="usr_1", email=email, role=Role.VIEWER, at=1)


@pytest.mark.parametrize(
    "email",
    [
        "ana@acme.example",
        "oncall@localhost",
        "first.last+alerts@eu.ops.acme.co.uk",
        "o'brien@acme.example",
        "x_y-z@a-b.example",
        "j\u00fcrgen@b\u00fccher.example",
        "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a",
    ],
)
def test_ordinary_addresses_are_accepted(email: str) -> None:
    """ASCII or internationalized, with or without a dot in the domain."""
    [created] = access.decide(create(email), access.initial_state("ten_1"))
    assert isinstance(created, access.UserCreated) and created.email == email


@pytest.mark.parametrize(
    "email",
    [
        "ana\x00@acme.example",
        "ana@acme.example\r\nBcc: eve@evil.example",
        "ana\n@acme.example",
        "ana\t@acme.example",
        "ana@acme\x7f.example",
        "ana\x85@acme.example",
        "ana\u200b@acme.example",
        "\u202eana@acme.example",
        "ana\ufeff@acme.example",
        "ana\u2028@acme.example",
        "ana\u00a0@acme.example",
    ],
)
def test_an_email_with_control_or_invisible_characters_is_refused(email: str) -> None:
    """Line breaks, NUL, bidi overrides, zero-width and other invisible characters."""
    with pytest.raises(CommandRejected) as refused:
        access.decide(create(email), access.initial_state("ten_1"))
    assert refused.value.problems == (
        ("email", "must not contain control or invisible characters"),
    )


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ana",
        "@acme.example",
        "ana@",
        "ana@@acme.example",
        "ana@b@acme.example",
        "ana @acme.example",
        "<ana@acme.example>",
        "Ana <ana@acme.example>",
        "ana,bo@acme.example",
        "ana;bo@acme.example",
        '"ana"@acme.example',
        ".ana@acme.example",
        "ana.@acme.example",
        "an..a@acme.example",
        "ana@.acme.example",
        "ana@acme.example.",
        "ana@acme..example",
        "ana@-acme.example",
        "ana@acme-.example",
        "ana@acme_corp.example",
        "ana@[127.0.0.1]",
        "ana@acme.example/x",
        "a" * 65 + "@acme.example",
        "ana@" + "a" * 64 + ".example",
    ],
)
def test_a_malformed_email_is_refused_naming_the_field(email: str) -> None:
    """One address, name@domain, as people type it into a login form."""
    with pytest.raises(CommandRejected) as refused:
        access.decide(create(email), access.initial_state("ten_1"))
    assert [field for field, _ in refused.value.problems] == ["email"]


def test_a_user_recorded_before_the_stricter_rule_still_loads() -> None:
    """The rule refuses new commands; recorded events fold as they always did."""
    recorded = access.UserCreated(
        user_id="usr_1", email="old\x01@acme.example", role=Role.VIEWER, at=1
    )
    state = access.evolve(access.initial_state("ten_1"), recorded)
    assert state.user_by_email("old\x01@acme.example") is not None
