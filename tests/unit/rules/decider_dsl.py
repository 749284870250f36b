"""given(events).when(command).then(events): deciders checked as the rules they implement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs


@attrs.define
class Scenario:
    decide: Callable[[Any, Any], tuple[Any, ...]]
    evolve: Callable[[Any, Any], Any]
    state: Any
    decided: tuple[Any, ...] = ()

    def given(self, *commands: Any) -> Scenario:
        """Earlier commands, decided and applied: the history the rule is checked against."""
        for command in commands:
            for event in self.decide(command, self.state):
                self.state = self.evolve(self.state, event)
        return self

    def when(self, command: Any) -> Scenario:
        self.decided = self.decide(command, self.state)
        for event in self.decided:
            self.state = self.evolve(self.state, event)
        return self

    def then_kinds(self, *kinds: type) -> Scenario:
        assert [type(e) for e in self.decided] == list(kinds), [
            type(e).__name__ for e in self.decided
        ]
        return self

    def then_includes(self, *kinds: type) -> Scenario:
        present = {type(e) for e in self.decided}
        missing = [k.__name__ for k in kinds if k not in present]
        assert not missing, f"missing {missing} in {[type(e).__name__ for e in self.decided]}"
        return self

    def then_excludes(self, *kinds: type) -> Scenario:
        present = [type(e).__name__ for e in self.decided if type(e) in kinds]
        assert not present, f"unexpected {present}"
        return self

    def the(self, kind: type) -> Any:
        found = [e for e in self.decided if isinstance(e, kind)]
        assert len(found) == 1, f"expected one {kind.__name__}, got {len(found)}"
        return found[0]

    def events(self, kind: type) -> Sequence[Any]:
        return [e for e in self.decided if isinstance(e, kind)]
