"""Errors the deciders raise when they refuse a command."""

from __future__ import annotations


class CommandRejected(Exception):
    """A command broke a rule; ``problems`` names each field and what is wrong with it."""

    def __init__(self, message: str, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems
