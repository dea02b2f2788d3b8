"""Passes over a finished melody: fit its held notes to the harmony under them, then colour
it in its style (blue thirds, chromatic approach notes).

The composer (markov.py) chooses each note against the chord planned under it, but a varied
repeat copies half a phrase over chords that may differ and a continuous blues runs on under
phrases written before it, so a finished line can still hold a note that rubs. These passes
look at the whole line at once, as an arranger does: ``settle`` moves what rubs, ``blue`` and
``approach`` add the style's colours. The colouring passes draw from their own seeded
generators, so the rest of a piece is the same with or without them.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from engine.compose import form

Note = tuple[int | None, int]  # (MIDI pitch or None for a rest, length in sixteenths)
# (index of the note in the melody, where in its bar it counts, length, tones of the chord there)
Heard = tuple[int, int, int, tuple[int, ...]]


@dataclass(frozen=True)
class Setting:
    """What the passes need to know of the piece."""

    harmony: list[list[form.Span]]  # each bar's chords
    beat: int  # sixteenths
    strong: int  # sixteenths between the bar's main beats (8 in 4/4: beats 1 and 3)
    tonic: int  # MIDI pitch of the mode's first degree in the melody's register
    steps: tuple[int, ...]  # the mode's seven degrees, semitones above the tonic
    major_third: bool  # the mode has a major third (blue thirds need one)
    blue: float  # Style.blue
    approach: float  # Style.approach
    seed: int


def lands(onset: int, length: int, beat: int, strong: int) -> int:
    """Where a note counts for the harmony: a note struck an eighth before a main beat and
    held over it (a syncopation) belongs to that beat and its chord."""
    ahead = onset + 2
    if onset % beat == 2 and length > 2 and ahead % strong == 0:
        return ahead
    return onset


def clashes(pitch: int, pcs: tuple[int, ...]) -> bool:
    """A semitone from a tone of the chord without being one (F over C-E-G)."""
    pc = pitch % 12
    return pc not in pcs and ((pc + 1) % 12 in pcs or (pc - 1) % 12 in pcs)


def resolves(pitch: int, after: int, pcs: tuple[int, ...]) -> bool:
    """Does ``after`` resolve ``pitch`` as an appoggiatura's next note does: a step to a tone
    of the chord under it?"""
    return 1 <= abs(after - pitch) <= 2 and after % 12 in pcs


def heard(setting: Setting, melody: list[list[Note]]) -> list[Heard]:
    """Every sounding note with where in its bar it counts (``lands``) and the tones of the
    chord there."""
    out = []
    k = 0
    for b, bar in enumerate(melody):
        spans = setting.harmony[b] if b < len(setting.harmony) else None
        onset = 0
        for pitch, length in bar:
            if pitch is not None and spans:
                at = lands(onset, length, setting.beat, setting.strong)
                out.append((k, at, length, form.chord_at(spans, at).pcs))
            onset += length
            k += 1
    return out


def resolutions(pitches: list[int | None], notes: list[Heard]) -> set[int]:
    """The notes that follow a note rubbing against its chord: they resolve it, as an
    appoggiatura's next note does, so the passes that colour a line leave them be."""
    out = set()
    for (k, _, _, pcs), (after, _, _, _) in itertools.pairwise(notes):
        pitch = pitches[k]
        if after == k + 1 and pitch is not None and clashes(pitch, pcs):
            out.add(after)
    return out


def with_pitches(melody: list[list[Note]], pitches: list[int | None]) -> list[list[Note]]:
    """The melody's bars with these pitches, in order, on its rhythm."""
    notes = iter(pitches)
    return [[(next(notes), length) for _, length in bar] for bar in melody]


def settle(setting: Setting, melody: list[list[Note]]) -> list[list[Note]]:
    """A note held against a chord it rubs by a semitone (``clashes``) moves to the nearest
    tone that does not, as an arranger fixes a line that came back over other harmony (a
    varied repeat, a continuous blues): a chord tone on the bar's main beats, any tone of the
    mode that does not rub between them, and not the pitch of a neighbour, which would make a
    repeated note. Passing notes between beats stay, and so does an appoggiatura: a rub of up
    to two beats that steps to a chord tone."""
    beat = setting.beat
    scale = {(setting.tonic + x) % 12 for x in setting.steps}
    pitches = [p for bar in melody for p, _ in bar]
    notes = heard(setting, melody)
    for i, (k, onset, length, pcs) in enumerate(notes):
        pitch = pitches[k]
        if pitch is None or (onset % beat and length < beat) or not clashes(pitch, pcs):
            continue
        if i + 1 < len(notes) and notes[i + 1][0] == k + 1 and length <= 2 * beat:
            after, under = pitches[k + 1], notes[i + 1][3]
            if after is not None and resolves(pitch, after, under):
                continue  # an appoggiatura: it steps to a tone of the chord
        strong = onset % setting.strong == 0
        fine = [
            q
            for q in range(pitch - 3, pitch + 4)
            if q % 12 in pcs or (not strong and q % 12 in scale and not clashes(q, pcs))
        ]
        if fine:
            around = {pitches[j] for j in (k - 1, k + 1) if 0 <= j < len(pitches)}
            pitches[k] = min(fine, key=lambda q: (q in around, abs(q - pitch), q))
    return with_pitches(melody, pitches)


def blue(setting: Setting, melody: list[list[Note]]) -> list[list[Note]]:
    """Blue thirds (``Style.blue``): in a mode with a major third, a note on it that falls to
    the next note is sung a semitone flat with the style's chance, and always where the chord
    under it holds the flat third (a blues' IV7: E over F-A-C-Eb rubs, Eb is the chord's
    seventh); never the note that resolves an appoggiatura."""
    if setting.blue <= 0 or not setting.major_third:
        return melody
    rng = random.Random(f"blue {setting.seed}")
    third, flat = (setting.tonic + 4) % 12, (setting.tonic + 3) % 12
    pitches = [p for bar in melody for p, _ in bar]
    notes = heard(setting, melody)
    resolving = resolutions(pitches, notes)
    for k, _, _, pcs in notes:
        pitch = pitches[k]
        if pitch is None or pitch % 12 != third or k in resolving:
            continue
        after = next((q for q in pitches[k + 1 :] if q is not None), None)
        if flat in pcs or (after is not None and after < pitch and rng.random() < setting.blue):
            pitches[k] = pitch - 1
    return with_pitches(melody, pitches)


def approach(setting: Setting, melody: list[list[Note]]) -> list[list[Note]]:
    """Chromatic approach notes (``Style.approach``): a short note off the beat that steps to,
    or repeats, a chord tone struck on the next beat is played a semitone from it, from below
    where the line rises or stays, from above where it falls, with the style's chance; never
    the note that resolves an appoggiatura."""
    if setting.approach <= 0:
        return melody
    rng = random.Random(f"approach {setting.seed}")
    beat = setting.beat
    pitches = [p for bar in melody for p, _ in bar]
    notes = heard(setting, melody)
    resolving = resolutions(pitches, notes)
    for (k, onset, length, _), (after, landing, _, pcs) in itertools.pairwise(notes):
        pitch, goal = pitches[k], pitches[after]
        if after != k + 1 or pitch is None or goal is None:
            continue  # a rest between: nothing leads in
        if k in resolving:
            continue  # it resolves the note before it
        if not onset % beat or length > beat // 2 or landing % beat:
            continue  # only a short note off the beat, before a note on one
        if goal % 12 not in pcs or abs(pitch - goal) > 2:
            continue
        lead = goal - 1 if pitch <= goal else goal + 1
        if lead != pitch and rng.random() < setting.approach:
            pitches[k] = lead
    return with_pitches(melody, pitches)
