"""The embedded composer: a Markov melody over scale degrees, harmonised, as multi-voice ABC.

How a piece is made:

1. Statistics. Each exemplar's melody is read relative to its own tonic as scale degrees of
   its own mode; degrees map one-to-one onto the brief's mode (degree 3 stays degree 3), so a
   major tune teaches a minor piece its contour. Pitch: P(step | degree, previous step), an
   order-2 chain over diatonic steps, with back-off to P(step | degree), P(step) and a built-in
   prior (mostly steps, some thirds, few leaps). Rhythm: each exemplar's whole bars in the
   piece's meter, in order, so that a phrase can take an exemplar's phrase rhythm whole; and
   P(pattern | previous pattern) with back-off to pattern frequency and a built-in list of
   common rhythms per meter, for cadence bars and for exemplars in another meter. With no
   exemplars the priors alone compose. Each exemplar counts by its retrieval score (``exemplar_weights``), every
   tune scaled to the same number of notes, so the best match leads instead of k tunes
   blurring into an average.
2. Form and harmony first (form.py): an intro and whole 4-bar phrases (AABA, ABACA, ...),
   each section playing its style's progression (styles.py) with the style's cadences.
3. Melody against them. Each section has its rhythm: where an exemplar is in the piece's
   meter, four consecutive bars of one exemplar (a phrase of it, with its own repeated bars,
   chosen by weight, density and the note-length vocabulary; the cadence bar redrawn if it
   does not close); otherwise a motif, its opening bar's rhythm and a second one, which come
   back in a fixed order (m1 m2 m1 cadence). Either way the piece keeps a small vocabulary of
   note lengths, and a section heard before comes back in its rhythm (in some styles with
   its third beat anticipated). The rhythms are rhythm.py's; the pitches are chosen here.
   Each section's line follows a shape drawn once for it (an arch, a fall from high, a
   wave: ``_CONTOURS``). A bar that brings the opening
   rhythm back may bring its contour back from another degree (a sequence). Strong beats
   lean on the chord sounding there; up-down wobbles are rarer than chance. A repeated
   section comes back varied (A, A'): its first half is copied, its second half goes on anew
   to its own cadence. The finished line goes through finish.py: held notes that rub are
   settled, and the style's blue thirds and approach notes are added.
4. The arrangement (arrange.py): the style's comping, bass and drum figures, changing at
   every phrase, fills into each, the style's ending; every part inside its instrument.

Knobs (``Feedback.adjustments``; defaults from the brief, see ``default_knobs``):

- ``density`` 0..1: how many notes a bar holds (0 about a note per beat with some longer ones,
  1 running eighths and sixteenths).
- ``pitch_span`` 5..30: width in semitones of the window the melody moves in.
- ``step_bias`` 0..1: 0.5 follows the statistics; higher prefers steps, lower prefers leaps.
- ``chromatic`` 0..0.5: chance of a chromatic leading note before a note a tone above
  (it also governs the raised 7th before the tonic in minor).
- ``rest_rate`` 0..0.5: chance of rests inside phrases, and (times 6) of a breath of two
  beats at a phrase end.
- ``pitch_classes`` 5..9: how many degrees of the mode the melody may use (5 pentatonic,
  6 hexatonic, 7 the whole mode; each class beyond 7 adds 0.03 to ``chromatic``).
- ``repetition`` 0..1: chance a bar repeats the rhythm of the bar before; below 0.5 a fresh
  bar also leans toward onsets unlike the bar before's, above it toward the same ones
  (groove consistency).
- ``balance`` 0..1.5: how strongly the melody favours the scale degrees it has used least so
  far (pitch-class entropy and the number of pitch classes rise with it; 0 follows the
  statistics alone).

Everything random comes from ``random.Random(seed)``: the same brief, exemplars, seed and
knobs give the same ABC.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import TypeVar

from engine.compose import finish, form
from engine.compose.abc import (
    MODE_STEPS,
    melody_notes,
    pitch_class,
    read_tune,
    tonic_and_mode,
)
from engine.compose.background import background_for
from engine.compose.instruments import instrument
from engine.compose.rhythm import BREATH, Meter, Rhythms, pick
from engine.compose.styles import MAJOR_LIKE, style_for
from engine.compose.write import program as _program
from engine.compose.write import write_abc
from engine.types import Draft, Exemplar, Feedback, MusicBrief

T = TypeVar("T")

MAX_COPIED_NOTES = 8  # a longer run shared with an exemplar makes the phrase be re-sampled
_RESAMPLE_TRIES = 6
# Retrieval scores of the k exemplars usually lie within a few hundredths of each other: an
# exemplar 0.01 below the best counts e^-1 (about a third) as much.
SCORE_TEMPERATURE = 0.01
_CHROMATIC_PER_CLASS = 0.03  # chromatic chance added per pitch class asked beyond seven
# At most this share of a phrase's notes is altered: 95% of corpus tunes keep at least 95% of
# their notes in one scale (scale_consistency), however many pitch classes they use.
_MAX_CHROMATIC_SHARE = 0.06
_FLAT_SEVENTH = frozenset({"mixolydian", "dorian"})  # modes whose flat seventh is their colour
_MIN_WINDOW = 9.0  # semitones: the least room a melody is given inside its instrument
_SEQUENCE_RATE = 0.6  # a bar with the opening rhythm takes its contour too
# The shapes a phrase's line follows (x from 0 to 1 over the phrase, in units of the arch's
# height) and how often each is drawn. One arch for every phrase made each one climb from
# the bottom of the range (on average 0.22 of a phrase's span in its first eighth, 0.69 at
# its middle); the exemplars' phrases start in the middle (0.52) and fall in their last
# quarter (0.41). Mixed, these shapes average to that.
_CONTOURS: dict[str, tuple[Callable[[float], float], float]] = {
    "arch": (lambda x: math.sin(math.pi * x) - 0.5, 0.4),  # up, then down to the cadence
    "fall": (lambda x: 0.4 - 0.8 * x, 0.4),  # from high, down by steps
    "wave": (lambda x: 0.3 * math.cos(2 * math.pi * x) - 0.1, 0.2),  # down, then back up
}
# The contours' height, as a share of the melody's window: most of it, so the melody reaches
# its range in one phrase.
_CONTOUR_HEIGHT = 0.75
_CHORD_TONE, _NON_CHORD_TONE = 1.8, 0.6  # weights of strong-beat notes in / out of the chord
_ZIGZAG = 0.6
# A note on a beat, or held a beat or longer, a semitone from a tone of the chord sounding
# (F held over C-E-G) counts this much: a sour note unless it resolves, as an appoggiatura
# does, by step to a chord tone (``finish.settle`` moves those that do not). Held notes rubbing
# so were 5-15% of the melody's time in every style; now 1-4%, all resolving (Bach's
# chorales: 1.2%). Forbidding every rub (0.05, no appoggiaturas) left the classifier where
# it was too (65 style briefs, 4 seeds x 3 corpus draws: 0.744 and 0.743).
_CLASH = 0.3
# A third note in a row on one pitch counts this much (corpus tunes: 5% of interval pairs are
# two repeats; a stronger penalty left the melody 1%).
_REPEAT_AGAIN = 0.7
# Back-off of the step model: a context seen n times counts n / (n + this) of what is left.
_SMOOTHING = 1.0
# Share of the step statistics that real tunes of the piece's mode bring (background.py): the
# exemplars' thin counts smoothed toward the corpus' habits. Two seed sets of the 65 style
# briefs: classifier against the corpus 0.748/0.737 -> 0.737/0.723 (interval n-grams alone,
# pooled: 0.81/0.82 -> 0.78/0.75). A background of all modes, mapped onto the piece's, made it
# worse (0.76): minor tunes do not step as major ones do.
BACKGROUND_SHARE = 0.5
_BREATH_RATE = 6.0  # chance of a breath at a phrase end, per unit of rest_rate

KNOB_RANGES: dict[str, tuple[float, float]] = {
    "density": (0.0, 1.0),
    "pitch_span": (5.0, 30.0),
    "step_bias": (0.0, 1.0),
    "chromatic": (0.0, 0.5),
    "rest_rate": (0.0, 0.5),
    "pitch_classes": (5.0, 9.0),  # fewer than a pentatonic scale is a bugle call
    "repetition": (0.0, 1.0),
    "balance": (0.0, 1.5),
}

# Prior step distribution (diatonic steps): mostly steps and repeats, some thirds, few leaps.
_PRIOR_STEPS = {0: 0.13, 1: 0.22, -1: 0.26, 2: 0.08, -2: 0.09, 3: 0.035, -3: 0.035, 4: 0.03, -4: 0.025, 5: 0.01, -5: 0.01, 7: 0.01, -7: 0.01}  # fmt: skip


def clamp_knob(name: str, value: float) -> float:
    lo, hi = KNOB_RANGES[name]
    return float(min(max(value, lo), hi))


def default_knobs(brief: MusicBrief) -> dict[str, float]:
    """Knob values for a brief before any feedback."""
    return {
        "density": clamp_knob("density", brief.density),
        "pitch_span": 18.0 + 6.0 * (clamp_knob("density", brief.density) - 0.5),
        "step_bias": 0.5,
        "chromatic": 0.02,
        "rest_rate": 0.015,
        "pitch_classes": 7.0,
        "repetition": 0.15,
        "balance": 0.6,
    }


def knobs_for(brief: MusicBrief, feedback: Feedback | None) -> dict[str, float]:
    """Defaults overridden by the feedback's known, finite adjustments (clamped)."""
    knobs = default_knobs(brief)
    if feedback is not None:
        for name, value in feedback.adjustments.items():
            if name in KNOB_RANGES and isinstance(value, (int, float)) and math.isfinite(value):
                knobs[name] = clamp_knob(name, float(value))
    return knobs


# --- statistics -------------------------------------------------------------------------


@dataclass
class Model:
    """Counts learnt from exemplars (empty with none)."""

    steps3: dict[tuple[int, int], Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    steps2: dict[int, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    steps1: Counter[int] = field(default_factory=Counter)
    rhythm2: dict[tuple[int, ...], Counter[tuple[int, ...]]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    rhythm1: Counter[tuple[int, ...]] = field(default_factory=Counter)
    # Each exemplar's bar rhythms in order (None for a bar that is not a whole bar of the
    # piece's meter: a pickup, a bar split by a repeat), with the exemplar's weight.
    lines: list[tuple[float, list[tuple[int, ...] | None]]] = field(default_factory=list)
    tokens: list[list[tuple[int, float]]] = field(default_factory=list)  # for copy checks

    def step_probs(self, degree: int, prev_step: int) -> dict[int, float]:
        """Interpolated P(step | degree mod 7, previous step) with back-off to the prior."""
        probs = dict.fromkeys(range(-7, 8), 0.0)
        rest = 1.0
        for counter in (
            self.steps3.get((degree % 7, prev_step)),
            self.steps2.get(degree % 7),
            self.steps1,
        ):
            if not counter:
                continue
            total = sum(counter.values())
            lam = rest * total / (total + _SMOOTHING)
            for s, c in counter.items():
                probs[s] += lam * c / total
            rest -= lam
        for s, p in _PRIOR_STEPS.items():
            probs[s] += rest * p
        return probs


def with_background(model: Model, mode: str, share: float = BACKGROUND_SHARE) -> Model:
    """The exemplars' step statistics smoothed with the corpus' for ``mode`` (background.py):
    the background counts ``share`` of the total, context by context as often as real tunes
    of the mode meet that context. The rhythm, lines and copy tokens stay the exemplars'. A
    model without step counts (no exemplars) is returned as it is: the prior composes."""
    bg = background_for(mode)
    total = sum(model.steps1.values())
    if bg is None or not total or not 0.0 < share < 1.0:
        return model
    scale = total * share / (1.0 - share)
    out = Model(
        rhythm2=model.rhythm2,
        rhythm1=model.rhythm1,
        lines=model.lines,
        tokens=model.tokens,
    )
    _add(out.steps1, model.steps1, 1.0)
    _add(out.steps1, Counter(bg.steps1), scale)
    for key, counter in model.steps2.items():
        _add(out.steps2[key], counter, 1.0)
    for key, freqs in bg.steps2.items():
        _add(out.steps2[key], Counter(freqs), scale)
    for key3, counter in model.steps3.items():
        _add(out.steps3[key3], counter, 1.0)
    for key3, freqs in bg.steps3.items():
        _add(out.steps3[key3], Counter(freqs), scale)
    return out


def exemplar_weights(exemplars: list[Exemplar]) -> list[float]:
    """How much each exemplar's statistics count: exp((score - best score) / SCORE_TEMPERATURE),
    1 for the best match. Pooling k tunes equally blurs them into an average that none of them
    is; weighting by the retrieval score keeps the best match in the lead and the others as
    variation around it."""
    scores = [
        e.score if isinstance(e.score, (int, float)) and math.isfinite(e.score) else 0.0
        for e in exemplars
    ]
    if not scores:
        return []
    best = max(scores)
    return [math.exp(max(-50.0, (s - best) / SCORE_TEMPERATURE)) for s in scores]


def learn(exemplars: list[Exemplar], meter: Meter) -> tuple[Model, list[str]]:
    """Statistics of the exemplars' melodies, each exemplar weighted by ``exemplar_weights``
    and scaled to the same number of notes (a long reel must not outweigh a short song);
    notes say which exemplars could not be used.

    Cached: every refinement round of a piece learns from the same exemplars (~3 ms a
    round). The Model is shared between them: read it, never change it."""
    model, notes = _learnt(tuple(astuple(ex) for ex in exemplars), meter)
    return model, list(notes)


@lru_cache(maxsize=8)
def _learnt(
    exemplars: tuple[tuple[object, ...], ...], meter: Meter
) -> tuple[Model, tuple[str, ...]]:
    model, notes = _learn([Exemplar(*fields) for fields in exemplars], meter)  # type: ignore[arg-type]
    return model, tuple(notes)


def _learn(exemplars: list[Exemplar], meter: Meter) -> tuple[Model, list[str]]:
    model, notes = Model(), []
    parts: list[tuple[float, Model]] = []
    for ex, weight in zip(exemplars, exemplar_weights(exemplars), strict=True):
        try:
            tune = read_tune(ex.abc)
        except (ValueError, KeyError, IndexError, ZeroDivisionError):
            notes.append(f"could not read exemplar {ex.id}")
            continue
        voice = next((v for v in tune.voices.values() if v.notes()), None)
        if voice is None:
            notes.append(f"exemplar {ex.id} has no melody")
            continue
        one = Model()
        tonic, mode = tonic_and_mode(tune.headers.get("K", f"{ex.key}"))
        t = pitch_class(tonic)
        steps = _fitting_steps(
            [p - t for p, _ in voice.notes()], MODE_STEPS.get(mode, MODE_STEPS["major"])
        )
        prev_deg: int | None = None
        prev_step = 0
        for pitch, _ in voice.notes():
            rel = (pitch - t) % 12
            if rel in steps:
                deg = ((pitch - t) // 12) * 7 + steps.index(rel)
            else:
                deg = _altered_degree(pitch - t, steps, prev_deg)
            if prev_deg is not None:
                step = max(-7, min(7, deg - prev_deg))
                one.steps3[(prev_deg % 7, prev_step)][step] += 1
                one.steps2[prev_deg % 7][step] += 1
                one.steps1[step] += 1
                prev_step = step
            prev_deg = deg
        model.tokens.append(_tokens(voice.notes()))
        if voice.meter * 16 == meter.bar_len:
            prev_pat: tuple[int, ...] | None = None
            line: list[tuple[int, ...] | None] = []
            for bar in voice.bars:
                lengths = [e.length * 16 for e in bar]
                if sum(lengths) != meter.bar_len or any(x.denominator != 1 for x in lengths):
                    prev_pat = None
                    line.append(None)
                    continue
                pat = tuple(int(x) for x in lengths)
                line.append(pat)
                one.rhythm1[pat] += 1
                if prev_pat is not None:
                    one.rhythm2[prev_pat][pat] += 1
                prev_pat = pat
            if any(line) and _compound(tune.headers.get("M", ex.meter)) == meter.compound:
                model.lines.append((weight, line))  # a jig's bars make no waltz phrase
        parts.append((weight, one))
    if parts:
        # Each tune scaled to the mean length, times its weight: the totals (which set how
        # far the statistics override the prior) stay those of an average exemplar.
        mean_steps = sum(sum(m.steps1.values()) for _, m in parts) / len(parts)
        mean_bars = sum(sum(m.rhythm1.values()) for _, m in parts) / len(parts)
        for weight, one in parts:
            ws = weight * mean_steps / max(1, sum(one.steps1.values()))
            wr = weight * mean_bars / max(1, sum(one.rhythm1.values()))
            _add(model.steps1, one.steps1, ws)
            for key, counter in one.steps2.items():
                _add(model.steps2[key], counter, ws)
            for key3, counter in one.steps3.items():
                _add(model.steps3[key3], counter, ws)
            _add(model.rhythm1, one.rhythm1, wr)
            for pat, counter in one.rhythm2.items():
                _add(model.rhythm2[pat], counter, wr)
    return model, notes


def _compound(text: str) -> bool | None:
    try:
        return Meter.parse(text).compound
    except (ValueError, ZeroDivisionError):
        return None


def _fitting_steps(rels: list[int], steps: tuple[int, ...]) -> tuple[int, ...]:
    """The mode on the tune's tonic that holds most of its notes (``rels``: semitones above the
    tonic), the header's one unless another holds more: a tune written as D major that
    sounds C naturals throughout is D mixolydian, and read as major its C-D steps would be
    lost."""
    pcs = [r % 12 for r in rels]
    best = max(MODE_STEPS.values(), key=lambda st: sum(p in st for p in pcs))
    return best if sum(p in best for p in pcs) > sum(p in steps for p in pcs) else steps


def _altered_degree(rel: int, steps: tuple[int, ...], prev: int | None) -> int:
    """The scale degree an altered note (``rel`` semitones above the tonic) stands for: the
    degree a semitone below it (a raised note, as a minor tune's leading note), else the one a
    semitone above, but never the degree of the note before it: A G# A in A minor is a step
    down and up, not a repeated note (leaving G# out, as before, made it one)."""
    octave, pc = divmod(rel, 12)
    options = []
    for shift in (-1, 1):
        q = pc + shift
        if q % 12 in steps:
            options.append((octave + q // 12) * 7 + steps.index(q % 12))
    return next((d for d in options if d != prev), options[0])


def _add(into: Counter[T], counts: Counter[T], weight: float) -> None:
    for key, c in counts.items():
        into[key] += c * weight


# --- copy detection ---------------------------------------------------------------------


def _tokens(notes: list[tuple[int, Fraction]] | list[tuple[int, int]]) -> list[tuple[int, float]]:
    """(interval, duration ratio) between consecutive notes: invariant to key and tempo."""
    return [
        (b[0] - a[0], round(float(b[1]) / float(a[1]), 3) if a[1] else 0.0)
        for a, b in zip(notes, notes[1:], strict=False)
    ]


def _longest_shared(ours: list[tuple[int, float]], theirs: list[list[tuple[int, float]]]) -> int:
    """Longest run of tokens of ``ours`` that also occurs in one of ``theirs`` (binary search)."""

    def shared(n: int) -> bool:
        grams = {tuple(seq[i : i + n]) for seq in theirs for i in range(len(seq) - n + 1)}
        return any(tuple(ours[i : i + n]) in grams for i in range(len(ours) - n + 1))

    lo, hi = 0, len(ours)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if shared(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def longest_copied_run(abc: str, exemplars: list[Exemplar]) -> int:
    """Longest run of consecutive melody notes (same intervals and rhythm) shared with any
    exemplar, in notes. 0 when either side has no notes."""
    ours = melody_notes(abc)
    theirs = [_tokens(melody_notes(ex.abc)) for ex in exemplars]
    theirs = [t for t in theirs if t]
    if len(ours) < 2 or not theirs:
        return 1 if ours and theirs else 0
    return _longest_shared(_tokens(ours), theirs) + 1


# --- the composer -----------------------------------------------------------------------

Note = finish.Note


class MarkovComposer:
    """Scale-degree Markov melody + diatonic harmony. See the module docstring."""

    name = "markov"

    def compose(
        self,
        brief: MusicBrief,
        exemplars: list[Exemplar],
        seed: int,
        feedback: Feedback | None = None,
    ) -> Draft:
        return _Piece(brief, exemplars, seed, knobs_for(brief, feedback)).write()


class _Piece:
    """One composition: holds the brief, the knobs and the random generator while writing."""

    def __init__(
        self, brief: MusicBrief, exemplars: list[Exemplar], seed: int, knobs: dict[str, float]
    ) -> None:
        self.notes: list[str] = []
        self.rng = random.Random(seed)
        self.seed = seed
        self.knobs = knobs
        self.brief = brief
        try:
            self.tonic, self.mode = _checked_key(brief.key, brief.mode)
        except ValueError:
            self.notes.append(f"unknown key {brief.key!r} {brief.mode!r}, used C major")
            self.tonic, self.mode = "C", "major"
        try:
            self.meter = Meter.parse(brief.meter)
        except ValueError:
            self.notes.append(f"unsupported meter {brief.meter!r}, used 4/4")
            self.meter = Meter.parse("4/4")
        self.tempo = int(min(max(brief.tempo, 30), 240))
        model, learn_notes = learn(exemplars, self.meter)
        self.notes += learn_notes
        self.model = with_background(model, self.mode)
        self.steps = MODE_STEPS[self.mode]
        self.instrument = instrument(_program(brief.melody_program))
        register = int(min(max(brief.register, 55), 84)) + self.instrument.lift
        t = pitch_class(self.tonic)
        self.register = register
        self.tonic_ref = register - ((register - t) % 12)  # degree 0 at or just below the register
        # Folk tunes differ in compass: the window varies around the knob from seed to seed.
        span = min(max(knobs["pitch_span"] + self.rng.gauss(0.0, 3.5), 7.0), 30.0)
        self.lo, self.hi = register - span * 0.5, register + span * 0.5
        repetition = min(max(knobs["repetition"] + self.rng.uniform(-0.3, 0.3), 0.0), 1.0)
        self.allowed = _allowed_degrees(
            self.mode,
            round(knobs["pitch_classes"]),
            {d: sum(self.model.steps2.get(d, Counter()).values()) for d in range(7)},
        )
        self.used: Counter[int] = Counter()  # degrees (mod 7) of the melody written so far
        self.style = style_for(brief.genre)
        self.rhythms = Rhythms(
            self.meter,
            self.rng,
            self.model.rhythm1,
            self.model.rhythm2,
            self.model.lines,
            knobs["density"],
            repetition,
            self.style.anticipation,
            swung=self.style.swing > 1.0,
            shortest=self.style.shortest,
        )
        # The melody's window stays inside what its instrument can play: cut at the
        # instrument's edges (so the picture's register still places the tune), and moved only
        # where too little of it is left.
        low, high = self.instrument.low + 1.0, self.instrument.high - 1.0
        self.lo, self.hi = max(self.lo, low), min(self.hi, high)
        if self.hi - self.lo < _MIN_WINDOW:
            centre = min(max(self.register, low + _MIN_WINDOW / 2), high - _MIN_WINDOW / 2)
            self.lo, self.hi = centre - _MIN_WINDOW / 2, centre + _MIN_WINDOW / 2
        self.register = int(round(min(max(self.register, self.lo + 2), self.hi - 2)))
        # Where the harmony must be heard in the melody: the bar's main beats (1 and 3 of a
        # 4/4 bar, 1 of a 3/4 one); between them the line moves freely by step.
        bar_len, beat = self.meter.bar_len, self.meter.beat
        self._strong = {16: 8, 12: beat if self.meter.compound else 12}.get(bar_len, beat)
        self.contours: dict[str, str] = {}  # each section's line shape (_CONTOURS)
        self.harmony: list[list[form.Span]] = []

    # -- pitch helpers

    def pitch(self, degree: int) -> int:
        return self.tonic_ref + 12 * (degree // 7) + self.steps[degree % 7]

    def nearest_degree(self, pitch: float, classes: tuple[int, ...]) -> int:
        best = min(
            (
                d
                for d in range(-21, 29)
                if d % 7 in classes and self.lo - 2 <= self.pitch(d) <= self.hi + 2
            ),
            key=lambda d: abs(self.pitch(d) - pitch),
            default=None,
        )
        if best is None:
            best = min(
                (d for d in range(-21, 29) if d % 7 in classes),
                key=lambda d: abs(self.pitch(d) - pitch),
            )
        return best

    def _lands(self, onset: int, length: int) -> int:
        """Where a note counts for the harmony (a syncopation, ``_push``, at the beat it
        anticipates: ``finish.lands``)."""
        return finish.lands(onset, length, self.meter.beat, self._strong)

    def setting(self) -> finish.Setting:
        """The piece as the finishing passes see it (finish.py)."""
        return finish.Setting(
            harmony=self.harmony,
            beat=self.meter.beat,
            strong=self._strong,
            tonic=self.tonic_ref,
            steps=tuple(self.steps),
            major_third=self.mode in MAJOR_LIKE,
            blue=self.style.blue,
            approach=self.style.approach,
            seed=self.seed,
        )

    # -- melody

    def phrase(
        self,
        rhythms: list[tuple[int, ...]],
        bar0: int,
        cadence: str,
        shift: float,
        start_degree: int,
        start_step: int,
        arc: tuple[float, float] = (0.0, 1.0),
        contour: str = "arch",
    ) -> list[list[Note]]:
        """Melody on the given bar rhythms (the piece's bars ``bar0``...), along one of the
        _CONTOURS; ``arc`` is the part of the phrase's contour these bars cover (the second
        half of a varied repeat covers (0.5, 1)). Strong beats lean on the chord sounding there; a bar
        that brings the opening rhythm back may bring its contour back too, from another
        degree (a sequence)."""
        n_bars = len(rhythms)
        total = sum(len(r) for r in rhythms)
        span = self.hi - self.lo
        amp, sigma = span * _CONTOUR_HEIGHT, max(2.5, span * 0.3)
        shape = _CONTOURS[contour][0]
        deg, prev_step = start_degree, start_step
        k = 0
        bars: list[list[Note]] = []
        cadence_classes = self._cadence_classes(cadence, bar0 + n_bars - 1)
        used = Counter(self.used)
        motif: list[int] = []  # the steps of the phrase's first bar
        for b, pat in enumerate(rhythms):
            bar: list[Note] = []
            onset = 0
            spans = self.harmony[bar0 + b] if bar0 + b < len(self.harmony) else None
            sequence = b > 0 and pat == rhythms[0] and self.rng.random() < _SEQUENCE_RATE
            for i, length in enumerate(pat):
                x = arc[0] + (arc[1] - arc[0]) * k / max(1, total - 1)
                target = self.register + shift + amp * shape(x)
                lands = self._lands(onset, length)
                chord = form.chord_at(spans, lands) if spans else None
                strong = lands % self._strong == 0
                held = onset % self.meter.beat == 0 or length >= self.meter.beat
                heard = chord.pcs if chord is not None and held else None
                repeat = deg + motif[i - 1] if sequence and 0 < i <= len(motif) else None
                if k == total - 1:
                    deg_new = self._cadence_degree(deg, cadence_classes)
                elif k == 0 and start_step == 99:
                    deg_new = deg  # the very first note, chosen by the caller
                elif repeat is not None and self._fits(repeat, chord, strong, held):
                    deg_new = repeat
                else:
                    deg_new = self._next_degree(
                        deg,
                        prev_step,
                        target,
                        sigma,
                        onset,
                        total - 1 - k,
                        cadence_classes,
                        used,
                        chord.pcs if chord is not None and strong else None,
                        heard,
                    )
                if b == 0 and i > 0:
                    motif.append(deg_new - deg)
                prev_step = 0 if start_step == 99 and k == 0 else max(-7, min(7, deg_new - deg))
                deg = deg_new
                used[deg % 7] += 1
                bar.append((self.pitch(deg), length))
                onset += length
                k += 1
            bars.append(bar)
        self.end_degree, self.end_step = deg, prev_step
        return bars

    def _fits(
        self, degree: int, chord: form.Chord | None, strong: bool, held: bool = False
    ) -> bool:
        """Can a sequence put this degree here: allowed, in the window, a chord tone on a
        strong beat."""
        pitch = self.pitch(degree)
        if degree % 7 not in self.allowed or not self.lo - 1 <= pitch <= self.hi + 1:
            return False
        if chord is not None and held and finish.clashes(pitch, chord.pcs):
            return False
        return not (strong and chord is not None and pitch % 12 not in chord.pcs)

    def _cadence_classes(self, cadence: str, bar: int) -> tuple[int, ...]:
        """Degrees the phrase may end on: the tonic, or on a half cadence a tone of the chord
        that ends the phrase (the fifth or second degree, over V, where it has them)."""
        if cadence in ("final", "tonic"):
            return (0,)
        pick = self.rng.random()
        if not self.harmony or bar >= len(self.harmony):
            return (4,) if pick < 0.7 else (1,)
        pcs = self.harmony[bar][-1].chord.pcs
        tones = [d for d in range(7) if (self.tonic_ref + self.steps[d]) % 12 in pcs]
        preferred = [d for d in (4, 1) if d in tones]
        if preferred:
            return (preferred[0],) if pick < 0.7 or len(preferred) == 1 else (preferred[1],)
        return tuple(d for d in tones if d in self.allowed) or (4,)

    def _cadence_degree(self, deg: int, classes: tuple[int, ...]) -> int:
        options = [d for d in range(deg - 7, deg + 8) if d % 7 in classes]
        in_range = [d for d in options if self.lo - 1 <= self.pitch(d) <= self.hi + 1] or options
        return min(in_range, key=lambda d: (abs(d - deg), d))

    def _next_degree(
        self,
        deg: int,
        prev_step: int,
        target: float,
        sigma: float,
        onset: int,
        left: int,
        cadence_classes: tuple[int, ...],
        used: Counter[int] | None = None,
        chord_pcs: tuple[int, ...] | None = None,
        heard_pcs: tuple[int, ...] | None = None,
    ) -> int:
        """The next scale degree. ``used``: how often each degree (mod 7) has sounded so far;
        the ``balance`` knob favours the ones heard least."""
        probs = self.model.step_probs(deg, prev_step)
        bias = self.knobs["step_bias"]
        balance = self.knobs["balance"]
        fair = (sum(used.values()) / len(self.allowed) + 1.0) if used else 0.0
        weighted = []
        for step, p in probs.items():
            if p <= 0:
                continue
            new = deg + step
            if new % 7 not in self.allowed:
                continue
            pitch = self.pitch(new)
            if not self.lo <= pitch <= self.hi:
                continue
            w = p * ((0.5 + bias) if abs(step) <= 1 else (1.5 - bias))
            w *= math.exp(-0.5 * ((pitch - target) / sigma) ** 2)
            if onset == 0 and new % 7 in (0, 2, 4):
                w *= 1.15  # downbeats lean on the tonic triad
            if step == 0:
                w *= 1.0 if prev_step else _REPEAT_AGAIN  # fewer strings of one note
            if chord_pcs is not None:
                w *= _CHORD_TONE if pitch % 12 in chord_pcs else _NON_CHORD_TONE
            if heard_pcs is not None and finish.clashes(pitch, heard_pcs):
                w *= _CLASH
            if step * prev_step < 0 and abs(step) <= 2 and abs(prev_step) <= 2:
                w *= _ZIGZAG  # up-down-up wobbles: fewer than chance, as in the corpus
            if used and balance > 0:
                w *= (fair / (used[new % 7] + 1.0)) ** balance
            if left <= 2:
                goal = min(
                    (d for d in range(new - 7, new + 8) if d % 7 in cadence_classes),
                    key=lambda d: abs(d - new),
                )
                if left == 1:
                    # The note before the cadence note approaches it by step (re-do, ti-do),
                    # rather than sounding it early and repeating it.
                    w *= math.exp(-abs(abs(goal - new) - 1)) * (0.35 if goal == new else 1.0)
                else:
                    w *= math.exp(-abs(goal - new) / 2.0)
            weighted.append((new, w))
        if not weighted:
            return self.nearest_degree(target, self.allowed)
        return pick(self.rng, weighted)

    def ornament(
        self, bars: list[list[Note]], final: bool, breath: bool = False
    ) -> list[list[Note]]:
        """Chromatic leading notes and rests, applied to a finished phrase."""
        rest_rate = self.knobs["rest_rate"]
        # Past the mode's seven classes, every further class asked for is a chromatic chance.
        extra = max(0.0, self.knobs["pitch_classes"] - 7.0)
        chromatic = min(0.5, self.knobs["chromatic"] + _CHROMATIC_PER_CLASS * extra)
        minor_lead = (
            min(0.9, 20 * chromatic) if self.mode in ("minor", "dorian", "phrygian") else 0.0
        )
        flat = [(b, i) for b, bar in enumerate(bars) for i in range(len(bar))]
        out = [list(bar) for bar in bars]
        room = max(1, round(_MAX_CHROMATIC_SHARE * len(flat)))  # chromatic notes left
        # A mixolydian or dorian tune keeps its flat seventh, the mode's colour (a blues, a
        # modal folk tune): no raise makes it a leading note. Decided after the draws, so
        # the rest of the phrase is the same.
        seventh = (self.tonic_ref - 2) % 12 if self.mode in _FLAT_SEVENTH else None
        for j, (b, i) in enumerate(flat[:-1]):
            pitch, length = out[b][i]
            nb, ni = flat[j + 1]
            nxt = out[nb][ni][0]
            if pitch is None or nxt is None:
                continue
            if (
                room > 0
                and nxt - pitch == 2
                and (nxt - self.tonic_ref) % 12 == 0
                and self.rng.random() < minor_lead
            ):
                if pitch % 12 != seventh:
                    out[b][i] = (pitch + 1, length)  # raised 7th before the tonic
                    room -= 1
            elif room > 0 and nxt - pitch == 2 and i > 0 and self.rng.random() < chromatic:
                if pitch % 12 != seventh:
                    out[b][i] = (pitch + 1, length)
                    room -= 1
            elif j > 0 and length >= 4 and i > 0 and self.rng.random() < rest_rate:
                out[b][i] = (None, length)
        # A breath after a phrase: a rest of two beats closes the bar (a silent beat, as
        # empty_beat_rate counts one: a shorter rest touches the notes on either side), or
        # the cadence note keeps one beat where the bar has no room for that.
        last_pitch, last_len = out[-1][-1]
        beat = self.meter.beat
        if breath and not final and last_pitch is not None:
            if last_len >= BREATH + 4:
                out[-1][-1:] = [(last_pitch, last_len - BREATH), (None, BREATH)]
            elif last_len > beat:
                out[-1][-1:] = [(last_pitch, beat), (None, last_len - beat)]
        return out

    # -- the whole piece

    def write(self) -> Draft:
        meter = self.meter
        sections, _ = form.plan_sections(
            self.brief.duration,
            self.tempo,
            meter.quarters,
            self.style,
            self.brief.continues,
        )
        self.sections = sections
        self.harmony = form.plan_harmony(
            sections, self.style, pitch_class(self.tonic), self.mode, meter.bar_len, self.rng
        )
        made: dict[str, tuple[list[list[Note]], str]] = {}
        melody: list[list[Note]] = []
        # The first note sits where the first phrase's contour starts, half as far out.
        first = next((s.letter for s in sections if s.letter != "intro"), "A")
        start = 0.5 * _CONTOUR_HEIGHT * (self.hi - self.lo) * _CONTOURS[self.contour(first)][0](0.0)
        deg = self.nearest_degree(self.register + start, (0, 2, 4))
        step = 99  # the first note of the piece is given
        for section in sections:
            if section.letter == "intro":
                melody += [[(None, meter.bar_len)] for _ in range(section.bars)]
                continue
            letter, length, cadence, bar0 = (
                section.letter,
                section.bars,
                section.cadence,
                section.start,
            )
            shift = 0.0 if letter == "A" else self.rng.uniform(0.0, 0.18) * (self.hi - self.lo)
            if letter in made and len(made[letter][0]) == length:
                bars, made_cadence = made[letter]
                if length >= 2:
                    bars = self._varied_repeat(bars, letter, bar0, cadence, shift)
                elif made_cadence != cadence:
                    bars = bars[:-1] + self._recadence(bars, cadence, bar0)
            else:
                bars = self._fresh_phrase(letter, length, bar0, cadence, shift, deg, step)
                made.setdefault(letter, (bars, cadence))
            melody += bars
            for pitch in (p for bar in bars for p, _ in bar if p is not None):
                rel = (pitch - self.tonic_ref) % 12
                if rel in self.steps:
                    self.used[self.steps.index(rel)] += 1
            last = next(p for p in reversed([p for bar in bars for p, _ in bar]) if p is not None)
            deg = self.nearest_degree(last, tuple(range(7)))
            step = 0
        setting = self.setting()
        melody = finish.approach(setting, finish.blue(setting, finish.settle(setting, melody)))
        melody = [
            [(self.instrument.fit(p) if p is not None else None, n) for p, n in bar]
            for bar in melody
        ]
        return Draft(abc=self.render(melody), notes=self.notes)

    def _varied_repeat(
        self, bars: list[list[Note]], letter: str, bar0: int, cadence: str, shift: float
    ) -> list[list[Note]]:
        """A repeated phrase as folk tunes vary it (A, A'): the first half comes back, the
        second half goes on anew to the cadence. A whole-phrase copy would halve the piece's
        fresh material, and with it the pitches it uses."""
        keep = len(bars) // 2
        head = [list(bar) for bar in bars[:keep]]
        played = [p for bar in head for p, _ in bar if p is not None]
        last = played[-1] if played else self.register
        deg = self.nearest_degree(last, tuple(range(7)))
        prev = [p for p in played[-2:]]
        step = 0
        if len(prev) == 2:
            step = max(-7, min(7, deg - self.nearest_degree(prev[0], tuple(range(7)))))
        tail = self._fresh_phrase(
            letter,
            len(bars),
            bar0,
            cadence,
            shift,
            deg,
            step,
            keep=keep,
        )
        return head + tail

    def _fresh_phrase(
        self,
        letter: str,
        length: int,
        bar0: int,
        cadence: str,
        shift: float,
        deg: int,
        step: int,
        keep: int = 0,
    ) -> list[list[Note]]:
        """A phrase of ``length`` bars from its section's motif; ``keep``: the first bars
        are already written (a varied repeat), compose the rest."""
        best: tuple[int, list[list[Note]]] | None = None
        knobs = self.knobs
        final = cadence == "final"
        breath = not final and self.rng.random() < min(1.0, knobs["rest_rate"] * _BREATH_RATE)
        rhythms = self.rhythms.phrase_rhythms(letter, length, cadence, breath)[keep:]
        arc = (keep / length, 1.0)
        contour = self.contour(letter)
        for _ in range(_RESAMPLE_TRIES):
            bars = self.phrase(rhythms, bar0 + keep, cadence, shift, deg, step, arc, contour)
            bars = self.ornament(bars, final, breath)
            copied = self._copied(bars)
            if best is None or copied < best[0]:
                best = (copied, bars)
            if copied <= MAX_COPIED_NOTES:
                break
            # Leaps break copied lines: lean a little more on them for the next try.
            self.knobs = {**self.knobs, "step_bias": max(0.0, self.knobs["step_bias"] - 0.1)}
        self.knobs = knobs
        assert best is not None
        if best[0] > MAX_COPIED_NOTES:
            self.notes.append(f"a phrase still shares {best[0]} notes in a row with an exemplar")
        return best[1]

    def contour(self, letter: str) -> str:
        """The line shape of a section: drawn once, so a section heard again keeps it."""
        if letter not in self.contours:
            names = list(_CONTOURS)
            self.contours[letter] = pick(self.rng, [(n, _CONTOURS[n][1]) for n in names])
        return self.contours[letter]

    def _copied(self, bars: list[list[Note]]) -> int:
        if not self.model.tokens:
            return 0
        notes = [(p, n) for bar in bars for p, n in bar if p is not None]
        if len(notes) < 2:
            return len(notes)
        return _longest_shared(_tokens(notes), self.model.tokens) + 1

    def _recadence(self, bars: list[list[Note]], cadence: str, bar0: int) -> list[list[Note]]:
        """A new last bar for a repeated phrase that must end differently."""
        before = [p for bar in bars[:-1] for p, _ in bar if p is not None]
        deg = self.nearest_degree(before[-1] if before else self.register, tuple(range(7)))
        step = 0
        pat = self.rhythms.cadence_bar(cadence)
        classes = self._cadence_classes(cadence, bar0 + len(bars) - 1)
        out: list[Note] = []
        onset = 0
        for k, length in enumerate(pat):
            if k == len(pat) - 1:
                new = self._cadence_degree(deg, classes)
            else:
                new = self._next_degree(
                    deg, step, self.register, 4.0, onset, len(pat) - 1 - k, classes
                )
            step, deg = max(-7, min(7, new - deg)), new
            out.append((self.pitch(deg), length))
            onset += length
        breath = cadence != "final" and self.rng.random() < min(
            1.0, self.knobs["rest_rate"] * _BREATH_RATE
        )
        return self.ornament([out], cadence == "final", breath)

    def render(self, melody: list[list[Note]]) -> str:
        """The piece as ABC (write.py): the melody, then the arrangement under it."""
        return write_abc(
            self.brief,
            self.tonic,
            self.mode,
            self.meter,
            self.tempo,
            self.register,
            melody,
            self.harmony,
            self.sections,
            self.notes,
        )


def _allowed_degrees(
    mode: str, n_classes: int, use: dict[int, float] | None = None
) -> tuple[int, ...]:
    """Degrees (0-based) the melody may use: five to seven (a pentatonic scale at the least;
    fewer is a bugle call). Five or six keep the tonic triad and drop the degrees the
    exemplars sound least (``use``: how often each degree sounds in them), so that the steps
    the statistics teach still land; without statistics the mode's tension degrees go first."""
    n_classes = max(5, n_classes)
    if n_classes >= 7:
        return tuple(range(7))
    if use and sum(use.values()) > 0:
        # Dropping fa and ti by rule left a major tune that leans on them leaping over gaps
        # its exemplars never leap (65 style briefs refined, 4 seed sets: classifier 0.78 -> 0.74).
        others = sorted((d for d in range(7) if d not in (0, 2, 4)), key=lambda d: (use[d], d))
        drop = set(others[: 7 - n_classes])
        return tuple(d for d in range(7) if d not in drop)
    # Major-like modes drop 4 and 7 first (major pentatonic), minor-like ones 2 and 6.
    order = (3, 6) if mode in ("major", "lydian", "mixolydian") else (1, 5)
    return tuple(d for d in range(7) if d not in order[: 7 - n_classes])


def _checked_key(key: str, mode: str) -> tuple[str, str]:
    if not isinstance(key, str) or not re.fullmatch(r"[A-G][#b]?", key.strip()):
        raise ValueError(f"bad key {key!r}")
    if mode not in MODE_STEPS:
        raise ValueError(f"bad mode {mode!r}")
    return key.strip(), mode
