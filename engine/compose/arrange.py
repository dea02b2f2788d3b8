"""The arrangement: chords, bass and drums under a melody, bar by bar, in a style.

Every section plays its own figures (A sections the style's first comping, bass and drum
figures, B sections the second, and so on), so the texture changes where the form does;
inside a phrase the comping answers itself every second bar (_answer: where the style
pushes, with a chord anticipating the next bar, tied over the bar line) and breathes at its
end; the drums fill into each new phrase and open it with a crash; the last bar is the
style's ending. A pad holds its chords whatever figure the style gives them (_held).
Every note is kept inside its instrument's range (instruments.py).

Everything works in sixteenth notes and MIDI pitches; markov.py spells the result as ABC.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from engine.compose import chords, patterns
from engine.compose.chords import Chord
from engine.compose.form import Section, Span, chord_at
from engine.compose.instruments import Instrument
from engine.compose.styles import Style

# An event: pitches (empty for a rest) and length in sixteenths.
Event = tuple[tuple[int, ...], int]


@dataclass(frozen=True)
class Comping:
    """The chords voice: its bars, and the bars whose first chord is held over from the bar
    before (a pushed chord, tied across the bar line rather than struck again)."""

    bars: list[list[Event]]
    tied: frozenset[int]


@dataclass(frozen=True)
class Band:
    """Who plays what, and around which pitch."""

    chords: Instrument
    bass: Instrument
    chord_centre: int
    bass_centre: int
    chord_low: int = 0  # the chords' lowest note, where the style keeps them over its bass

    def chord_fit(self, pitch: int) -> int:
        """A chord note moved by octaves into the chords' instrument, over ``chord_low``."""
        pitch = self.chords.fit(pitch)
        while pitch < self.chord_low and pitch + 12 <= self.chords.high:
            pitch += 12
        return pitch


def band(
    chords_inst: Instrument, bass_inst: Instrument, melody_register: int, floor: int = 0
) -> Band:
    """Centres for the chords (an octave or so below the melody) and the bass (two below),
    moved inside each instrument's range. ``floor``: the style's lowest bass centre
    (Style.bass_floor); the chords then sit a fifth over it and never go under it, so the
    raised bass stays the lowest voice (a final tonic over its fifth would not close)."""
    chord_centre = min(
        max(melody_register - 12, chords_inst.low + 9, 52, floor + 7), chords_inst.high - 9
    )
    bass_centre = min(
        max(melody_register - 27, bass_inst.low + 7, floor), bass_inst.high - 12, max(52, floor)
    )
    bass_centre = max(bass_centre, bass_inst.low + 5)
    return Band(chords_inst, bass_inst, chord_centre, bass_centre, min(floor, chord_centre))


def accompaniment(
    harmony: list[list[Span]],
    sections: list[Section],
    style: Style,
    band: Band,
    bar_len: int,
    compound: bool,
    first: str | None = None,
) -> Comping:
    """The chords voice. ``first``: a figure asked for by name (the brief's accompaniment),
    played in A sections in place of the style's own."""
    out: list[list[Event]] = []
    tied: set[int] = set()
    previous: tuple[int, ...] | None = None
    inst, centre = band.chords, band.chord_centre
    pushed = False
    for bar, section in _bars(sections):
        spans = harmony[bar]
        figure = _figure(style.comping, sections, section, first)
        pushed_into, pushed = pushed, False
        if bar == len(harmony) - 1:
            steps = _ending(style, bar_len, compound)
        else:
            steps = patterns.comp_steps(figure, bar_len, compound)
            if bar == section.start + section.bars - 1 and section.letter != "intro":
                steps = _breathe(steps)
            elif (bar - section.start) % 2 == 1 and section.letter != "intro":
                steps, pushed = _answer(steps, style.pushes)
        if inst.sustained and "C" in patterns.comp_steps(figure, bar_len, compound):
            steps, pushed = _held(spans), False
        following = harmony[bar + 1][0].chord if bar + 1 < len(harmony) else spans[-1].chord
        events: list[Event] = []
        for onset, length, role in _runs(steps):
            chord = following if pushed and onset == bar_len - 2 else chord_at(spans, onset)
            if role == ".":
                events.append(((), length))
            elif role == "C":
                low = max(inst.low, band.chord_low)
                voicing = chords.voice(
                    chord, style.voicing, low, inst.high, centre, previous, style.rootless
                )
                if onset == 0 and pushed_into and voicing == previous:
                    tied.add(bar)  # the chord pushed in before the bar line holds on
                previous = voicing
                events.append((voicing, length))
            else:
                events.append(((band.chord_fit(_broken(chord, role, centre)),), length))
        out.append(events)
    return Comping(out, frozenset(tied))


def bass_line(
    harmony: list[list[Span]],
    sections: list[Section],
    style: Style,
    band: Band,
    bar_len: int,
    compound: bool,
) -> list[list[Event]]:
    """The bass voice: the style's figures, a walking line where it walks."""
    out: list[list[Event]] = []
    inst, centre = band.bass, band.bass_centre
    last_pitch: int | None = None
    n_bars = len(harmony)
    for bar, section in _bars(sections):
        spans = harmony[bar]
        figure = _figure(style.bass, sections, section, None)
        following = harmony[bar + 1][0].chord if bar + 1 < n_bars else spans[-1].chord
        if inst.sustained:  # a pad's left hand holds each chord's root, as its chords do
            steps = _held(spans).replace("C", "1")
        elif bar == n_bars - 1:
            steps = _ending(style, bar_len, compound).replace("C", "1")
        elif figure == "walk" and not compound:
            events = walking_bass(spans, following, bar_len, inst, centre, last_pitch)
            last_pitch = events[-1][0][0]
            out.append(events)
            continue
        else:
            steps = patterns.bass_steps(figure, bar_len, compound)
        events = []
        cadence_bar = bar == section.start + section.bars - 1
        for onset, length, role in _runs(steps):
            chord = chord_at(spans, onset)
            if role == ".":
                events.append(((), length))
                continue
            nxt = following if onset + length >= bar_len else chord_at(spans, onset + length)
            pitch = _bass_note(chord, role, centre, nxt)
            if (
                style.inversions
                and role == "1"
                and not cadence_bar
                and last_pitch is not None
                and chord.third is not None
                and any(s.start == onset for s in spans)
            ):
                third = _near(chord.third, pitch)
                if abs(third - last_pitch) + 3 <= abs(pitch - last_pitch):
                    pitch = third  # first inversion: the bass moves by step
            pitch = inst.fit(pitch)
            events.append(((pitch,), length))
            last_pitch = pitch
        out.append(events)
    return out


def walking_bass(
    spans: list[Span],
    following: Chord,
    bar_len: int,
    inst: Instrument,
    centre: int,
    previous: int | None,
) -> list[Event]:
    """A quarter note on every beat: each chord's root on its first beat, then scale and
    chord tones that walk, mostly by step, to a half step from the next root."""
    beats = bar_len // 4
    out: list[Event] = []
    k = 0
    while k < beats:
        chord = chord_at(spans, k * 4)
        run = 1  # beats this chord lasts in the bar
        while k + run < beats and chord_at(spans, (k + run) * 4) is chord:
            run += 1
        after = following if k + run >= beats else chord_at(spans, (k + run) * 4)
        anchor = previous if previous is not None else centre
        root = _near(chord.root, min(max(anchor, centre - 7), centre + 7))
        target = _near(after.root, root)
        out += [((inst.fit(p),), 4) for p in _walk(chord, root, target, run)]
        previous = out[-1][0][0]
        k += run
    if bar_len % 4:
        out.append(((previous if previous is not None else centre,), bar_len % 4))
    return out


def _walk(chord: Chord, root: int, target: int, beats: int) -> list[int]:
    """``beats`` notes from ``root`` ending a half step from ``target``: the path with the
    most steps (1-2 semitones) through the chord's scale, no note repeated."""
    if beats == 1:
        return [root]
    tones = {(chord.root + i) % 12 for i in (*chord.intervals, 2, 5, 9)}
    last = target - 1 if target > root or (target == root and root % 2) else target + 1
    if beats == 2:
        return [root, last]
    inner = [p for p in range(root - 7, root + 8) if p % 12 in tones]
    best: tuple[float, list[int]] = (1e9, [])
    for path in itertools.product(inner, repeat=beats - 2):
        line = [root, *path, last]
        cost = 0.0
        for a, b in zip(line, line[1:], strict=False):
            d = abs(a - b)
            cost += 5.0 if d == 0 else 0.0 if d <= 2 else 1.0 if d <= 4 else 3.0
        if cost < best[0]:
            best = (cost, line)
    return best[1]


def drums(
    sections: list[Section], style: Style, bar_len: int, compound: bool, n_bars: int
) -> list[list[Event]]:
    """The drum voice: the section's groove, a fill in the last bar of every phrase that
    another follows, a crash opening each phrase, the ending figure in the last bar. The
    whole fill leads into a new section; a phrase that comes back (A to A') gets only its
    last beat, as a drummer saves the big fill for the change."""
    grooves = style.grooves or ("plain",)
    out: list[list[Event]] = []
    starts = {s.start: s for s in sections if s.letter != "intro"}
    beat = 6 if compound else 4
    for bar, section in _bars(sections):
        groove = _figure(grooves, sections, section, None)
        lines = dict(patterns.groove_lines(groove, bar_len, compound))
        if bar == n_bars - 1:
            kick = lines.get("kick", "")
            steady = all(kick[i : i + 1] == "x" for i in range(0, bar_len, 6 if compound else 4))
            # A four-on-the-floor keeps its kick to the end; other grooves stop on one.
            lines = {"kick": kick if steady else "x" + "." * (bar_len - 1)}
            lines["crash"] = "x" + "." * (bar_len - 1)
            if style.ending == "hold":
                lines["ride" if style.swing > 1 else "hat"] = (
                    "." * beat + "x" + "." * (bar_len - beat - 1)
                )
        elif bar + 1 in starts and bar + 1 < n_bars:
            fill = patterns.fill_lines(style.fill, compound)
            if starts[bar + 1].letter == section.letter:
                fill = {k: v[-beat:] for k, v in fill.items() if "x" in v[-beat:]} or fill
            length = min(bar_len, max(len(v) for v in fill.values()))
            lines = {k: v[: bar_len - length] + "." * length for k, v in lines.items()}
            for name, hits in fill.items():
                lines[name] = (lines.get(name, "." * bar_len)[: bar_len - length] + hits)[:bar_len]
        if bar in starts and bar > 0:
            lines["crash"] = "x" + lines.get("crash", "." * bar_len)[1:]
        out.append(_drum_events(lines, bar_len))
    return out


# --- helpers ------------------------------------------------------------------------------


def _bars(sections: list[Section]) -> list[tuple[int, Section]]:
    return [(s.start + b, s) for s in sections for b in range(s.bars)]


def _figure(
    names: tuple[str, ...], sections: list[Section], section: Section, first: str | None
) -> str:
    """The figure a section plays: its letter's (A the first, B the second, ...), but never
    the one the phrase before played, so every new phrase changes the texture (A A' B A
    alternate where a style has two figures). ``first``: a figure asked for by name, in
    place of the style's first."""
    if not names:
        return "sustain"
    chosen: list[int] = []
    body = [s for s in sections if s.letter != "intro"]
    if section.letter == "intro":  # the intro plays what the first phrase will
        section = body[0] if body else section
    for s in body or sections:
        k = s.variant % len(names)
        if chosen and k == chosen[-1] and len(names) > 1:
            k = (k + 1) % len(names)
        chosen.append(k)
        if s is section:
            break
    k = chosen[-1]
    return first if first and k == 0 else names[k]


def _breathe(steps: str) -> str:
    """A phrase's last bar: the figure's first half, then one chord held to the bar line, so
    the accompaniment breathes with the melody's cadence and leaves the fill room. Figures
    that already hold (pads, drones) are left as they are."""
    half = len(steps) // 2
    if "C" not in steps[:half] and not any(ch.isdigit() for ch in steps[:half]):
        return steps
    if steps[half:].strip("-") == "":
        return steps
    return steps[:half] + "C" + "-" * (len(steps) - half - 1)


def _answer(steps: str, pushes: bool) -> tuple[str, bool]:
    """A phrase's second (and fourth...) bar: the figure answering itself rather than
    repeating. A broken chord turns around (its tones in reverse order, the same rhythm);
    where the style pushes, chords anticipate the next bar's on the last eighth (True:
    that onset plays the next bar's chord). Figures that hold are left as they are."""
    tones = [ch for ch in steps if ch.isdigit()]
    if len(set(tones)) > 1:
        turned = iter(reversed(tones))
        return "".join(next(turned) if ch.isdigit() else ch for ch in steps), False
    last = len(steps) - 2
    if not pushes or "C" not in steps[1:] or last < 2:
        return steps, False
    return steps[:last] + "C-", True


def _held(spans: list[Span]) -> str:
    """A pad's bar: each chord struck where the harmony changes and held until the next,
    whatever figure the style gives the chords (a pad swells in: stabs, strums and off-beat
    chords on it are swells cut off). Broken-chord figures (single notes) are left to it;
    a bass line on a pad holds its roots the same way."""
    return "".join("C" + "-" * (s.length - 1) for s in spans)


def _ending(style: Style, bar_len: int, compound: bool) -> str:
    """The last bar: a held chord, or a short stab (a beat) and silence."""
    if style.ending == "hits":
        beat = 6 if compound else 4
        return "C" + "-" * (beat - 1) + "." * (bar_len - beat)
    return "C" + "-" * (bar_len - 1)


def _runs(steps: str) -> list[tuple[int, int, str]]:
    """A step string as (onset, length, role): '-' extends a note, '.' runs are rests."""
    out: list[tuple[int, int, str]] = []
    for i, ch in enumerate(steps):
        if out and (ch == "-" or (ch == "." and out[-1][2] == ".")):
            onset, length, role = out[-1]
            out[-1] = (onset, length + 1, role)
        else:
            out.append((i, 1, "." if ch == "-" else ch))
    return out


def _near(pc: int, centre: int) -> int:
    """The pitch of class ``pc`` closest to ``centre`` (ties go down)."""
    base = centre - ((centre - pc) % 12)
    return base if centre - base <= base + 12 - centre else base + 12


def _broken(chord: Chord, role: str, centre: int) -> int:
    """One note of a broken chord, going up from the root below the centre."""
    root = _near(chord.root, centre - 5)
    third = chord.third if chord.third is not None else chord.pcs[1]
    seventh = chord.seventh
    up = {
        "1": root,
        "3": root + (third - chord.root) % 12,
        "5": root + (chord.fifth - chord.root) % 12,
        "7": root + ((seventh if seventh is not None else chord.fifth) - chord.root) % 12,
        "8": root + 12,
        "6": root + 9,
    }
    if role == "9":  # the chord tone above the octave: its ninth, else its third
        return root + (14 if 14 in chord.intervals else 12 + (third - chord.root) % 12)
    return up.get(role, root)


def _bass_note(chord: Chord, role: str, centre: int, following: Chord) -> int:
    root = _near(chord.root, centre)
    if role == "a":
        target = _near(following.root, root)
        return target - 1 if target > root else target + 1
    offsets = {"1": 0, "3": (chord.pcs[1] - chord.root) % 12 if chord.third is not None else 7}
    offsets.update({"5": (chord.fifth - chord.root) % 12, "8": 12, "6": 9})
    offsets["7"] = (chord.seventh - chord.root) % 12 if chord.seventh is not None else 10
    offsets["9"] = 14
    pitch = root + offsets.get(role, 0)
    if role == "5" and pitch > centre + 8:
        pitch -= 12  # the fifth below rather than climbing away
    return pitch


def _drum_events(lines: dict[str, str], bar_len: int) -> list[Event]:
    hits = [
        tuple(
            sorted(patterns.DRUMS[name] for name, steps in lines.items() if steps[i : i + 1] == "x")
        )
        for i in range(bar_len)
    ]
    out: list[Event] = []
    for notes in hits:
        if notes or not out:
            out.append((notes, 1))
        else:
            out[-1] = (out[-1][0], out[-1][1] + 1)
    return out
