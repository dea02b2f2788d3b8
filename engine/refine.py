"""Self-refinement (arXiv 2509.22378): compose, measure with MusPy, steer toward targets, repeat.

Targets come from the image (and the brief) and are centred on what the corpus tunes show:
a picture's rank among typical pictures on a feature becomes the same rank in the corpus'
spread of the metric (``derive_targets``), so refinement pulls a piece toward the picture
while the pieces, taken together, spread about as the corpus does. The statistical composer
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


# Where each metric's targets sit: the corpus' spread, measured on 1000 music21 tunes drawn at
# random (seed 0, the evaluation's reference sample): (low, mean, sd, high). A median picture
# gets the corpus mean, a 10th/90th-percentile one the mean -/+ _REACH sd (about the corpus'
# own 10th/90th percentiles), and only the most extreme pictures reach ``low`` or ``high``
# (about its 5th and 95th percentiles).
CORPUS_SPREAD: dict[str, tuple[float, float, float, float]] = {
    "pitch_range": (9.0, 14.53, 4.08, 21.0),
    "n_pitches_used": (5.0, 8.98, 2.61, 13.0),
    "n_pitch_classes_used": (5.0, 6.76, 1.10, 8.0),
    "pitch_entropy": (2.2, 2.785, 0.394, 3.4),
    "pitch_class_entropy": (2.1, 2.505, 0.238, 2.8),
    "groove_consistency": (0.935, 0.969, 0.017, 0.99),
}
# How pictures spread on each feature: its 10th, 50th and 90th percentile over the evaluation's
# 105 varied pictures (17 photographs, 88 procedural scenes and looks). Hue spread and edge
# density pile up near 0 and symmetry near 1, so a linear map of the raw feature would put most
# targets at one end of the corpus' range.
TYPICAL: dict[str, tuple[float, float, float]] = {
    "contrast": (0.15, 0.26, 0.55),
    "hue_spread": (0.01, 0.17, 0.58),
    "colourfulness": (0.06, 0.38, 0.84),
    "texture": (0.05, 0.18, 0.44),
    "symmetry": (0.53, 0.87, 0.98),
    "edge_density": (0.005, 0.05, 0.55),
}
# Corpus sd between the mean and the target of a 10th/90th-percentile picture: 1.28 is the
# normal 10th/90th percentile, so the targets spread as the corpus does. Narrower (0.7 was
# tried) makes refinement squeeze every piece into the middle of the corpus' range: the pieces'
# spread fell to half the corpus' and the overlap with it dropped below 0.7.
_REACH = 1.28


def _clip(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))


def _interp(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    """Piecewise-linear through (xs, ys), flat outside; xs increasing."""
    if x <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            t = (x - xs[i - 1]) / (xs[i] - xs[i - 1])
            return ys[i - 1] + t * (ys[i] - ys[i - 1])
    return ys[-1]


def picture_rank(feature: str, value: float) -> float:
    """Roughly the share of pictures with a lower ``feature`` (0..1, rising with the value)."""
    p10, p50, p90 = TYPICAL[feature]
    return _interp(_clip(value), (0.0, p10, p50, p90, 1.0), (0.0, 0.1, 0.5, 0.9, 1.0))


def corpus_target(metric: str, rank: float) -> float:
    """The value at the same place in the corpus' spread: rank 0.5 is the corpus mean,
    0.1 and 0.9 are _REACH sd either side, 0 and 1 the ends of its usual range."""
    low, mean, sd, high = CORPUS_SPREAD[metric]
    return _interp(
        _clip(rank),
        (0.0, 0.1, 0.5, 0.9, 1.0),
        (low, max(low, mean - _REACH * sd), mean, min(high, mean + _REACH * sd), high),
    )


def derive_targets(perception: Perception, brief: MusicBrief) -> dict[str, float]:
    """Metric targets from the picture, centred on the corpus (see CORPUS_SPREAD, TYPICAL).

    Each picture feature is turned into its rank among typical pictures and the target is the
    value at that rank of the corpus' spread, so a typical picture asks for a typical tune and
    the targets spread about as the corpus does. Every mapping rises with its feature:

    - pitch_range 9..21 semitones: more contrast, a wider range.
    - n_pitches_used 5..13: follows the range.
    - n_pitch_classes_used 5..8: more hue spread (more different colours), more pitch classes.
    - pitch_class_entropy 2.1..2.8: more colourfulness (and hue spread), pitch classes used more
      evenly (kept below the most that the pitch-class target allows).
    - pitch_entropy 2.2..3.4: more texture, a less predictable line; the range pulls it along
      too, as wider tunes use more pitches in the corpus.
    - empty_beat_rate 0..0.03: a sparse picture (few edges) and a sparse brief leave silences;
      nine corpus tunes in ten have none, so only the sparsest pictures (about one in ten:
      (1 - edge rank) * (1 - density) above 0.74) ask for any.
    - groove_consistency 0.935..0.99: more symmetry, more regular rhythm from bar to bar.
    - scale_consistency 0.95..1: busy pictures (many edges) admit chromatic notes.

    Polyphony is measured (and reported) but not a target: the corpus tunes are single
    melodies, and steering it thinned the accompaniment's chords; their voicing is the
    style's (engine/compose/styles.py).
    """
    contrast = picture_rank("contrast", perception.contrast)
    hue = picture_rank("hue_spread", perception.hue_spread)
    colour = picture_rank("colourfulness", perception.colourfulness)
    texture = picture_rank("texture", perception.texture)
    edges = picture_rank("edge_density", perception.edge_density)
    n_classes = corpus_target("n_pitch_classes_used", hue)
    sparse = (1.0 - edges) * (1.0 - _clip(brief.density))
    return {
        "pitch_range": corpus_target("pitch_range", contrast),
        "n_pitches_used": corpus_target("n_pitches_used", contrast),
        "n_pitch_classes_used": n_classes,
        "pitch_class_entropy": min(
            math.log2(n_classes) - 0.1,
            corpus_target("pitch_class_entropy", 0.7 * colour + 0.3 * hue),
        ),
        "pitch_entropy": corpus_target("pitch_entropy", 0.7 * texture + 0.3 * contrast),
        "empty_beat_rate": 0.03 * _clip((sparse - 0.74) / 0.04),
        "groove_consistency": corpus_target(
            "groove_consistency", picture_rank("symmetry", perception.symmetry)
        ),
        "scale_consistency": _interp(edges, (0.0, 0.5, 0.9, 1.0), (1.0, 0.995, 0.98, 0.95)),
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
    # One class a round: the measure counts the chromatic and blue notes too, so a tune of
    # seven degrees with a blue third measures 8 or 9, and moving the whole gap at once took
    # 9 of 65 style pieces from seven degrees to three or four in one round (bugle calls).
    move(
        "pitch_classes",
        float(max(-1, min(1, round(d_classes)))),
        "let more pitch classes in",
        "kept to fewer pitch classes",
    )
    if d_classes:
        advice.append(
            f"use {'more' if d_classes > 0 else 'fewer'} pitch classes (about {targets['n_pitch_classes_used']:.0f})"
        )
    d_class_entropy = gap("pitch_class_entropy", 0.08)
    move(
        "balance",
        2.5 * d_class_entropy,
        "used the pitch classes more evenly",
        "centred the tune more on its tonic",
    )
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

    d_groove = gap("groove_consistency", 0.004)
    move("repetition", 30.0 * d_groove, "repeated bar rhythms more", "varied bar rhythms more")
    if d_groove:
        advice.append(
            "repeat rhythms from bar to bar more"
            if d_groove > 0
            else "vary the rhythm between bars"
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
    knobs: dict[str, float] | None = None,
) -> RefineResult:
    """Round 0 composes; rounds 1..n recompose with feedback. The best round by distance wins.

    Each round's feedback starts from the best round so far (hill climbing): a worse round is
    kept in the record but not built upon. With ``parent`` (a rerun), round 0 already gets
    feedback from the earlier piece. With ``knobs`` (an extension), round 0 composes with
    those settings, as the round that made the piece it continues did. A round whose ABC
    cannot be used is recorded with distance INVALID_DISTANCE and skipped; if every round
    fails, ModelOutputError."""
    n = max(0, int(rounds))
    feedback: Feedback | None = None
    words: list[str] = []
    if knobs:
        knobs = {**default_knobs(brief), **knobs}
        words = ["kept the settings of the piece it continues"]
        feedback = Feedback(0, "", {}, dict(targets), dict(knobs), [])
    else:
        knobs = default_knobs(brief)
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
        record.append(RefineRound(i, metrics, dict(targets), dist, notes, copied, abc, dict(knobs)))
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
