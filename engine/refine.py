"""Self-refinement (arXiv 2509.22378): compose, measure with MusPy, steer toward targets, repeat.

Targets come from the image (and the brief) and stay inside what the corpus tunes show
(roughly their 5th..95th percentiles, measured on 400 music21 tunes), so refinement pulls a
piece toward the picture without leaving the style of the corpus. The statistical composer
is steered with knobs (``Feedback.adjustments``); a language model gets the same in words
(``Feedback.advice``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.compose import Composer
from engine.compose.abc import validate_abc
from engine.compose.markov import MAX_COPIED_NOTES, clamp_knob, default_knobs, longest_copied_run
from engine.errors import ModelOutputError, RenderError
from engine.metrics import measure
from engine.types import (
    Draft,
    Exemplar,
    Feedback,
    MusicBrief,
    Perception,
    ProgressEvent,
    ProgressFn,
    RefineRound,
    no_progress,
)

# A round whose ABC could not be used. Finite, so that rounds stay valid JSON.
INVALID_DISTANCE = 1e9

# Spread of each metric over the corpus (standard deviation): the unit of distance.
SCALES: dict[str, float] = {
    "pitch_range": 4.0,
    "n_pitches_used": 2.5,
    "n_pitch_classes_used": 1.1,
    "polyphony": 0.7,
    "scale_consistency": 0.02,
    "pitch_entropy": 0.4,
    "pitch_class_entropy": 0.23,
    "empty_beat_rate": 0.01,
    "groove_consistency": 0.018,
}
WEIGHTS: dict[str, float] = {
    "pitch_range": 1.0,
    "n_pitches_used": 0.7,
    "n_pitch_classes_used": 1.0,
    "polyphony": 0.5,
    "scale_consistency": 0.7,
    "pitch_entropy": 1.0,
    "pitch_class_entropy": 0.7,
    "empty_beat_rate": 0.5,
    "groove_consistency": 0.7,
}
_CAP = 3.0  # one metric far off must not drown all the others
_PENALTY = 0.5  # per validation problem, and for copying an exemplar


@dataclass
class RefineResult:
    rounds: list[RefineRound]
    best: int  # index into rounds
    draft: Draft  # the best round's draft


def _clip(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))


def derive_targets(perception: Perception, brief: MusicBrief) -> dict[str, float]:
    """Metric targets from the picture, each inside the corpus' usual range:

    - pitch_range 9..21 semitones: more contrast, a wider range.
    - n_pitches_used: follows the range (about half its semitones, plus 2.5).
    - n_pitch_classes_used 5..8: more hue spread (more different colours), more pitch classes.
    - pitch_class_entropy: more colourfulness, pitch classes used more evenly (kept below the
      most that many classes allow).
    - pitch_entropy 2.2..3.4: more texture, a less predictable line.
    - empty_beat_rate 0..0.03: a sparse picture (few edges) and a sparse brief leave silences.
    - groove_consistency 0.94..0.99: more symmetry, more regular rhythm from bar to bar.
    - scale_consistency 0.95..1: busy pictures (many edges) admit chromatic notes.
    - polyphony (all voices) 2.5..4.5: more saturation, fuller chords.
    """
    contrast, hue = _clip(perception.contrast), _clip(perception.hue_spread)
    pitch_range = 9.0 + 12.0 * contrast
    n_classes = 5.0 + 3.0 * hue
    sparse = (1.0 - _clip(perception.edge_density)) * (1.0 - _clip(brief.density))
    return {
        "pitch_range": pitch_range,
        "n_pitches_used": 0.45 * pitch_range + 2.5,
        "n_pitch_classes_used": n_classes,
        "pitch_class_entropy": min(
            math.log2(n_classes) - 0.1, 2.1 + 0.7 * _clip(perception.colourfulness)
        ),
        "pitch_entropy": 2.2 + 1.2 * _clip(perception.texture),
        "empty_beat_rate": 0.03 * sparse**2,
        "groove_consistency": 0.94 + 0.05 * _clip(perception.symmetry),
        "scale_consistency": 1.0 - 0.05 * _clip(perception.edge_density),
        "polyphony": 2.5 + 2.0 * _clip(perception.saturation),
    }


def distance(metrics: dict[str, float], targets: dict[str, float]) -> float:
    """Weighted mean of |metric - target| in units of the corpus spread (each capped at 3)."""
    total = weight = 0.0
    for name, target in targets.items():
        if name not in metrics or name not in SCALES:
            continue
        w = WEIGHTS.get(name, 1.0)
        total += w * min(_CAP, abs(metrics[name] - target) / SCALES[name])
        weight += w
    return total / weight if weight else 0.0


def adjust(
    knobs: dict[str, float], metrics: dict[str, float], targets: dict[str, float]
) -> tuple[dict[str, float], list[str], list[str]]:
    """New knob values that move the metrics toward the targets, what changed (in words),
    and the same as advice for a language model."""
    new = dict(knobs)
    words: list[str] = []
    advice: list[str] = []

    def gap(name: str, tolerance: float) -> float:
        if name not in metrics or name not in targets:
            return 0.0
        d = targets[name] - metrics[name]
        return d if abs(d) > tolerance else 0.0

    def move(knob: str, delta: float, more: str, less: str) -> None:
        if not delta:
            return
        before = new[knob]
        new[knob] = clamp_knob(knob, before + delta)
        if abs(new[knob] - before) > 1e-9:
            words.append(f"{more if delta > 0 else less} ({knob} {before:.2f} -> {new[knob]:.2f})")

    d_range = gap("pitch_range", 1.5)
    d_pitches = gap("n_pitches_used", 1.5)
    d_entropy = gap("pitch_entropy", 0.15)
    span_delta = 0.8 * d_range + 0.4 * d_pitches + 2.0 * d_entropy
    move("pitch_span", span_delta, "widened the melody's range", "narrowed the melody's range")
    if d_range:
        advice.append(
            f"{'widen' if d_range > 0 else 'narrow'} the melody's range to about {targets['pitch_range']:.0f} semitones"
        )
    if d_pitches:
        advice.append(
            f"use {'more' if d_pitches > 0 else 'fewer'} distinct pitches (about {targets['n_pitches_used']:.0f})"
        )
    move("step_bias", -0.4 * d_entropy, "more stepwise motion", "more leaps")
    if d_entropy:
        advice.append(
            "make the line less predictable, with more leaps"
            if d_entropy > 0
            else "make the line simpler, mostly by step"
        )

    d_classes = gap("n_pitch_classes_used", 0.75)
    move(
        "pitch_classes",
        float(round(d_classes)),
        "let more pitch classes in",
        "kept to fewer pitch classes",
    )
    if d_classes:
        advice.append(
            f"use {'more' if d_classes > 0 else 'fewer'} pitch classes (about {targets['n_pitch_classes_used']:.0f})"
        )
    d_class_entropy = gap("pitch_class_entropy", 0.15)
    if d_class_entropy:
        advice.append(
            "use the pitch classes more evenly"
            if d_class_entropy > 0
            else "centre the tune more on the tonic and fifth"
        )

    d_scale = gap("scale_consistency", 0.01)
    move("chromatic", -1.5 * d_scale, "more chromatic notes", "fewer chromatic notes")
    if d_scale:
        advice.append(
            "stay inside the scale" if d_scale > 0 else "add a few chromatic passing notes"
        )

    d_empty = gap("empty_beat_rate", 0.005)
    move("rest_rate", 3.0 * d_empty, "more rests", "fewer rests")
    if d_empty:
        advice.append(
            "leave a few silent beats between phrases" if d_empty > 0 else "avoid long rests"
        )

    d_groove = gap("groove_consistency", 0.008)
    move("repetition", 6.0 * d_groove, "repeated bar rhythms more", "varied bar rhythms more")
    if d_groove:
        advice.append(
            "repeat rhythms from bar to bar more"
            if d_groove > 0
            else "vary the rhythm between bars"
        )

    d_poly = gap("polyphony", 0.4)
    move("polyphony", d_poly, "fuller accompaniment chords", "thinner accompaniment")
    if d_poly:
        advice.append(
            "use fuller chords in the accompaniment" if d_poly > 0 else "thin out the accompaniment"
        )
    return new, words, advice


def refine(
    composer: Composer,
    brief: MusicBrief,
    exemplars: list[Exemplar],
    seed: int,
    targets: dict[str, float],
    rounds: int,
    progress: ProgressFn = no_progress,
    parent: tuple[str, dict[str, float]] | None = None,
) -> RefineResult:
    """Round 0 composes; rounds 1..n recompose with feedback. The best round by distance wins.

    Each round's feedback starts from the best round so far (hill climbing): a worse round is
    kept in the record but not built upon. With ``parent`` (a rerun), round 0 already gets
    feedback from the earlier piece. A round whose ABC cannot be used is recorded with
    distance INVALID_DISTANCE and skipped; if every round fails, ModelOutputError."""
    n = max(0, int(rounds))
    knobs = default_knobs(brief)
    feedback: Feedback | None = None
    words: list[str] = []
    if parent is not None:
        parent_abc, parent_metrics = parent
        if not parent_metrics:
            try:
                parent_metrics = measure(parent_abc)
            except RenderError:
                parent_metrics = {}
        if parent_metrics:
            knobs, words, advice = adjust(knobs, parent_metrics, targets)
            words = ["started from the earlier piece", *words]
            feedback = Feedback(
                0, parent_abc, dict(parent_metrics), dict(targets), dict(knobs), advice
            )

    record: list[RefineRound] = []
    drafts: list[Draft | None] = []
    best: int | None = None
    best_knobs, best_metrics = knobs, {}
    progress(ProgressEvent("compose", "composing"))
    for i in range(n + 1):
        if i > 0:
            progress(ProgressEvent("refine", f"refining (round {i} of {n})", i, n))
        abc = ""
        try:
            draft = composer.compose(brief, exemplars, seed + i, feedback)
            abc = draft.abc
            metrics = measure(abc)
        except (RenderError, ModelOutputError) as exc:
            record.append(
                RefineRound(
                    i,
                    {},
                    dict(targets),
                    INVALID_DISTANCE,
                    [*words, f"unusable ABC, skipped: {exc.detail or exc.user_message}"],
                    0,
                    abc,
                )
            )
            drafts.append(None)
            continue
        problems = validate_abc(abc, parsers=False)
        copied = longest_copied_run(abc, exemplars)
        dist = distance(metrics, targets) + _PENALTY * min(len(problems), 4)
        if copied > MAX_COPIED_NOTES:
            dist += _PENALTY
        notes = [*words, *(f"problem: {p}" for p in problems[:4])]
        record.append(RefineRound(i, metrics, dict(targets), dist, notes, copied, abc))
        drafts.append(draft)
        if best is None or dist < record[best].distance:
            best, best_knobs, best_metrics = i, knobs, metrics
        # Next round: steer from the best round so far.
        knobs, words, advice = adjust(best_knobs, best_metrics, targets)
        feedback = Feedback(
            i + 1, record[best].abc, dict(best_metrics), dict(targets), dict(knobs), advice
        )
    if best is None:
        raise ModelOutputError(detail=f"no usable ABC in {n + 1} rounds")
    chosen = drafts[best]
    assert chosen is not None
    return RefineResult(rounds=record, best=best, draft=chosen)
