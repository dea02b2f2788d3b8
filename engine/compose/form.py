"""Form: how many bars a piece has, in which sections, and which chords each bar holds.

A piece is an intro (bars of accompaniment alone) and whole phrases of 4 bars (2 or 1 for very
short pieces): AABA, with more sections for longer pieces (ABACA, AABACA, ...) rather than a
longer loop, so the opening material comes back at the end. Each phrase ends on a cadence:
"half" (on the dominant) or "tonic", the last one "final"; B sections end on a half cadence
that leads back to A.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from engine.compose import chords
from engine.compose.chords import Chord
from engine.compose.styles import MINOR_MODES, Style

_LETTERS = {1: "A", 2: "AA", 3: "ABA", 4: "AABA", 5: "ABACA", 6: "AABACA", 7: "AABACCA", 8: "AABACABA"}  # fmt: skip


@dataclass(frozen=True)
class Section:
    letter: str  # "intro", "A", "B", ...
    start: int  # first bar
    bars: int
    cadence: str  # "half", "tonic", "final"; "" for the intro

    @property
    def variant(self) -> int:
        """Which of the style's figures this section plays: A 0, B 1, C 2, ..."""
        return 0 if self.letter == "intro" else ord(self.letter) - ord("A")


@dataclass(frozen=True)
class Span:
    """A chord over part of a bar: [start, start + length) in sixteenths."""

    chord: Chord
    start: int
    length: int


def plan_sections(
    duration: float,
    tempo: int,
    quarters_per_bar: float,
    style: Style,
    openings: Sequence[float] = (),
) -> tuple[list[Section], int]:
    """The sections of a piece and its phrase length. Bar counts are whole phrases (plus the
    intro), the nearest to the duration asked.

    ``openings``: the piece continues one of ``openings[-1]`` seconds (an extension; that
    one extended the ones before it, and so on). Its sections
    come first, as they were (the same letters, lengths and cadences, but for its last,
    which no longer ends the piece), then new sections (a new letter between returns of A)
    and a new final cadence on A."""
    exact = max(duration, 1.0) * tempo / 60.0 / quarters_per_bar
    phrase = 4 if exact >= 7 else 2 if exact >= 3.5 else 1
    intro = style.intro_bars if exact >= 10 else 0
    n = max(1, round((exact - intro) / phrase))
    letters = _LETTERS.get(n) or ("AABA" + "CDCA" * n)[: n - 1] + "A"
    if openings:
        before, phrase = plan_sections(openings[-1], tempo, quarters_per_bar, style, openings[:-1])
        intro = before[0].bars if before[0].letter == "intro" else 0
        kept = "".join(s.letter for s in before if s.letter != "intro")
        n = max(len(kept) + 1, round((exact - intro) / phrase))
        letters = kept + _continuation(kept, n - len(kept))
    sections = [Section("intro", 0, intro, "")] if intro else []
    bar = intro
    for i, letter in enumerate(letters):
        if i == n - 1:
            cadence = "final"
        elif letter != "A" or i % 2 == 0:
            cadence = "half"
        else:
            cadence = "tonic"
        sections.append(Section(letter, bar, phrase, cadence))
        bar += phrase
    return sections, phrase


def _continuation(kept: str, count: int) -> str:
    """``count`` more section letters after ``kept``: new letters (after those used) each
    followed by a return of A, the last always A."""
    fresh = chr(max(ord(c) for c in kept) + 1)
    out = []
    while len(out) < count - 1:
        out.append(fresh if not out or out[-1] == "A" else "A")
        if out[-1] != "A":
            fresh = chr(ord(fresh) + 1) if fresh < "F" else "C"
    return "".join(out) + "A"


def plan_harmony(
    sections: list[Section],
    style: Style,
    tonic_pc: int,
    mode: str,
    bar_len: int,
    rng: random.Random,
) -> list[list[Span]]:
    """The chords of every bar: each section plays the style's progression for its letter,
    its last chords replaced by the style's cadence (a continuous form such as the blues runs
    on across sections and only the final cadence is written)."""
    table = style.minor if mode in MINOR_MODES else style.major
    first = rng.randrange(len(table))  # A's progression; B, C, ... take the others in turn
    order = [first] + [i for i in range(len(table)) if i != first]
    rate = style.harmonic_rhythm
    out: list[list[Span]] = []
    cycle = 0  # where a continuous progression has got to
    body = sum(max(1, round(s.bars * rate)) for s in sections if s.letter != "intro")
    stream = _choruses(body, [p.split() for p in table]) if style.continuous else []
    for section in sections:
        n_slots = max(1, round(section.bars * rate))
        if section.letter == "intro":
            tokens = [_tonic_token(table)] * n_slots
        elif style.continuous:
            tokens = [stream[(cycle + k) % len(stream)] for k in range(n_slots)]
            cycle += n_slots
        else:
            loop = table[order[section.variant % len(order)]].split()
            tokens = [loop[k % len(loop)] for k in range(n_slots)]
        if section.cadence and (not style.continuous or section.cadence == "final"):
            ending = getattr(style.cadences, section.cadence).split()[-n_slots:]
            tokens[len(tokens) - len(ending) :] = ending
        slots = [chords.parse(t, tonic_pc, mode) for t in tokens]
        length = section.bars * bar_len
        for b in range(section.bars):
            spans = []
            for k, chord in enumerate(slots):
                start, end = k * length // n_slots, (k + 1) * length // n_slots
                lo, hi = max(start, b * bar_len), min(end, (b + 1) * bar_len)
                if lo < hi:
                    spans.append(Span(chord, lo - b * bar_len, hi - lo))
            out.append(spans)
    return out


def _choruses(slots: int, loops: list[list[str]]) -> list[str]:
    """A continuous form's chords for ``slots`` chords: whole choruses of its loops (a blues:
    twelve bars, or eight), the longest first, fewest choruses; where no whole choruses fill
    the piece, the first loop runs on and is cut (a four-bar blues: its first bars)."""
    best: dict[int, list[int]] = {0: []}  # slots filled -> loop lengths, longest first
    for total in range(1, slots + 1):
        ways = [
            [*best[total - len(loop)], len(loop)] for loop in loops if total - len(loop) in best
        ]
        if ways:
            best[total] = min(ways, key=lambda w: (len(w), sorted(-x for x in w)))
    if slots not in best:
        return loops[0]
    by_length = {len(loop): loop for loop in reversed(loops)}
    return [t for n in sorted(best[slots], reverse=True) for t in by_length[n]]


def _tonic_token(table: tuple[str, ...]) -> str:
    """The style's own tonic chord (Imaj7 in jazz, I5 in rock, I!7 in the blues) for the intro."""
    tokens = [t for progression in table for t in progression.split()]
    return next((t for t in tokens if t.lower().rstrip("!0123456789adjmsu") == "i"), "I")


def chord_at(spans: list[Span], onset: int) -> Chord:
    for s in spans:
        if s.start <= onset < s.start + s.length:
            return s.chord
    return spans[-1].chord
