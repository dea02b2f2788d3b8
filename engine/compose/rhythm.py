"""A melody's rhythm: the bars' note lengths, before any pitch is chosen (markov.py).

A piece keeps a small vocabulary of note lengths (MOTIF_VALUES), as a song does. Each section
takes its bars whole from a phrase of an exemplar in the piece's meter (``exemplar_rhythms``:
its own repeated bars and motifs, brought toward the density knob), or else builds them from a
motif, an opening bar and a second one coming back in a fixed order (``_motif_rhythms``);
either way the cadence bar closes the phrase, and in some styles the bars before it are
syncopated (``_push``); a style that swings plays a borrowed dotted pair as two eighths it
swings (``_swing``). Everything random comes from the piece's generator, shared with the
melody, so the same seed gives the same piece.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass
from typing import TypeVar

from engine.compose.abc import meter_fraction

T = TypeVar("T")

MOTIF_VALUES = 4  # distinct note lengths in a melody (corpus tunes: 3.5 on average)
BREATH = 8  # sixteenths of rest when a phrase breathes: two beats, so one of them is silent
# A borrowed phrase that starts where its exemplar's phrases start (every four bars from its
# first whole bar) counts this much more than one that starts mid-phrase.
_ALIGNED = 3.0
# A bar rhythm or borrowed phrase that would take the piece past MOTIF_VALUES note lengths
# counts this much: only where nothing else fits.
_OFF_VOCABULARY = 1e-4
# A borrowed bar holding k notes fewer (more) than the density knob asks divides (joins) each
# note with chance k / (this * the notes asked): gently, the exemplar's rhythm stays heard.
_DIVIDE = 2.0

# Common bar rhythms in sixteenths, by (bar length, compound).
_PRIOR_RHYTHMS: dict[tuple[int, bool], list[tuple[int, ...]]] = {
    (16, False): [(4, 4, 4, 4), (2, 2, 4, 4, 4), (4, 4, 2, 2, 4), (8, 4, 4), (4, 4, 8), (2, 2, 2, 2, 4, 4), (6, 2, 4, 4), (4, 2, 2, 4, 4), (2, 2, 2, 2, 2, 2, 4), (4, 2, 2, 2, 2, 4), (2, 2, 2, 2, 2, 2, 2, 2), (6, 2, 6, 2), (8, 8), (12, 4), (16,)],
    (12, False): [(4, 4, 4), (8, 4), (4, 8), (2, 2, 4, 4), (4, 2, 2, 4), (6, 2, 4), (2, 2, 2, 2, 4), (4, 4, 2, 2), (2, 2, 2, 2, 2, 2), (12,)],
    (8, False): [(4, 4), (2, 2, 4), (4, 2, 2), (2, 2, 2, 2), (8,), (3, 1, 4), (6, 2), (3, 1, 2, 2), (1, 1, 2, 4)],
    (12, True): [(6, 6), (4, 2, 6), (2, 2, 2, 6), (6, 4, 2), (2, 2, 2, 2, 2, 2), (4, 2, 4, 2), (6, 2, 2, 2), (4, 2, 2, 2, 2), (12,)],
    (6, True): [(2, 2, 2), (4, 2), (6,), (3, 1, 2), (2, 4)],
    (6, False): [(2, 2, 2), (4, 2), (6,), (3, 1, 2), (2, 4)],
}  # fmt: skip
_BEAT_RHYTHMS = {4: [(4,), (2, 2), (3, 1), (1, 1, 2)], 6: [(6,), (4, 2), (2, 2, 2), (3, 1, 2)]}


@dataclass(frozen=True)
class Meter:
    text: str
    bar_len: int  # sixteenths
    compound: bool
    quarters: float  # quarter notes per bar (tempo is in quarters per minute)

    @classmethod
    def parse(cls, text: str) -> Meter:
        frac = meter_fraction(text)
        bar_len = frac * 16
        if bar_len.denominator != 1 or not 2 <= bar_len <= 32:
            raise ValueError(f"unsupported meter {text!r}")
        num, _, den = text.partition("/")
        compound = (
            den.strip() == "8" and num.strip().isdigit() and int(num) % 3 == 0 and int(num) > 3
        )
        if text.strip() == "3/8":
            compound = True
        return cls(text.strip(), int(bar_len), compound, float(frac * 4))

    @property
    def beat(self) -> int:
        return 6 if self.compound else 4


def prior_rhythms(meter: Meter) -> list[tuple[int, ...]]:
    known = _PRIOR_RHYTHMS.get((meter.bar_len, meter.compound))
    if known:
        return known
    # Any other meter: every beat is one of a few simple beat rhythms.
    beats = [meter.beat] * (meter.bar_len // meter.beat)
    if meter.bar_len % meter.beat:
        beats.append(meter.bar_len % meter.beat)
    patterns: list[tuple[int, ...]] = [()]
    for beat in beats:
        options = _BEAT_RHYTHMS.get(beat, [(beat,)])
        patterns = [p + o for p in patterns for o in options][:64]
    return patterns


def _onsets(pattern: tuple[int, ...]) -> frozenset[int]:
    """Onset positions (in sixteenths) of a bar rhythm."""
    out, t = [], 0
    for length in pattern:
        out.append(t)
        t += length
    return frozenset(out)


def _cadence_rhythm(bar_len: int, beat: int) -> tuple[int, ...]:
    if bar_len <= beat:
        return (bar_len,)
    return (bar_len - beat, beat) if (bar_len - beat) % 2 == 0 else (bar_len,)


def pick(rng: random.Random, weighted: list[tuple[T, float]]) -> T:
    """One item, drawn with chance proportional to its weight (weights need not sum to 1);
    the first where every weight is zero. Shared with the pitch choice in markov.py."""
    total = sum(w for _, w in weighted)
    if total <= 0:
        return weighted[0][0]
    r = rng.random() * total
    for item, w in weighted:
        r -= w
        if r <= 0:
            return item
    return weighted[-1][0]


class Rhythms:
    """The rhythm writer of one piece: what the exemplars teach (``rhythm1``: bar rhythms and
    how often; ``rhythm2``: which follows which; ``lines``: each exemplar's bars in order, with
    its weight), the knobs it follows and what the piece has used so far."""

    def __init__(
        self,
        meter: Meter,
        rng: random.Random,
        rhythm1: Counter[tuple[int, ...]],
        rhythm2: dict[tuple[int, ...], Counter[tuple[int, ...]]],
        lines: list[tuple[float, list[tuple[int, ...] | None]]],
        density: float,
        repetition: float,
        anticipation: float,
        swung: bool = False,
        shortest: int = 1,
    ) -> None:
        self.meter = meter
        self.rng = rng
        self.rhythm1, self.rhythm2, self.lines = rhythm1, rhythm2, lines
        self.density = density  # the density knob
        self.repetition = repetition  # chance a bar repeats the one before (drawn per piece)
        self.anticipation = anticipation  # Style.anticipation
        self.swung = swung  # the style swings its eighths (see _swing)
        self.shortest = shortest  # Style.shortest (see joined)
        self.pool = prior_rhythms(meter)
        self.values: set[int] = set()  # note lengths the melody's rhythms use so far
        self.motifs: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.division: dict[tuple[int, ...], tuple[int, ...]] = {}  # see _to_density
        self.pushes: dict[tuple[int, ...], tuple[int, ...]] = {}  # see _push
        self.borrowed: dict[str, list[tuple[int, ...]]] = {}  # exemplar bars per section

    def bar_rhythm(
        self, prev: tuple[int, ...] | None, cadence: str | None, long_end: bool = False
    ) -> tuple[int, ...]:
        """A bar's rhythm in sixteenths. ``long_end``: the bar closes a phrase that breathes,
        so its last note must leave room for two beats of rest (see ``ornament``)."""
        bar_len = self.meter.bar_len
        long_end = long_end and bar_len >= BREATH + 4
        if prev is not None and cadence is None and self.rng.random() < self.repetition:
            return prev
        # A small rhythm vocabulary per piece, as in a song: its bars share at most
        # MOTIF_VALUES note lengths (``_room``).
        candidates: dict[tuple[int, ...], float] = {}
        prior_w = 1.0 if not self.rhythm1 else 0.4
        for pat in self.pool:
            candidates[pat] = prior_w
        for pat, c in self.rhythm1.items():
            candidates[pat] = candidates.get(pat, 0.0) + c
        if prev is not None and prev in self.rhythm2:
            for pat, c in self.rhythm2[prev].items():
                candidates[pat] += 2.0 * c
        if cadence is not None:
            # A closing bar made of the piece's own lengths: the rest of the bar, then a
            # held note (the lengths ``_room`` kept a place for).
            for held in (x for x in self.values if 2 * x >= bar_len):
                head = bar_len - held
                if head == 0 or head in self.values:
                    candidates.setdefault((head, held) if head else (held,), prior_w)
        target, sigma = self._density_target()
        # Below 0.5 the repetition knob also favours bars whose onsets differ from the bar
        # before (groove consistency falls), above it bars that share them.
        contrast = 3.0 * (0.5 - self.repetition)
        prev_onsets = _onsets(prev) if prev is not None else None
        weighted = []
        for pat, w in candidates.items():
            if cadence is not None and not self._closes(pat, cadence, long_end):
                continue
            if not self._room(self.values | set(pat)):
                w *= _OFF_VOCABULARY
            fit = math.exp(-0.5 * ((len(pat) - target) / sigma) ** 2)
            if prev_onsets is not None:
                fit *= math.exp(contrast * len(prev_onsets ^ _onsets(pat)))
            weighted.append((pat, w * fit))
        if not weighted:
            if long_end:
                chosen = (bar_len - BREATH - 4, BREATH + 4) if bar_len > BREATH + 4 else (bar_len,)
            elif cadence == "final":
                chosen = (bar_len,)
            else:
                chosen = _cadence_rhythm(bar_len, self.meter.beat)
        else:
            chosen = pick(self.rng, weighted)
        chosen = self._swing(chosen)
        self.values |= set(chosen)
        return chosen

    def _swing(self, pat: tuple[int, ...]) -> tuple[int, ...]:
        """In a style that swings, a beat's dotted pair (dotted eighth and sixteenth, or the
        reverse) becomes two eighths, which the player swings: a swing chart's dotted figure is
        read so. Played as written under the swing, a folk tune's dotted pair came out 5 : 1
        and its Scotch snap short-long, neither of them a blues or a jazz line."""
        if not self.swung or self.meter.beat != 4 or not {1, 3} <= set(pat):
            return pat
        out: list[int] = []
        onset = i = 0
        while i < len(pat):
            if onset % 4 == 0 and pat[i : i + 2] in ((3, 1), (1, 3)):
                out += [2, 2]
                i += 2
            else:
                out.append(pat[i])
                i += 1
            onset = sum(out)
        return tuple(out)

    def phrase_rhythms(
        self, letter: str, n_bars: int, cadence: str, breath: bool
    ) -> list[tuple[int, ...]]:
        """A phrase's bar rhythms, built from its section's motif: the opening bar's rhythm
        (m1) and a second one (m2) come back in a fixed order, the cadence bar closes it.
        A section heard before reuses its motif; a new section draws one that contrasts.
        Where the exemplars have phrases in the piece's meter, the phrase's bars are theirs
        (``exemplar_rhythms``) instead. Either way the bars before the cadence may be
        syncopated (``_push``)."""
        rhythms = self.exemplar_rhythms(letter, n_bars, cadence, breath)
        if rhythms is None:
            rhythms = self._motif_rhythms(letter, n_bars, cadence, breath)
        pushed = [self._push(pat) for pat in rhythms[:-1]] + rhythms[-1:]
        return [self.joined(pat) for pat in pushed]

    def joined(self, pat: tuple[int, ...]) -> tuple[int, ...]:
        """The bar with notes shorter than ``shortest`` joined: consecutive short notes into
        one (two sixteenths into an eighth), a short note after a longer one into it (a
        dotted eighth and its sixteenth into a quarter), so every onset stays on the grid of
        the notes kept."""
        if self.shortest <= 1 or min(pat) >= self.shortest:
            return pat
        out: list[int] = []
        pending = 0  # short notes not yet joined
        for x in pat:
            if x < self.shortest:
                pending += x
                if pending >= self.shortest:
                    out.append(pending)
                    pending = 0
                continue
            # Short notes before a long one go into the note before them (into this one
            # where the bar opens with them).
            if pending and out:
                out[-1] += pending
            else:
                x += pending
            out.append(x)
            pending = 0
        if pending and out:
            out[-1] += pending
        elif pending:
            out.append(pending)
        return tuple(out)

    def cadence_bar(self, cadence: str) -> tuple[int, ...]:
        """A new closing bar for a phrase (``bar_rhythm`` with nothing before it), in the
        style's note lengths (``joined``)."""
        return self.joined(self.bar_rhythm(None, cadence))

    def _motif_rhythms(
        self, letter: str, n_bars: int, cadence: str, breath: bool
    ) -> list[tuple[int, ...]]:
        if letter not in self.motifs:
            before = self.motifs.get("A", (None, None))[0]
            m1 = self.bar_rhythm(before, None)
            m2 = self.bar_rhythm(None, None)
            self.motifs[letter] = (m1, m2)
        m1, m2 = self.motifs[letter]
        end = self.bar_rhythm(m1, cadence, long_end=breath)
        if n_bars == 1:
            return [end]
        body = self.rng.choice([[m1, m2, m1], [m1, m1, m2], [m1, m2, m2]])
        return ([m1] * (n_bars - 1) if n_bars < 4 else (body * n_bars)[: n_bars - 1]) + [end]

    def exemplar_rhythms(
        self, letter: str, n_bars: int, cadence: str, breath: bool
    ) -> list[tuple[int, ...]] | None:
        """A phrase's bar rhythms taken whole from ``n_bars`` consecutive bars of an exemplar
        in the piece's meter, so the piece moves in the rhythms its exemplars move in, with
        their own repetitions and motifs. Its bars are brought toward the density knob
        (``_to_density``) and, with the repetition knob's chance, repeat the bar before, as in
        ``bar_rhythm``. A section heard before comes back in the same bars; a new one takes
        other bars; the cadence bar is redrawn where the borrowed one does not end on a note
        long enough to close the phrase. None where no exemplar has such bars, or where they
        would take the piece past MOTIF_VALUES note lengths."""
        chosen = self.borrowed.get(letter)
        if chosen is None or len(chosen) != n_bars:
            window = self._pick_window(n_bars)
            if window is not None:
                window = [self._swing(pat) for pat in window]
            if window is None or not self._room(self.values | {x for p in window for x in p}):
                return None  # the motif rhythms keep the vocabulary better
            self.values |= {x for pat in window for x in pat}
            chosen = [self._to_density(pat) for pat in window[:-1]] + window[-1:]
            for i in range(1, len(chosen) - 1):
                if self.rng.random() < self.repetition:  # as in bar_rhythm: a bar comes again
                    chosen[i] = chosen[i - 1]
            self.values |= {x for pat in chosen for x in pat}
            self.borrowed.setdefault(letter, chosen)
        end = chosen[-1]
        if not self._closes(end, cadence, breath):
            end = self.bar_rhythm(chosen[0], cadence, long_end=breath)
        return [*chosen[:-1], end]

    def _density_target(self) -> tuple[float, float]:
        """Notes a bar should hold (the density knob) and how far from that it may lie. Even a
        sparse brief keeps about a note per beat: with fewer, a 20 s piece has too few notes
        to use as many pitches as a corpus tune does."""
        eighths = self.meter.bar_len / 2
        return eighths * (0.8 + 0.75 * self.density), max(1.0, 0.3 * eighths)

    def _to_density(self, pat: tuple[int, ...]) -> tuple[int, ...]:
        """A borrowed bar brought toward the density knob as a player varies a tune: a bar
        with too few notes divides some quarters and eighths into two (diminution), one with
        too many joins some pairs of equal notes on the beat; never past MOTIF_VALUES note
        lengths. The same bar is changed the same way throughout the piece, so a bar that
        returns still returns."""
        if pat in self.division:
            return self.division[pat]
        target, _ = self._density_target()
        n = len(pat)

        self.values |= set(pat)

        def fits(length: int) -> bool:
            if not self._room(self.values | {length}):
                return False
            self.values.add(length)
            return True

        out: list[int] = []
        if n < target:
            chance = min(1.0, (target - n) / (_DIVIDE * target))
            for x in pat:
                if x in (2, 4) and self.rng.random() < chance and fits(x // 2):
                    out += [x // 2, x // 2]
                else:
                    out.append(x)
        elif n > target + 1 and not self.meter.compound:
            chance = min(1.0, (n - target) / (_DIVIDE * target))
            onset, i = 0, 0
            while i < n:
                x = pat[i]
                pair = i + 1 < n and pat[i + 1] == x and x <= 4 and onset % (2 * x) == 0
                if pair and self.rng.random() < chance and fits(2 * x):
                    out.append(2 * x)
                    i += 2
                else:
                    out.append(x)
                    i += 1
                onset += out[-1]
        else:
            out = list(pat)
        self.division[pat] = tuple(out)
        return tuple(out)

    def _push(self, pat: tuple[int, ...]) -> tuple[int, ...]:
        """A 4/4 bar's rhythm with its middle beat anticipated (``Style.anticipation``): the
        note that would land on beat 3 comes an eighth early and is held over it, the
        syncopation of a jazz, funk or pop line where a folk tune lands on the beat. Where
        the note before it lasts a beat or more, that note gives up an eighth (4 4 4 4
        becomes 4 2 6 4); where an eighth comes just before beat 3, the two are tied into one
        (4 2 2 4 4 becomes 4 2 6 4). Drawn once per bar rhythm, so a bar that returns returns
        the same; only where the new lengths are written without a tie and keep the piece
        within MOTIF_VALUES."""
        if pat in self.pushes:
            return self.pushes[pat]
        out = pat
        chance = self.anticipation
        if chance > 0 and self.meter.bar_len == 16 and self.rng.random() < chance:
            middle = self.meter.bar_len // 2
            ends = list(itertools.accumulate(pat))
            if middle in ends[:-1]:
                i = ends.index(middle)
                if pat[i] >= 4:
                    new = (*pat[:i], pat[i] - 2, pat[i + 1] + 2, *pat[i + 2 :])
                elif pat[i] == 2:
                    new = (*pat[:i], 2 + pat[i + 1], *pat[i + 2 :])
                else:
                    new = pat
                lengths = set(new) - set(pat)
                written = lengths <= {2, 3, 4, 6, 8, 12}  # no tie needed
                if written and self._room(self.values | lengths):
                    out = new
                    self.values |= lengths
        self.pushes[pat] = out
        return out

    def _room(self, values: set[int]) -> bool:
        """Do these note lengths keep the piece within MOTIF_VALUES, counting the held note
        of half a bar or more that the final cadence needs where none of them is one? A
        dotted figure (dotted eighth and sixteenth, in simple time) counts as one: its two
        lengths come as a pair. Counted apart, no melody with eighths and a held close could
        have one: 2% of Pictune's notes were dotted eighths, 6% of its exemplars', 12% of
        real tunes in the same modes and meters. Counted so, 74% of the style pieces keep to
        four lengths (those real tunes: 75%; before: 92%), the median stays 4."""
        closing = any(2 * x >= self.meter.bar_len for x in values)
        dotted = not self.meter.compound and {1, 3} <= values
        return len(values) - dotted + (0 if closing else 1) <= MOTIF_VALUES

    def _closes(self, pat: tuple[int, ...], cadence: str, breath: bool) -> bool:
        """Can this bar rhythm end a phrase: its last note held at least a beat (the final
        cadence's half the bar, and struck on a beat: two dotted quarters ended a waltz off
        it; two beats more where the phrase breathes after it)?"""
        bar_len = self.meter.bar_len
        if pat[-1] < min(self.meter.beat, bar_len):
            return False
        final_off_beat = (bar_len - pat[-1]) % self.meter.beat != 0
        if cadence == "final" and (pat[-1] * 2 < bar_len or final_off_beat):
            return False
        return not (breath and bar_len >= BREATH + 4 and pat[-1] < BREATH + 4)

    def _pick_window(self, n_bars: int) -> list[tuple[int, ...]] | None:
        """``n_bars`` consecutive whole bars of one exemplar, drawn by the exemplar's weight
        (each exemplar's windows share it), favouring windows that start where its phrases
        start, hold about as many notes as the density knob asks, keep the piece within
        MOTIF_VALUES note lengths and differ from the windows the piece already took."""
        target, sigma = self._density_target()
        taken = list(self.borrowed.values())
        weighted: list[tuple[list[tuple[int, ...]], float]] = []
        for weight, line in self.lines:
            first = next(i for i, pat in enumerate(line) if pat is not None)
            found: list[tuple[list[tuple[int, ...]], float]] = []
            for start in range(first, len(line) - n_bars + 1):
                bars = [pat for pat in line[start : start + n_bars] if pat is not None]
                if len(bars) < n_bars:
                    continue
                w = _ALIGNED if (start - first) % 4 == 0 else 1.0
                if not self._room(self.values | {x for pat in bars for x in pat}):
                    w *= _OFF_VOCABULARY
                notes = sum(len(pat) for pat in bars) / n_bars
                w *= math.exp(-0.5 * ((notes - target) / sigma) ** 2)
                if bars in taken:
                    w *= 0.05

                found.append((bars, w))
            # Each exemplar's windows share its weight by number, so that a long tune does not
            # outweigh a short one, while the preferences above still count between tunes.
            weighted += [(bars, weight * w / len(found)) for bars, w in found]
        if not weighted:
            return None
        return pick(self.rng, weighted)
