"""Model stages degrade to the embedded defaults, with a note, instead of failing the job."""

from __future__ import annotations

import pytest

from engine.errors import ConfigError, InvalidOption
from engine.fallback import FallbackBridge, FallbackComposer, add_note, collect_notes
from engine.types import Draft


class Broken:
    name = "llm:broken"

    def compose(self, *args: object) -> Draft:
        raise RuntimeError("CUDA out of memory")

    def bridge(self, *args: object) -> None:
        raise InvalidOption("The duration must be a number of seconds.")


class Default:
    name = "markov"

    def __init__(self) -> None:
        self.calls = 0

    def compose(self, *args: object) -> Draft:
        self.calls += 1
        return Draft(abc="X:1\nK:C\nC|]", notes=["own note"])


def test_runtime_failure_uses_the_default_and_says_so() -> None:
    default = Default()
    composer = FallbackComposer(Broken, lambda: default, "markov")
    assert composer.name == "llm:broken"
    with collect_notes() as notes:
        draft = composer.compose(None, [], 1, None)
    assert draft.notes == ["own note"] and default.calls == 1
    assert notes == [
        "The language model composer failed on this piece, so the statistical composer was used."
    ]


def test_load_failure_uses_the_default_for_every_job() -> None:
    made = []

    def fail() -> object:
        raise ConfigError(detail="no weights")

    composer = FallbackComposer(fail, lambda: made.append(1) or Default(), "markov")
    assert composer.name == "markov" and made == []  # the default is built when first needed
    for _ in range(2):
        with collect_notes() as notes:
            composer.compose(None, [], 1, None)
        assert notes == [
            "The language model composer could not be loaded here, so the statistical composer was used."
        ]
    assert made == [1]


def test_request_errors_are_not_hidden() -> None:
    bridge = FallbackBridge(Broken, Default, "rules")
    with pytest.raises(InvalidOption):
        bridge.bridge(None, None, -1.0)


def test_notes_outside_a_job_are_dropped() -> None:
    add_note("nobody listens")  # no error
    with collect_notes() as notes:
        add_note("a")
        add_note("a")
    assert notes == ["a"]
