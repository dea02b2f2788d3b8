"""Chords from Roman numerals, and voicings that keep the third and move by small steps.

A progression is written as tokens such as ``ii7 V!7 Imaj7 bVII5``:

- the numeral (case is ignored: it is written as in major for the reader) is the scale degree
  in the piece's own mode, so ``IV`` is major in dorian and minor in aeolian, as the mode says;
- ``b`` before it: a chord borrowed from the parallel minor (``bVII``, ``bVI``, ``bIII``): a
  major chord on the lowered degree (modal mixture, as rock and film music use it);
- ``!`` after it: a dominant (major triad, minor seventh), whatever the mode: ``V!7`` in minor
  (the raised leading note) and the secondary dominants (``VI!7`` is V7 of ii);
- the suffix: none (triad), ``7`` (the mode's seventh chord), ``maj7``, ``9`` (seventh and
  ninth), ``6``, ``add9``, ``sus2``, ``sus4``, ``5`` (power chord: root and fifth).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from engine.compose.abc import MODE_STEPS

_TOKEN = re.compile(r"^(b?)(iii|ii|iv|vii|vi|v|i)(!?)(maj7|add9|sus2|sus4|7|9|6|5)?$", re.I)
_NUMERALS = {"i": 0, "ii": 1, "iii": 2, "iv": 3, "v": 4, "vi": 5, "vii": 6}
_MAJOR = MODE_STEPS["major"]
_LETTERS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class
    intervals: tuple[int, ...]  # semitones above the root, 0 first; 14 is the ninth
    degree: int  # 0-based scale degree of the root (borrowed chords: the degree they replace)
    kind: str  # "triad", "seventh", "power", "colour" (sus and add9)

    @property
    def pcs(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in self.intervals)

    @property
    def third(self) -> int | None:
        return next(((self.root + i) % 12 for i in self.intervals if i in (3, 4)), None)

    @property
    def fifth(self) -> int:
        return (self.root + next((i for i in self.intervals if i in (6, 7, 8)), 7)) % 12

    @property
    def seventh(self) -> int | None:
        return next(((self.root + i) % 12 for i in self.intervals if i in (9, 10, 11)), None)

    @property
    def symbol(self) -> str:
        """A lead-sheet symbol: C, Am, G7, Fmaj7, Bm7b5, D5, Esus2."""
        iv = set(self.intervals)
        name = _LETTERS[self.root]
        if self.kind == "power":
            return name + "5"
        if 2 in iv and 3 not in iv and 4 not in iv:
            return name + "sus2"
        if 5 in iv and 3 not in iv and 4 not in iv:
            return name + "sus4"
        minor, dim = 3 in iv, 6 in iv
        if dim and 10 in iv:
            return name + "m7b5"
        if dim:
            return name + "dim"
        if 11 in iv:
            return name + ("m" if minor else "") + ("maj9" if 14 in iv else "maj7")
        if 10 in iv:
            return name + ("m" if minor else "") + ("9" if 14 in iv else "7")
        if 9 in iv:
            return name + ("m6" if minor else "6")
        return name + ("m" if minor else "") + ("add9" if 14 in iv else "")


def parse(token: str, tonic_pc: int, mode: str) -> Chord:
    """One progression token in the key of ``tonic_pc`` ``mode``. Raises ValueError."""
    match = _TOKEN.match(token.strip())
    if not match:
        raise ValueError(f"bad chord token {token!r}")
    flat, numeral, dominant, suffix = match.groups()
    degree = _NUMERALS[numeral.lower()]
    steps = MODE_STEPS.get(mode, _MAJOR)
    suffix = (suffix or "").lower()
    if flat:
        root = (tonic_pc + _MAJOR[degree] - 1) % 12
        third, fifth, seventh = 4, 7, 10 if degree == 6 else 11
    else:
        root = (tonic_pc + steps[degree]) % 12

        def above(k: int) -> int:
            return (steps[(degree + k) % 7] - steps[degree]) % 12

        third, fifth, seventh = above(2), above(4), above(6)
    if dominant:
        third, fifth, seventh = 4, 7, 10
    if suffix == "5":
        return Chord(root, (0, 7), degree, "power")
    if suffix in ("sus2", "sus4"):
        return Chord(root, (0, 2 if suffix == "sus2" else 5, 7), degree, "colour")
    triad = (0, third, fifth)
    if suffix == "add9":
        return Chord(root, (*triad, 14), degree, "colour")
    if suffix == "6":
        return Chord(root, (*triad, 9), degree, "seventh")
    if suffix == "maj7":
        return Chord(root, (*triad, 11), degree, "seventh")
    if suffix == "7":
        return Chord(root, (*triad, seventh), degree, "seventh")
    if suffix == "9":
        return Chord(root, (*triad, seventh, 14), degree, "seventh")
    return Chord(root, triad, degree, "triad")


def progression(tokens: str, tonic_pc: int, mode: str) -> list[Chord]:
    return [parse(t, tonic_pc, mode) for t in tokens.split()]


# Low interval limits: the lowest pitch at which each interval still sounds clear rather
# than muddy (the orchestration rule of thumb: a minor second from E3, a third from C3 / Bb2,
# a fourth from E2, a fifth from Bb1). Wider intervals are clear anywhere a chord goes.
_LOW_LIMITS = {1: 52, 2: 51, 3: 48, 4: 46, 5: 40, 6: 45, 7: 34}


def clear(notes: tuple[int, ...]) -> bool:
    """No two neighbouring notes of the voicing closer than the low interval limits allow."""
    return all(a >= _LOW_LIMITS.get(b - a, 0) for a, b in itertools.pairwise(notes))


def voice(
    chord: Chord,
    n_notes: int,
    low: int,
    high: int,
    centre: int,
    previous: tuple[int, ...] | None,
    rootless: bool = False,
) -> tuple[int, ...]:
    """``n_notes`` pitches of the chord between ``low`` and ``high``, near ``centre`` and as
    close as possible to the previous voicing. The third always sounds (power and sus chords
    have none); a seventh chord drops its fifth before its seventh; extra notes double the
    root; ``rootless``: a seventh chord leaves its root to the bass and takes its ninth, as a
    jazz pianist voices it. Pitches stay within an octave and a half, so the hand (or the
    strum) can reach them, and above the low interval limits, so they do not turn to mud."""
    wanted = _rootless(chord, n_notes) if rootless else None
    wanted = wanted or _wanted(chord, n_notes)
    options: list[list[int]] = []
    for pc in wanted:
        near = [p for p in range(centre - 10, centre + 11) if p % 12 == pc and low <= p <= high]
        if not near:
            near = [p for p in range(low, high + 1) if p % 12 == pc][:2] or [low]
        options.append(near)
    best: tuple[float, tuple[int, ...]] | None = None
    for combo in itertools.product(*options):
        notes = tuple(sorted(set(combo)))
        if len(notes) < len(combo) or notes[-1] - notes[0] > 19:
            continue
        if chord.kind == "power" and notes[0] % 12 != chord.root:
            continue  # a power chord stands on its root (a fourth at the bottom is another chord)
        cost = 0.35 * abs(sum(notes) / len(notes) - centre)
        if not clear(notes):
            cost += 6.0  # muddy: only where the instrument leaves no clearer choice
        if previous:
            cost += sum(min(abs(p - q) for q in previous) for p in notes) / len(notes)
        if 14 in chord.intervals and notes[0] % 12 == (chord.root + 2) % 12:
            cost += 3.0  # a ninth at the bottom sounds like a second inversion of nothing
        if best is None or cost < best[0]:
            best = (cost, notes)
    if best is None:  # every combination collided: stack the wanted notes upward
        base = max(low, centre - 6)
        out: list[int] = []
        for pc in wanted:
            p = base + (pc - base) % 12
            while out and p <= out[-1]:
                p += 12
            out.append(p)
        return tuple(min(p, high) for p in out)
    return best[1]


def _rootless(chord: Chord, n_notes: int) -> list[int] | None:
    """Third, fifth, seventh and ninth of a seventh chord (a half-diminished one takes its
    eleventh, as its flat ninth clashes); the fifth goes first when fewer notes are asked.
    None for chords without a seventh, which keep their root."""
    third, seventh = chord.third, chord.seventh
    if third is None or seventh is None or n_notes < 3:
        return None
    diminished_fifth = 6 in chord.intervals
    colour = (chord.root + (5 if diminished_fifth else 2)) % 12
    if 14 in chord.intervals:
        colour = (chord.root + 2) % 12
    tones = [third, seventh, colour, chord.fifth]
    return tones[: min(4, n_notes)]


def _wanted(chord: Chord, n_notes: int) -> list[int]:
    """Which pitch classes a voicing of ``n_notes`` holds (a pitch class may come twice)."""
    pcs = [(chord.root + i) % 12 for i in chord.intervals]
    root, rest = pcs[0], pcs[1:]
    n_notes = max(2, min(5, n_notes))
    if chord.kind == "power":
        return [root, rest[0], root][:n_notes] if n_notes >= 3 else [root, rest[0]]
    if len(pcs) > n_notes:
        # Drop the fifth first, then the root (the bass has it): third and seventh stay.
        keep = [pc for pc in pcs if pc != chord.fifth] if chord.seventh is not None else pcs
        if len(keep) > n_notes:
            keep = [pc for pc in keep if pc != root] or keep
        return keep[:n_notes]
    out = list(pcs)
    while len(out) < n_notes:
        out.append(root)
    return out
