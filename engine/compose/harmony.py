"""Chords under a melody, a bass line and accompaniment patterns.

Everything works in sixteenth notes and MIDI pitches; the composer spells the result as ABC.
Chords come from the mode's diatonic triads (diminished ones left out), one per bar or one per
half bar, chosen to hold the melody's long and strong-beat notes, with the cadences fixed:
the last bar on the tonic, a dominant before it and at half cadences.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.compose.abc import MODE_STEPS, pitch_class

ACCOMPANIMENTS = ("block", "arpeggio", "alberti", "waltz", "march", "drone")

# How much each scale degree is liked as a chord root (I, IV, V first; vi, ii, iii less).
_DEGREE_PRIOR = (1.0, 0.35, 0.25, 0.6, 0.75, 0.45, 0.2)


@dataclass(frozen=True)
class Chord:
    degree: int  # 0-based scale degree of the root
    root: int  # pitch class
    pcs: tuple[int, ...]  # root, third, fifth as pitch classes


@dataclass(frozen=True)
class Span:
    """A chord over part of a bar: [start, start + length) in sixteenths."""

    chord: Chord
    start: int
    length: int


# An accompaniment or bass event: pitches (empty for a rest) and length in sixteenths.
Event = tuple[tuple[int, ...], int]


def diatonic_chords(tonic: str, mode: str) -> list[Chord]:
    """The mode's major and minor triads, by degree."""
    steps = MODE_STEPS.get(mode, MODE_STEPS["major"])
    t = pitch_class(tonic)
    out = []
    for d in range(7):
        pcs = tuple((t + steps[(d + k) % 7]) % 12 for k in (0, 2, 4))
        fifth = (pcs[2] - pcs[0]) % 12
        if fifth == 7:  # diminished and augmented triads make poor folk harmony
            out.append(Chord(d, pcs[0], pcs))
    return out


def dominant(tonic: str, mode: str) -> Chord:
    """V as a major triad (a raised leading tone in minor modes): the cadence chord."""
    t = pitch_class(tonic)
    root = (t + 7) % 12
    return Chord(4, root, (root, (root + 4) % 12, (root + 7) % 12))


def tonic_chord(tonic: str, mode: str) -> Chord:
    return next(c for c in diatonic_chords(tonic, mode) if c.degree == 0)


def choose_chords(
    bars: list[list[tuple[int | None, int]]],
    tonic: str,
    mode: str,
    bar_len: int,
    cadences: dict[int, str],
    split_bars: bool,
) -> list[list[Span]]:
    """One or two chord spans per bar for a melody given as bars of (pitch or None, length).

    ``cadences`` maps a bar index to "final", "tonic" or "half": those bars get I, I and V,
    and the bar before a final cadence gets V."""
    chords = diatonic_chords(tonic, mode)
    tonic_c, dom = tonic_chord(tonic, mode), dominant(tonic, mode)
    half = bar_len // 2
    out: list[list[Span]] = []
    prev = tonic_c
    for i, bar in enumerate(bars):
        kind = cadences.get(i)
        if kind in ("final", "tonic"):
            if (
                split_bars
                and i > 0
                and _fits(bar, dom, 0, half) > _fits(bar, tonic_c, 0, half) + 1.0
            ):
                spans = [Span(dom, 0, half), Span(tonic_c, half, bar_len - half)]
            else:
                spans = [Span(tonic_c, 0, bar_len)]
        elif kind == "half" or cadences.get(i + 1) == "final":
            spans = [Span(dom, 0, bar_len)]
            if split_bars:
                first = max(chords, key=lambda c: _score(bar, c, prev, 0, half))
                if first != dom and _fits(bar, first, 0, half) > _fits(bar, dom, 0, half) + 0.5:
                    spans = [Span(first, 0, half), Span(dom, half, bar_len - half)]
        else:
            whole = max(
                chords,
                key=lambda c: (
                    _score(bar, c, prev, 0, bar_len) + (0.6 if i == 0 and c == tonic_c else 0)
                ),
            )
            spans = [Span(whole, 0, bar_len)]
            if split_bars:
                a = max(chords, key=lambda c: _score(bar, c, prev, 0, half))
                b = max(chords, key=lambda c: _score(bar, c, a, half, bar_len))
                two = _score(bar, a, prev, 0, half) + _score(bar, b, a, half, bar_len)
                if a != b and two > _score(bar, whole, prev, 0, bar_len) + 1.2:
                    spans = [Span(a, 0, half), Span(b, half, bar_len - half)]
        out.append(spans)
        prev = spans[-1].chord
    return out


def _fits(bar: list[tuple[int | None, int]], chord: Chord, start: int, end: int) -> float:
    """How well the chord holds the melody's notes in [start, end): long and strong notes count most."""
    score, pos = 0.0, 0
    for pitch, length in bar:
        onset = pos
        pos += length
        if pitch is None or onset >= end or pos <= start:
            continue
        weight = length / 4 * (1.6 if onset % 8 == 0 else 1.2 if onset % 4 == 0 else 0.8)
        score += weight if pitch % 12 in chord.pcs else -0.5 * weight
    return score


def _score(
    bar: list[tuple[int | None, int]], chord: Chord, prev: Chord, start: int, end: int
) -> float:
    move = (chord.root - prev.root) % 12
    motion = 0.35 if move in (5, 7) else 0.1 if move in (2, 10) else 0.0 if move else 0.05
    return _fits(bar, chord, start, end) + _DEGREE_PRIOR[chord.degree] + motion


# --- voicing ----------------------------------------------------------------------------


def voice_chord(
    chord: Chord, n_notes: int, centre: int, previous: tuple[int, ...] | None
) -> tuple[int, ...]:
    """Close-position voicing of the chord with ``n_notes`` notes (1..4) near ``centre``,
    as close as possible to the previous voicing (smooth voice leading)."""
    n_notes = max(1, min(4, n_notes))
    best: tuple[float, tuple[int, ...]] | None = None
    for inversion in range(3):
        pcs = chord.pcs[inversion:] + chord.pcs[:inversion]
        for base in range(centre - 14, centre + 3):
            if base % 12 != pcs[0]:
                continue
            notes = [base]
            for pc in pcs[1:]:
                nxt = notes[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                notes.append(nxt)
            if n_notes == 4:
                notes.append(notes[0] + 12)
            elif n_notes == 2:
                notes = notes[1:]  # third and fifth (or their inversion) carry the colour
            elif n_notes == 1:
                notes = [notes[1]]
            voicing = tuple(notes)
            mid = sum(voicing) / len(voicing)
            cost = abs(mid - centre) * 0.5
            if previous:
                cost += sum(min(abs(p - q) for q in previous) for p in voicing) / len(voicing)
            if best is None or cost < best[0]:
                best = (cost, voicing)
    assert best is not None
    return best[1]


def _beats(bar_len: int, compound: bool) -> list[int]:
    beat = 6 if compound else 4
    beats = [beat] * (bar_len // beat)
    if bar_len % beat:
        beats.append(bar_len % beat)
    return beats


def _chord_at(spans: list[Span], onset: int) -> Chord:
    for s in spans:
        if s.start <= onset < s.start + s.length:
            return s.chord
    return spans[-1].chord


def accompaniment(
    spans_by_bar: list[list[Span]],
    style: str,
    bar_len: int,
    compound: bool,
    n_notes: int,
    centre: int,
    tonic: str,
) -> list[list[Event]]:
    """The accompaniment voice, bar by bar, in the given style (see ACCOMPANIMENTS)."""
    out: list[list[Event]] = []
    previous: tuple[int, ...] | None = None
    t = pitch_class(tonic)
    for bar_no, spans in enumerate(spans_by_bar):
        events: list[Event] = []
        # (onset, length, role): role picks notes from the chord sounding at the onset.
        last = bar_no == len(spans_by_bar) - 1
        plan = _pattern(style, bar_len, compound, last=last)
        for onset, length, role in plan:
            chord = spans[-1].chord if last else _chord_at(spans, onset)
            if role == "rest":
                events.append(((), length))
            elif style == "drone":  # an open fifth on the tonic, whatever the chords
                root = _near(t, centre - 4)
                events.append(((root, root + 7)[: max(1, min(2, n_notes))], length))
            elif role == "chord":
                voicing = voice_chord(chord, n_notes, centre, previous)
                previous = voicing
                events.append((voicing, length))
            else:
                # Broken chords go up from a root-position chord below the centre.
                root = _near(chord.root, centre - 4)
                third = root + (chord.pcs[1] - chord.root) % 12
                fifth = root + (chord.pcs[2] - chord.root) % 12
                pitch = {"root": root, "third": third, "fifth": fifth, "octave": root + 12}[role]
                events.append(((pitch,), length))
        out.append(events)
    return out


def _pattern(style: str, bar_len: int, compound: bool, last: bool) -> list[tuple[int, int, str]]:
    """The bar's rhythm as (onset, length, role); the last bar always ends on a held chord."""
    beats = _beats(bar_len, compound)
    if last or style == "drone":
        return [(0, bar_len, "chord")]
    plan: list[tuple[int, int, str]] = []
    pos = 0
    if style == "block":
        halves = [bar_len // 2, bar_len - bar_len // 2] if len(beats) % 2 == 0 else [bar_len]
        for length in halves:
            plan.append((pos, length, "chord"))
            pos += length
    elif style in ("arpeggio", "alberti"):
        cycle = (
            ["root", "third", "fifth", "octave", "fifth", "third"]
            if style == "arpeggio"
            else ["root", "fifth", "third", "fifth"]
        )
        i = 0
        while pos < bar_len:
            plan.append((pos, 2, cycle[i % len(cycle)]))
            pos += 2
            i += 1
    elif style == "waltz":
        # oom-pah(-pah): a low note on the first beat, chords on the others.
        for k, beat in enumerate(beats):
            if compound and beat >= 6:
                plan += [
                    (pos, 2, "root" if k == 0 else "fifth"),
                    (pos + 2, 2, "chord"),
                    (pos + 4, beat - 4, "chord"),
                ]
            else:
                plan.append((pos, beat, "root" if k == 0 else "chord"))
            pos += beat
    elif style == "march":
        for beat in beats:
            plan.append((pos, min(2, beat), "chord"))
            if beat > 2:
                plan.append((pos + 2, beat - 2, "rest"))
            pos += beat
    else:
        raise ValueError(f"unknown accompaniment {style!r}")
    return plan


def bass_line(
    spans_by_bar: list[list[Span]],
    style: str,
    bar_len: int,
    compound: bool,
    centre: int,
    tonic: str,
) -> list[list[Event]]:
    """Roots on the strong beats, fifths between; a held tonic for a drone."""
    out: list[list[Event]] = []
    t = pitch_class(tonic)
    beats = _beats(bar_len, compound)
    for bar_no, spans in enumerate(spans_by_bar):
        events: list[Event] = []
        if style == "drone" or bar_no == len(spans_by_bar) - 1:
            pc = t if style == "drone" else spans[-1].chord.root
            events.append(((_near(pc, centre),), bar_len))
        elif style == "march" and len(beats) >= 2:
            pos = 0
            for k, beat in enumerate(beats):
                chord = _chord_at(spans, pos)
                root = _near(chord.root, centre)
                events.append(((root if k % 2 == 0 else _fifth_of(root, chord, centre),), beat))
                pos += beat
        else:
            # One note per chord span; a long single span is split root + fifth on even meters.
            for span in spans:
                root = _near(span.chord.root, centre)
                if len(spans) == 1 and len(beats) % 2 == 0 and style != "waltz":
                    first = span.length // 2
                    events.append(((root,), first))
                    events.append(((_fifth_of(root, span.chord, centre),), span.length - first))
                else:
                    events.append(((root,), span.length))
        out.append(events)
    return out


def _fifth_of(root: int, chord: Chord, centre: int) -> int:
    """The chord's fifth above the bass root, or below it when above would climb too high."""
    above = root + (chord.pcs[2] - chord.root) % 12
    return above if above <= centre + 8 else above - 12


def _near(pc: int, centre: int) -> int:
    """The pitch of class ``pc`` closest to ``centre`` (ties go down)."""
    base = centre - ((centre - pc) % 12)
    return base if centre - base <= base + 12 - centre else base + 12


def drum_pattern(bar_len: int, compound: bool, last: bool) -> list[Event]:
    """General MIDI kit: kick 36, snare 38, closed hi-hat 42, crash 49 at the very end."""
    if last:
        return [((36, 49), bar_len)]
    kick, snare, hat = 36, 38, 42
    events: list[Event] = []
    beats = _beats(bar_len, compound)
    for k, beat in enumerate(beats):
        accent = kick if k % 2 == 0 else snare
        if len(beats) == 3:
            accent = kick if k == 0 else snare
        first = 2 if beat >= 4 else beat
        events.append(((accent, hat), first))
        pos = first
        while pos < beat:
            step = min(2, beat - pos)
            events.append(((hat,), step))
            pos += step
    return events
