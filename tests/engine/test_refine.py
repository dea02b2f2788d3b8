from __future__ import annotations

import dataclasses

import pytest

from engine.compose.markov import MarkovComposer, default_knobs
from engine.errors import ModelOutputError
from engine.metrics import measure
from engine.refine import (
    CORPUS_SPREAD,
    INVALID_DISTANCE,
    SCALES,
    TYPICAL,
    adjust,
    corpus_target,
    derive_targets,
    distance,
    picture_rank,
    refine,
)
from engine.types import Draft, Exemplar, Feedback, MusicBrief, Perception, ProgressEvent

from .compose.conftest import corpus_tunes, make_brief


@pytest.fixture(scope="module")
def exemplars() -> list[Exemplar]:
    return corpus_tunes("oneills1850/0001-0050.abc", 5)


def make_perception(**changes: float) -> Perception:
    fields: dict = dict(
        brightness=0.5, contrast=0.5, saturation=0.5, colourfulness=0.5, warmth=0.0, hue_spread=0.5,
        edge_density=0.3, texture=0.5, symmetry=0.5, light_centre=(0.5, 0.5), detail_centre=(0.5, 0.5),
        dominant_colours=[], caption="a test picture",
    )  # fmt: skip
    fields.update(changes)
    return Perception(**fields)


class Recording:
    """Wraps a composer and keeps the feedback each round received."""

    name = "recording"

    def __init__(self, inner: MarkovComposer, broken_rounds: tuple[int, ...] = ()) -> None:
        self.inner, self.broken = inner, broken_rounds
        self.feedback: list[Feedback | None] = []

    def compose(
        self,
        brief: MusicBrief,
        exemplars: list[Exemplar],
        seed: int,
        feedback: Feedback | None = None,
    ) -> Draft:
        self.feedback.append(feedback)
        if len(self.feedback) - 1 in self.broken:
            return Draft(abc="this is not ABC {{{ |||")
        return self.inner.compose(brief, exemplars, seed, feedback)


def test_targets_follow_the_picture_and_stay_in_corpus_ranges() -> None:
    brief = make_brief()
    flat, vivid = (
        derive_targets(make_perception(contrast=0.0, hue_spread=0.0, texture=0.0), brief),
        derive_targets(make_perception(contrast=1.0, hue_spread=1.0, texture=1.0), brief),
    )
    assert set(flat) <= set(SCALES)
    assert 9 <= flat["pitch_range"] < vivid["pitch_range"] <= 21
    assert 5 <= flat["n_pitch_classes_used"] < vivid["n_pitch_classes_used"] <= 8
    assert 2.2 <= flat["pitch_entropy"] < vivid["pitch_entropy"] <= 3.4 + 1e-9
    sym = derive_targets(make_perception(symmetry=1.0), brief)["groove_consistency"]
    assert derive_targets(make_perception(symmetry=0.0), brief)["groove_consistency"] < sym <= 0.99
    sparse = derive_targets(make_perception(edge_density=0.0), make_brief(density=0.0))[
        "empty_beat_rate"
    ]
    assert sparse > derive_targets(make_perception(edge_density=1.0), brief)["empty_beat_rate"]
    # Out-of-range perception values are clipped, not trusted.
    wild = derive_targets(make_perception(contrast=7.0, hue_spread=-3.0), brief)
    assert wild["pitch_range"] == 21 and wild["n_pitch_classes_used"] == 5


def test_distance() -> None:
    targets = {"pitch_range": 14.0, "pitch_entropy": 2.8}
    assert distance(dict(targets), targets) == 0.0
    near = distance({"pitch_range": 15.0, "pitch_entropy": 2.8}, targets)
    far = distance({"pitch_range": 20.0, "pitch_entropy": 2.8}, targets)
    assert 0 < near < far
    assert distance({"pitch_range": 1000.0, "pitch_entropy": 2.8}, targets) <= 3.0  # capped
    assert distance({"pitch_entropy": 2.8}, targets) == 0.0  # missing metrics are left out


def test_pitch_classes_move_one_class_a_round_and_never_below_a_pentatonic_scale() -> None:
    # A tune with blue thirds and a leading note measures 9 classes; a target of 5 once took
    # the knob from 7 to 3 in one round: a melody on three notes.
    knobs = default_knobs(make_brief())
    far = {"n_pitch_classes_used": 5.0}
    new, words, _ = adjust(knobs, {"n_pitch_classes_used": 9.0}, far)
    assert new["pitch_classes"] == knobs["pitch_classes"] - 1
    assert any("fewer pitch classes" in w for w in words)
    for _ in range(5):
        new, _, _ = adjust(new, {"n_pitch_classes_used": 9.0}, far)
    assert new["pitch_classes"] == 5.0
    more, _, _ = adjust(knobs, {"n_pitch_classes_used": 5.0}, {"n_pitch_classes_used": 8.0})
    assert more["pitch_classes"] == knobs["pitch_classes"] + 1


def test_adjust_moves_knobs_toward_targets() -> None:
    knobs = default_knobs(make_brief())
    metrics = {
        "pitch_range": 10.0,
        "polyphony": 1.0,
        "empty_beat_rate": 0.0,
        "n_pitch_classes_used": 7.0,
    }
    targets = {
        "pitch_range": 18.0,
        "polyphony": 4.0,  # not a knob's business: the style voices the chords
        "empty_beat_rate": 0.03,
        "n_pitch_classes_used": 5.0,
    }
    new, words, advice = adjust(knobs, metrics, targets)
    assert new["pitch_span"] > knobs["pitch_span"]
    assert "polyphony" not in new
    assert new["rest_rate"] > knobs["rest_rate"]
    assert new["pitch_classes"] < knobs["pitch_classes"]
    assert (
        len(words) == 3 and any("range" in w for w in words) and any("range" in a for a in advice)
    )
    unchanged, none, _ = adjust(knobs, dict(targets), targets)
    assert unchanged == knobs and none == []


def test_refine_records_rounds_and_keeps_the_best(exemplars: list[Exemplar]) -> None:
    brief = make_brief()
    targets = derive_targets(make_perception(contrast=1.0, texture=1.0, saturation=0.0), brief)
    events: list[ProgressEvent] = []
    composer = Recording(MarkovComposer())
    result = refine(
        composer, brief, exemplars, seed=3, targets=targets, rounds=3, progress=events.append
    )
    # The premise of the knob check below: round 0 falls short of the widest range target
    # (the span of a piece varies from seed to seed, as corpus tunes' ranges do).
    assert result.rounds[0].metrics["pitch_range"] < targets["pitch_range"] - 1.5
    assert [r.round for r in result.rounds] == [0, 1, 2, 3]
    assert [e.message for e in events] == ["composing"] + [
        f"refining (round {i} of 3)" for i in (1, 2, 3)
    ]
    assert [e.stage for e in events] == ["compose", "refine", "refine", "refine"]
    best = result.rounds[result.best]
    assert best.distance == min(r.distance for r in result.rounds) <= result.rounds[0].distance
    assert result.draft.abc == best.abc
    for r in result.rounds:
        assert r.metrics == measure(r.abc) and r.targets == targets
        assert r.longest_copied_run >= 1
    # Feedback reached the composer and its knobs moved toward the (wide) range target.
    assert composer.feedback[0] is None
    first = composer.feedback[1]
    assert first is not None and first.previous_abc == result.rounds[0].abc and first.advice
    assert first.adjustments["pitch_span"] > default_knobs(brief)["pitch_span"]
    assert result.rounds[1].adjustments  # the words for what changed


def test_refine_with_no_rounds_composes_once() -> None:
    events: list[ProgressEvent] = []
    result = refine(
        MarkovComposer(), make_brief(), [], 3, {"pitch_range": 14.0}, 0, progress=events.append
    )
    assert len(result.rounds) == 1 and result.best == 0
    assert [e.stage for e in events] == ["compose"]


def test_parent_gives_the_first_round_feedback() -> None:
    brief = make_brief()
    parent = MarkovComposer().compose(brief, [], 5).abc
    composer = Recording(MarkovComposer())
    targets = {"pitch_range": 20.0, "n_pitch_classes_used": 5.0}
    result = refine(composer, brief, [], 6, targets, 1, parent=(parent, measure(parent)))
    first = composer.feedback[0]
    assert first is not None and first.previous_abc == parent
    assert first.adjustments != default_knobs(brief)
    assert result.rounds[0].adjustments[0] == "started from the earlier piece"
    # Metrics are measured when a parent comes without them.
    composer2 = Recording(MarkovComposer())
    refine(composer2, brief, [], 6, targets, 0, parent=(parent, {}))
    assert composer2.feedback[0] is not None


def test_broken_abc_is_recorded_and_skipped() -> None:
    composer = Recording(MarkovComposer(), broken_rounds=(0, 2))
    result = refine(composer, make_brief(), [], 1, {"pitch_range": 14.0}, 3)
    assert [r.distance == INVALID_DISTANCE for r in result.rounds] == [True, False, True, False]
    assert result.rounds[0].metrics == {} and "unusable" in result.rounds[0].adjustments[-1]
    assert result.best in (1, 3)
    with pytest.raises(ModelOutputError):
        refine(Recording(MarkovComposer(), broken_rounds=(0, 1)), make_brief(), [], 1, {}, 1)


def test_refinement_feedback_changes_the_output() -> None:
    composer = Recording(MarkovComposer())
    brief = dataclasses.replace(make_brief(), duration=20.0)
    refine(composer, brief, [], 1, {"pitch_range": 21.0, "n_pitch_classes_used": 5.0}, 1)
    fb = composer.feedback[1]
    assert fb is not None
    again_without = MarkovComposer().compose(brief, [], 2).abc
    again_with = MarkovComposer().compose(brief, [], 2, fb).abc
    assert again_with != again_without


def test_targets_are_centred_on_the_corpus_and_follow_each_feature() -> None:
    brief = make_brief(density=0.5)
    median = {f: TYPICAL[f][1] for f in TYPICAL}
    typical = derive_targets(make_perception(**median), brief)
    # A median picture asks for a corpus-mean tune.
    for metric in ("pitch_range", "n_pitches_used", "n_pitch_classes_used", "pitch_entropy"):
        assert typical[metric] == pytest.approx(CORPUS_SPREAD[metric][1])
    groove = CORPUS_SPREAD["groove_consistency"]
    assert typical["groove_consistency"] == pytest.approx(groove[1])
    # Pictures at the 10th and 90th percentile land on either side, about the corpus' own
    # 10th/90th percentiles, inside its usual range.
    for feature, metric in (("contrast", "pitch_range"), ("hue_spread", "n_pitch_classes_used")):
        low, mean, sd, high = CORPUS_SPREAD[metric]
        p10, _, p90 = TYPICAL[feature]
        below = derive_targets(make_perception(**{**median, feature: p10}), brief)[metric]
        above = derive_targets(make_perception(**{**median, feature: p90}), brief)[metric]
        assert low <= below < mean < above <= high
        assert above - below > 1.5 * sd  # spread like the corpus, not squeezed into the middle
    # Every mapping keeps its direction over the whole range of its feature.
    pairs = (
        ("contrast", "pitch_range"),
        ("contrast", "n_pitches_used"),
        ("hue_spread", "n_pitch_classes_used"),
        ("colourfulness", "pitch_class_entropy"),
        ("texture", "pitch_entropy"),
        ("symmetry", "groove_consistency"),
    )
    # Polyphony is no target: steering it toward single-line tunes thinned the chords.
    assert "polyphony" not in typical
    for feature, metric in pairs:
        values = [
            derive_targets(make_perception(**{**median, feature: x / 10}), brief)[metric]
            for x in range(11)
        ]
        assert all(a <= b for a, b in zip(values, values[1:], strict=False)), (feature, metric)
        assert values[0] < values[-1], (feature, metric)
    scale = [
        derive_targets(make_perception(**{**median, "edge_density": x / 10}), brief)[
            "scale_consistency"
        ]
        for x in range(11)
    ]
    assert all(a >= b for a, b in zip(scale, scale[1:], strict=False)) and scale[0] > scale[-1]


def test_picture_rank_and_corpus_target() -> None:
    for feature, (p10, p50, p90) in TYPICAL.items():
        assert picture_rank(feature, p10) == pytest.approx(0.1)
        assert picture_rank(feature, p50) == pytest.approx(0.5)
        assert picture_rank(feature, p90) == pytest.approx(0.9)
        assert picture_rank(feature, -5.0) == 0.0 and picture_rank(feature, 9.0) == 1.0
    for metric, (low, mean, _, high) in CORPUS_SPREAD.items():
        assert corpus_target(metric, 0.0) == low and corpus_target(metric, 1.0) == high
        assert corpus_target(metric, 0.5) == pytest.approx(mean)


def test_adjust_evens_out_pitch_classes_through_balance() -> None:
    knobs = default_knobs(make_brief())
    low, _, _ = adjust(knobs, {"pitch_class_entropy": 2.0}, {"pitch_class_entropy": 2.5})
    high, _, _ = adjust(knobs, {"pitch_class_entropy": 2.8}, {"pitch_class_entropy": 2.3})
    assert low["balance"] > knobs["balance"] > high["balance"]
    groove_down, _, _ = adjust(knobs, {"groove_consistency": 0.99}, {"groove_consistency": 0.95})
    assert groove_down["repetition"] < knobs["repetition"]
