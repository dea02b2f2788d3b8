"""The corpus-wide step background: learnt from real tunes, stored, and mixed into a piece's
exemplar statistics."""

from __future__ import annotations

import pytest

from engine.compose import background, markov
from engine.compose.abc import melody_notes
from engine.compose.background import BORROWED, MIN_TUNES, background_for, from_json, to_json
from engine.compose.background_build import build_from_corpus, learn_background
from engine.compose.markov import MarkovComposer, Model, learn, with_background
from engine.compose.rhythm import Meter
from engine.types import Exemplar

from .conftest import corpus_tunes, make_brief


def _shares(counts: dict[int, float]) -> dict[int, float]:
    total = sum(counts.values())
    return {s: c / total for s, c in counts.items()}


def test_the_stored_background_holds_real_tunes_habits() -> None:
    major, minor = background_for("major"), background_for("minor")
    assert major is not None and minor is not None
    assert major.tunes > 10_000 and minor.tunes >= MIN_TUNES
    for st in (major, minor):
        assert sum(st.steps1.values()) == pytest.approx(1.0, abs=1e-5)
        assert sum(sum(v.values()) for v in st.steps2.values()) == pytest.approx(1.0, abs=1e-4)
    # Folk melodies fall by step more often than they rise by step (step declination).
    assert major.steps1[-1] > 1.2 * major.steps1[1]
    # Minor tunes step differently from major ones: a background per mode, not one for all.
    diff = sum(abs(major.steps1.get(s, 0) - minor.steps1.get(s, 0)) for s in range(-7, 8))
    assert diff > 0.05
    # Modes the corpus has too few tunes of borrow their neighbour's.
    for mode, other in BORROWED.items():
        assert background_for(mode) is background_for(other)


def test_background_is_learnt_as_exemplars_are() -> None:
    """Each mode's table is the exemplar statistics (markov.learn) of its tunes, each tune
    counting the same, normalised; and it survives the JSON round trip."""
    tunes = corpus_tunes("oneills1850/0001-0050.abc", 6)
    learnt = learn_background({"major": tunes})["major"]
    model, _ = learn(tunes, Meter.parse("4/4"))
    assert learnt.tunes == 6
    assert learnt.steps1 == pytest.approx(_shares(model.steps1))
    assert from_json(to_json({"major": learnt}))["major"].steps3.keys() == learnt.steps3.keys()


@pytest.mark.slow
def test_the_stored_file_is_what_the_corpus_gives() -> None:
    rebuilt = build_from_corpus()
    stored = from_json(background.DATA_FILE.read_text())
    assert rebuilt.keys() == stored.keys()
    for mode in stored:
        assert stored[mode].tunes == rebuilt[mode].tunes
        assert stored[mode].steps1 == pytest.approx(rebuilt[mode].steps1, abs=1e-6)


def _scale_only() -> Exemplar:
    """A tune that only ever moves by step: up and down the G major scale."""
    body = "GABc dcBA | GABc dcBA | GABc dcBA | G4 z4 |]\n"
    abc = f"X:1\nT:Steps\nM:4/4\nL:1/8\nK:G\n{body}"
    return Exemplar(
        id="steps", title="Steps", collection="test", description="", abc=abc, key="G",
        mode="major", meter="4/4", tempo=100, similarity=0.5, score=0.5,
    )  # fmt: skip


def test_with_background_mixes_the_corpus_into_thin_statistics() -> None:
    model, _ = learn([_scale_only()], Meter.parse("4/4"))
    assert set(model.steps1) == {-1, 1}
    before = dict(model.steps1)
    mixed = with_background(model, "major", share=0.5)
    bg = background_for("major")
    assert bg is not None
    ours, theirs, both = _shares(model.steps1), bg.steps1, _shares(mixed.steps1)
    for step in set(ours) | set(theirs):
        assert both.get(step, 0.0) == pytest.approx(
            0.5 * ours.get(step, 0.0) + 0.5 * theirs.get(step, 0.0), abs=1e-6
        )
    # Thirds, which the exemplar never sings, now have half of real tunes' share.
    assert ours.get(2, 0.0) + ours.get(-2, 0.0) == 0.0
    assert both[2] + both[-2] > 0.08
    # The exemplar's rhythm, phrases and copy tokens are untouched; the model is not changed.
    assert mixed.lines is model.lines and mixed.tokens is model.tokens
    assert dict(model.steps1) == before


def test_no_exemplars_no_background() -> None:
    empty = Model()
    assert with_background(empty, "major") is empty
    assert background_for("no such mode") is None


def _leap_share(abc: str) -> float:
    pitches = [p for p, _ in melody_notes(abc)]
    moves = [abs(b - a) for a, b in zip(pitches, pitches[1:], strict=False) if b != a]
    return sum(m >= 3 for m in moves) / len(moves)


def test_the_background_changes_the_melody_toward_real_tunes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step-only exemplar teaches a stepwise melody; with the background the melody also
    moves by thirds and leaps as real tunes do. Same seed, same piece either way."""
    brief, ex = make_brief(duration=40.0), [_scale_only()]
    seeds = range(6)
    mixed = [MarkovComposer().compose(brief, ex, s).abc for s in seeds]
    assert mixed == [MarkovComposer().compose(brief, ex, s).abc for s in seeds]
    monkeypatch.setattr(markov, "background_for", lambda mode: None)
    alone = [MarkovComposer().compose(brief, ex, s).abc for s in seeds]
    assert alone != mixed
    assert sum(map(_leap_share, mixed)) > 1.2 * sum(map(_leap_share, alone))
