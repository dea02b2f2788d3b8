"""A lead sheet: a single-voice melody (with chord symbols or without) read for arranging.

A language model writes a tune, sometimes with chord symbols in quotes; abc2midi would play
those as a plain vamp. Read here, the tune becomes what the Markov composer hands to write.py:
bars of (pitch, sixteenths), a chord for every part of every bar, and sections, so the
arrangement is the style's (comping, bass, drums) whoever wrote the melody.

- The melody: the first voice; a chord inside it gives its top note; lengths are rounded
  to sixteenths (triplets become 1-2-1); a short first bar (a pickup) is padded with a rest
  in front and played as a one-bar intro, a short last bar with a rest behind.
- Chords: the model's own symbols where it wrote them ("Am", "G7", "F#m7b5", "Bb/D": the
  bass note is ignored; unknown ones are dropped). A bar without a symbol is fitted: the
  style's chords in the tune's key, the one whose tones hold the bar's strong-beat and long
  notes best, with small root motion preferred (measured round the circle of fifths, so V-I
  is a small move and a chord written before carries on while it still fits), the style's cadences pulled in at every phrase end (4 bars) and the final
  cadence forced onto the last bar. Even meters may change chord at the half bar where that
  fits markedly better and the style changes chords at least once a bar.
- Sections: 4-bar phrases (the last may be shorter), lettered by rhythm: a phrase whose bars
  mostly share their onsets with an earlier phrase takes its letter (A A B A), so the
  arrangement changes texture where the tune does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from engine.compose import chords
from engine.compose.abc import (
    _TOKEN,
    MODE_STEPS,
    Event,
    pitch_class,
    read_tune,
    tonic_and_mode,
)
from engine.compose.chords import Chord
from engine.compose.form import Section, Span
from engine.compose.rhythm import Meter
from engine.compose.styles import MINOR_MODES, Style, style_for
from engine.compose.write import MelodyBar, write_abc
from engine.types import MusicBrief

PHRASE = 4  # bars
_SAME_PHRASE = 0.75  # share of bars with the same onsets that makes two phrases one letter
_SPLIT_GAIN = 0.25  # how much better two half-bar chords must fit than one whole-bar chord
_CADENCE_PULL = 0.35  # fit a phrase-end chord gives up to play the style's cadence
_MOTION = 0.15  # cost of a root moving a tritone, less the closer on the circle of fifths
_FIELD_LINE = re.compile(r"^([A-Za-z]):(.*)$")

# Lead-sheet qualities: intervals above the root and the Chord kind.
_QUALITIES: dict[str, tuple[tuple[int, ...], str]] = {
    "": ((0, 4, 7), "triad"),
    "maj": ((0, 4, 7), "triad"),
    "m": ((0, 3, 7), "triad"),
    "min": ((0, 3, 7), "triad"),
    "-": ((0, 3, 7), "triad"),
    "dim": ((0, 3, 6), "triad"),
    "o": ((0, 3, 6), "triad"),
    "aug": ((0, 4, 8), "triad"),
    "+": ((0, 4, 8), "triad"),
    "5": ((0, 7), "power"),
    "sus": ((0, 5, 7), "colour"),
    "sus2": ((0, 2, 7), "colour"),
    "sus4": ((0, 5, 7), "colour"),
    "add9": ((0, 4, 7, 14), "colour"),
    "madd9": ((0, 3, 7, 14), "colour"),
    "6": ((0, 4, 7, 9), "seventh"),
    "m6": ((0, 3, 7, 9), "seventh"),
    "7": ((0, 4, 7, 10), "seventh"),
    "9": ((0, 4, 7, 10, 14), "seventh"),
    "7sus4": ((0, 5, 7, 10), "colour"),
    "maj7": ((0, 4, 7, 11), "seventh"),
    "M7": ((0, 4, 7, 11), "seventh"),
    "maj9": ((0, 4, 7, 11, 14), "seventh"),
    "m7": ((0, 3, 7, 10), "seventh"),
    "min7": ((0, 3, 7, 10), "seventh"),
    "-7": ((0, 3, 7, 10), "seventh"),
    "m9": ((0, 3, 7, 10, 14), "seventh"),
    "mmaj7": ((0, 3, 7, 11), "seventh"),
    "m7b5": ((0, 3, 6, 10), "seventh"),
    "dim7": ((0, 3, 6, 9), "seventh"),
    "o7": ((0, 3, 6, 9), "seventh"),
}
_SYMBOL = re.compile(r"^([A-G])([#b]?)([^/]*)(?:/[A-G][#b]?)?$")


@dataclass(frozen=True)
class LeadSheet:
    """A melody ready for write.write_abc: bars, chords and sections cover the same bars."""

    title: str
    tonic: str
    mode: str
    meter: Meter
    tempo: int
    register: int  # the melody's middle pitch: the chords and bass go below it
    melody: list[MelodyBar]
    harmony: list[list[Span]]
    sections: list[Section]
    written: int  # bars that kept the model's own chord symbols


def parse_symbol(text: str, tonic_pc: int = 0, mode: str = "major") -> Chord | None:
    """A lead-sheet chord symbol ("Am", "G7", "F#m7b5", "Bb/D") as a Chord, None if it is not
    one; the key only names the scale degree."""
    m = _SYMBOL.match(text.strip())
    if not m:
        return None
    letter, accidental, quality = m.groups()
    shape = _QUALITIES.get(quality.replace("(", "").replace(")", ""))
    if shape is None:
        return None
    root = (pitch_class(letter) + {"#": 1, "b": -1}.get(accidental, 0)) % 12
    steps = MODE_STEPS.get(mode, MODE_STEPS["major"])
    rel = (root - tonic_pc) % 12
    degree = min(range(7), key=lambda d: ((rel - steps[d]) % 12, d))
    return Chord(root, shape[0], degree, shape[1])


def read_lead_sheet(abc: str, brief: MusicBrief) -> LeadSheet:
    """The tune's melody, chords and sections in the brief's style. Raises ValueError when it
    has no melody to arrange."""
    tune = read_tune(abc)
    voice = next((v for v in tune.voices.values() if v.notes()), None)
    if voice is None:
        raise ValueError("no melody to arrange")
    headers = tune.headers
    tonic, mode = tonic_and_mode(headers.get("K", f"{brief.key}"))
    if mode not in MODE_STEPS:
        mode = "major"
    meter = Meter.parse(headers.get("M", brief.meter) or brief.meter)
    bar_len = meter.bar_len
    style = style_for(brief.genre)

    melody: list[MelodyBar] = []
    pads: list[int] = []  # sixteenths of rest put in front of each bar
    for i, bar in enumerate(voice.bars):
        notes = _sixteenths(bar)
        total = sum(n for _, n in notes)
        if total > bar_len:
            notes, total = _cut(notes, bar_len), bar_len
        pad = bar_len - total if i == 0 and total < bar_len and len(voice.bars) > 1 else 0
        if pad:
            notes = [(None, pad), *notes]
        elif total < bar_len:
            notes = [*notes, (None, bar_len - total)]
        melody.append(notes)
        pads.append(pad)
    if not melody:
        raise ValueError("no melody to arrange")

    pickup = 1 if pads[0] else 0
    sections = _sections(melody, pickup)
    tonic_pc = pitch_class(tonic)
    symbols = _symbols(abc, voice.bars, pads, tonic_pc, mode)
    harmony = _fit(melody, symbols, sections, style, tonic_pc, mode, meter)
    played = sorted(p for bar in melody for p, _ in bar if p is not None)
    title = headers.get("T", "") or f"{brief.genre} in {tonic} {mode}"
    return LeadSheet(
        title=title,
        tonic=tonic,
        mode=mode,
        meter=meter,
        tempo=_tempo(headers.get("Q", ""), brief.tempo),
        register=played[len(played) // 2],
        melody=melody,
        harmony=harmony,
        sections=sections,
        written=sum(1 for bar in symbols if bar),
    )


def arrange_lead_sheet(abc: str, brief: MusicBrief, notes: list[str]) -> str:
    """A single-voice tune as the whole piece: melody, chords, bass (and drums) in the brief's
    style and with its instruments. Raises ValueError when the tune cannot be read."""
    sheet = read_lead_sheet(abc, brief)
    return write_abc(
        brief,
        sheet.tonic,
        sheet.mode,
        sheet.meter,
        sheet.tempo,
        sheet.register,
        sheet.melody,
        sheet.harmony,
        sheet.sections,
        notes,
        title=sheet.title,
    )


# --- the melody ---------------------------------------------------------------------------


def _sixteenths(bar: list[Event]) -> MelodyBar:
    """A bar's events in sixteenths: onsets rounded, so tuplets keep the bar's length."""
    out: MelodyBar = []
    t = Fraction(0)
    for event in bar:
        start, end = round(t * 16), round((t + event.length) * 16)
        t += event.length
        if end > start:
            out.append((max(event.pitches) if event.pitches else None, end - start))
    return out


def _cut(notes: MelodyBar, bar_len: int) -> MelodyBar:
    out: MelodyBar = []
    left = bar_len
    for pitch, n in notes:
        if left <= 0:
            break
        out.append((pitch, min(n, left)))
        left -= n
    return out


def _tempo(q_field: str, default: int) -> int:
    """Q: as quarter notes per minute: '1/4=90' -> 90, '3/8=60' -> 90, '100' -> 100."""
    m = re.search(r"(?:(\d+)/(\d+)\s*=\s*)?(\d+)\s*$", q_field.strip().strip('"'))
    bpm = float(default)
    if m:
        beat = Fraction(1, 4)
        if m.group(1) and int(m.group(2)):
            beat = Fraction(int(m.group(1)), int(m.group(2)))
        bpm = int(m.group(3)) * float(beat * 4)
    return int(min(max(round(bpm), 30), 240))


def _sections(melody: list[MelodyBar], pickup: int) -> list[Section]:
    """A pickup bar as the intro, then 4-bar phrases lettered by their rhythm."""
    out = [Section("intro", 0, 1, "")] if pickup else []
    starts = list(range(pickup, len(melody), PHRASE))
    shapes: list[tuple[str, list[frozenset[int]]]] = []
    letters: list[str] = []
    for start in starts:
        shape = [_onsets(bar) for bar in melody[start : start + PHRASE]]
        letter = next((ltr for ltr, s in shapes if _alike(s, shape)), None)
        if letter is None:
            letter = chr(ord("A") + min(len(shapes), 25))
            shapes.append((letter, shape))
        letters.append(letter)
    for i, (start, letter) in enumerate(zip(starts, letters, strict=True)):
        bars = min(PHRASE, len(melody) - start)
        if i == len(starts) - 1:
            cadence = "final"
        elif letter != "A" or i % 2 == 0:
            cadence = "half"
        else:
            cadence = "tonic"
        out.append(Section(letter, start, bars, cadence))
    return out


def _onsets(bar: MelodyBar) -> frozenset[int]:
    out, t = set(), 0
    for pitch, n in bar:
        if pitch is not None:
            out.add(t)
        t += n
    return frozenset(out)


def _alike(a: list[frozenset[int]], b: list[frozenset[int]]) -> bool:
    same = sum(1 for x, y in zip(a, b, strict=False) if x == y)
    return same >= _SAME_PHRASE * max(len(a), len(b))


# --- chord symbols ------------------------------------------------------------------------


def _symbols(
    abc: str, bars: list[list[Event]], pads: list[int], tonic_pc: int, mode: str
) -> list[list[tuple[int, Chord]]]:
    """(onset in sixteenths, chord) of each bar's readable symbols; none at all if the tune's
    bars cannot be matched with what read_tune made of them."""
    found: list[list[tuple[int, str]]] = [[]]  # (event index, symbol) per bar
    counts = [0]
    in_body = False
    for raw in abc.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not in_body:
            in_body = line.startswith("K:")
            continue
        if raw.startswith("%%"):
            continue
        line = line.split("%")[0].strip()
        if not line or (_FIELD_LINE.match(line) and not line.startswith("|")):
            continue
        pending: str | None = None
        for m in _TOKEN.finditer(line):
            kind = m.lastgroup
            if kind == "text" and m.group()[1:2] not in ("^", "_", "<", ">", "@"):
                pending = m.group()[1:-1]
            elif kind in ("note", "chord", "rest", "mrest"):
                if pending is not None:
                    found[-1].append((counts[-1], pending))
                    pending = None
                counts[-1] += 1
            elif kind == "bar" and counts[-1]:
                found.append([])
                counts.append(0)
    if counts and not counts[-1]:
        found.pop()
        counts.pop()
    if counts != [len(bar) for bar in bars]:
        return [[] for _ in bars]
    out: list[list[tuple[int, Chord]]] = []
    for bar, symbols, pad in zip(bars, found, pads, strict=True):
        onsets, t = [], Fraction(0)
        for event in bar:
            onsets.append(pad + round(t * 16))
            t += event.length
        chords_here = []
        for index, text in symbols:
            chord = parse_symbol(text, tonic_pc, mode)
            if chord is not None:
                chords_here.append((onsets[index], chord))
        out.append(chords_here)
    return out


# --- fitting chords -----------------------------------------------------------------------


def _fit(
    melody: list[MelodyBar],
    symbols: list[list[tuple[int, Chord]]],
    sections: list[Section],
    style: Style,
    tonic_pc: int,
    mode: str,
    meter: Meter,
) -> list[list[Span]]:
    """Every bar's chords: the written symbols, else the best-fitting chord of the style."""
    table = style.minor if mode in MINOR_MODES else style.major
    pool = {c.symbol: c for p in table for c in chords.progression(p, tonic_pc, mode)}
    wanted = _cadence_chords(sections, style, tonic_pc, mode)
    for c in wanted.values():
        pool.setdefault(c.symbol, c)
    candidates = list(pool.values())
    tonic = next((c for c in candidates if c.root == tonic_pc), candidates[0])
    bar_len, beat = meter.bar_len, 6 if meter.compound else 4
    halves = bar_len % (2 * beat) == 0 and style.harmonic_rhythm >= 1
    motion = _MOTION / max(0.25, style.harmonic_rhythm)
    final = len(melody) - 1
    out: list[list[Span]] = []
    previous: Chord | None = None
    for b, bar in enumerate(melody):
        if symbols[b]:
            spans = _written(symbols[b], previous, bar_len)
        elif b == final:
            spans = [Span(wanted.get(b, tonic), 0, bar_len)]
        else:
            spans = _fitted(bar, candidates, previous, wanted.get(b), motion, halves, beat)
            if b == 0 and previous is None and _coverage(bar, 0, bar_len, tonic, beat) >= 0.5:
                spans = [Span(tonic, 0, bar_len)]  # open on the home chord where it fits
        out.append(spans)
        previous = spans[-1].chord
    return out


def _written(symbols: list[tuple[int, Chord]], previous: Chord | None, bar_len: int) -> list[Span]:
    """Spans of a bar's own symbols; before the first, the chord that was sounding."""
    marks = sorted(dict(symbols).items())
    if marks[0][0] > 0:
        marks.insert(0, (0, previous if previous is not None else marks[0][1]))
    spans = []
    for k, (onset, chord) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else bar_len
        if end > onset:
            spans.append(Span(chord, onset, end - onset))
    return spans


def _fitted(
    bar: MelodyBar,
    candidates: list[Chord],
    previous: Chord | None,
    cadence: Chord | None,
    motion: float,
    halves: bool,
    beat: int,
) -> list[Span]:
    """One chord for the bar, or two where the halves fit markedly better (never in a
    cadence bar: the cadence chord takes the whole bar)."""
    bar_len = sum(n for _, n in bar)

    def best(lo: int, hi: int, before: Chord | None, pull: Chord | None) -> tuple[float, Chord]:
        scored = []
        for c in candidates:
            score = _coverage(bar, lo, hi, c, beat)
            if before is not None:
                fifths = (c.root - before.root) * 7 % 12  # steps round the circle of fifths
                score -= motion * min(fifths, 12 - fifths) / 6
                score -= 0.02 if c != before else 0.0  # a new chord only if it fits better
            if pull is not None and c == pull:
                score += _CADENCE_PULL
            scored.append((score, c))
        return max(scored, key=lambda sc: sc[0])

    whole_score, whole = best(0, bar_len, previous, cadence)
    if halves and cadence is None:
        half = bar_len // 2
        first_score, first = best(0, half, previous, None)
        second_score, second = best(half, bar_len, first, None)
        if first != second and (first_score + second_score) / 2 > whole_score + _SPLIT_GAIN:
            return [Span(first, 0, half), Span(second, half, half)]
    return [Span(whole, 0, bar_len)]


def _coverage(bar: MelodyBar, lo: int, hi: int, chord: Chord, beat: int) -> float:
    """How well a chord holds the notes sounding in [lo, hi): the share of their weight that
    is chord tones, notes weighted by their length there and doubled on a beat (a note held
    into the span counts as struck on its first beat)."""
    pcs = set(chord.pcs)
    held = total = 0.0
    t = 0
    for pitch, n in bar:
        start, end = max(t, lo), min(t + n, hi)
        if pitch is not None and end > start:
            weight = (end - start) * (2.0 if start % beat == 0 else 1.0)
            total += weight
            held += weight if pitch % 12 in pcs else 0.0
        t += n
    return held / total if total else 0.5


def _cadence_chords(
    sections: list[Section], style: Style, tonic_pc: int, mode: str
) -> dict[int, Chord]:
    """Bar -> the cadence chord asked for there: each phrase's cadence tokens on its last bars
    (only the final one in a style whose progression runs on, as form.plan_harmony does)."""
    out: dict[int, Chord] = {}
    for section in sections:
        if not section.cadence or (style.continuous and section.cadence != "final"):
            continue
        tokens = getattr(style.cadences, section.cadence).split()[-section.bars :]
        end = section.start + section.bars
        for k, token in enumerate(tokens):
            out[end - len(tokens) + k] = chords.parse(token, tonic_pc, mode)
    return out
