"""Musical features of a corpus tune, read straight from its ABC text.

A full ABC parser (symusic's abc2midi, music21) costs milliseconds per tune in a subprocess
or seconds to import; the index reads 13,000 tunes, so this module has a small tokenizer
that knows just enough ABC for statistics: notes with accidentals, octaves and lengths, the
key signature, chords (the first note is the melody), grace notes, tuplets, bar lines and
repeats. Decorations, chord symbols, lyrics and comments are skipped. The numbers are for
describing and ranking tunes, not for playing them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from engine.retrieve.corpus import CorpusTune

_LETTER_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_ORDER = "FCGDAEB"
_MAJOR_FIFTHS = {
    "C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7,
    "F": -1, "Bb": -2, "Eb": -3, "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7,
    "Fb": -8, "G#": 8, "D#": 9, "A#": 10, "E#": 11, "B#": 12,
}  # fmt: skip
# How many fifths a mode sits below (or above) the major key on the same tonic.
_MODE_FIFTHS = {
    "lydian": 1, "major": 0, "mixolydian": -1, "dorian": -2,
    "minor": -3, "phrygian": -4, "locrian": -5,
}  # fmt: skip
_ACCIDENTALS = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}

# Tempo (quarter notes per minute) of the common dance types, as they are played.
TYPE_TEMPO = {
    "reel": 200,
    "hornpipe": 160,
    "jig": 180,
    "slip jig": 180,
    "slide": 200,
    "strathspey": 130,
    "fling": 140,
    "polka": 220,
    "clog": 160,
    "march": 112,
    "waltz": 150,
    "air": 80,
    "song": 100,
}
TEMPO_WORDS = (  # checked in order: "very slow" before "slow"
    ("very slow", 56),
    ("slow", 72),
    ("adagio", 66),
    ("andant", 84),
    ("plaintive", 72),
    ("moderat", 100),
    ("allegretto", 116),
    ("spirit", 132),
    ("lively", 132),
    ("brisk", 140),
    ("quick", 150),
    ("allegro", 140),
    ("vivace", 160),
)

_TOKEN = re.compile(
    r"""
      (?P<skip>%[^\n]*|^[H-Zh-z]:[^\n]*|"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|\{[^}]*\})
    | (?P<inline>\[[A-Za-z]:[^\]\n]*\])
    | (?P<tuplet>\((?P<tp>[2-9])(?::\d*){0,2})
    | (?P<bar>::|\[?:*\|+[\]:]*\d?|:+\]?)
    | (?P<volta>\[\d)
    | (?P<note>(?P<acc>\^\^|\^|__|_|=)?(?P<letter>[A-Ga-g])(?P<oct>[,']*)(?P<num>\d*)(?P<slash>/*)(?P<den>\d*))
    | (?P<rest>[zx](?P<rnum>\d*)(?P<rslash>/*)(?P<rden>\d*))
    | (?P<mrest>Z(?P<znum>\d*))
    | (?P<open>\[)
    | (?P<close>\](?P<cnum>\d*)(?P<cslash>/*)(?P<cden>\d*))
    """,
    re.M | re.X,
)


@dataclass
class TuneFeatures:
    key: str
    mode: str
    meter: str
    tempo: int  # quarter notes per minute (from Q:, a tempo word, or the tune type)
    tempo_source: str  # "Q", "words" or "default"
    tune_type: str  # reel, jig, hornpipe, ..., song, air, tune
    notes: int
    lowest: int  # MIDI pitch
    highest: int
    mean_pitch: float
    pitch_range: int  # semitones
    notes_per_beat: float  # per quarter note
    notes_per_second: float
    density: float  # 0 (sparse, long notes) .. 1 (busy, short notes): the MusicBrief scale
    step_ratio: float  # share of intervals of at most two semitones
    leap_ratio: float  # share of intervals larger than a fourth
    direction: str  # rising | falling | arching | level
    bars: int
    beats: float  # quarter notes, with repeats
    duration: float  # seconds, with repeats


def key_signature(key: str, mode: str) -> dict[str, int]:
    """Letter -> alteration for a key, e.g. ("D", "dorian") -> {"F": 0, "C": 0, ...}."""
    fifths = _MAJOR_FIFTHS.get(key, 0) + _MODE_FIFTHS.get(mode, 0)
    sig = dict.fromkeys(_LETTER_SEMITONES, 0)
    if fifths > 0:
        for i in range(fifths):
            sig[_SHARP_ORDER[i % 7]] += 1
    else:
        for i in range(-fifths):
            sig[_SHARP_ORDER[::-1][i % 7]] -= 1
    return sig


def _length(num: str, slash: str, den: str) -> Fraction:
    """ABC note length in unit notes: "3" -> 3, "/" -> 1/2, "//" -> 1/4, "3/2" -> 3/2."""
    value = Fraction(int(num)) if num else Fraction(1)
    if den:
        value /= int(den)
    elif slash:
        value /= 2 ** len(slash)
    return value


def density_from_rate(notes_per_second: float) -> float:
    """Notes per second -> 0..1 on a log scale: 1 note/s is 0, 8 notes/s is 1."""
    if notes_per_second <= 0:
        return 0.0
    return float(min(max(math.log2(notes_per_second) / 3.0, 0.0), 1.0))


def rate_from_density(density: float) -> float:
    """The inverse of ``density_from_rate``."""
    return float(2 ** (3.0 * min(max(density, 0.0), 1.0)))


def tune_type(tune: CorpusTune) -> str:
    """The dance or song type, from R:, the title, or the collection."""
    text = f"{tune.rhythm} {tune.title}".lower()
    for name in ("slip jig", "slipjig", "double jig", "single jig"):
        if name in text:
            return "slip jig" if name.startswith("slip") else "jig"
    for name in ("hornpipe", "reel", "jig", "strathspey", "fling", "polka", "march", "waltz"):
        if name in text:
            return name
    for name in ("clog", "slide", "air"):
        if re.search(rf"\b{name}\b", text):
            return name
    if tune.collection == "essenFolksong":
        return "song"
    return "tune"


def default_tempo(tune: CorpusTune, kind: str) -> tuple[int, str]:
    """(quarter notes per minute, source) when the tune has no Q: field."""
    words = tune.tempo_text.lower()
    for word, bpm in TEMPO_WORDS:
        if word in words:
            return bpm, "words"
    if kind in TYPE_TEMPO:
        return TYPE_TEMPO[kind], "default"
    # By meter: compound meters move in dotted beats, cut time in half notes.
    by_meter = {"6/8": 150, "9/8": 150, "12/8": 150, "3/8": 120, "2/2": 160, "3/2": 150}
    return by_meter.get(tune.meter, 100), "default"


def tune_features(tune: CorpusTune) -> TuneFeatures:
    """Features of one tune. Never raises on odd ABC: unknown characters are skipped."""
    unit = Fraction(tune.unit) if "/" in tune.unit else Fraction(1, 8)
    signature = key_signature(tune.key, tune.mode)
    bar_accidentals: dict[tuple[str, int], int] = {}

    pitches: list[int] = []
    pc_weight = [0.0] * 12  # time spent on each pitch class, for guessing an unnamed mode
    length = Fraction(0)  # unit notes, as written
    repeated = Fraction(0)  # unit notes played again by repeats
    section_start = Fraction(0)
    bars = 0
    tuplet_left, tuplet_factor = 0, Fraction(1)
    in_chord, chord_has_note = False, False
    chord_length = Fraction(0)  # the chord's first note: "[CEG]2" doubles it

    for m in _TOKEN.finditer(tune.body):
        kind = m.lastgroup
        if kind == "note":
            if in_chord and chord_has_note:
                continue  # only a chord's first note counts as melody
            letter = m["letter"]
            upper = letter.upper()
            octave = (72 if letter.islower() else 60) + 12 * (
                m["oct"].count("'") - m["oct"].count(",")
            )
            if m["acc"]:
                bar_accidentals[(upper, octave)] = _ACCIDENTALS[m["acc"]]
            alter = bar_accidentals.get((upper, octave), signature[upper])
            pitch = octave + _LETTER_SEMITONES[upper] + alter
            pitches.append(pitch)
            duration = _length(m["num"], m["slash"], m["den"])
            if tuplet_left:
                duration *= tuplet_factor
                tuplet_left -= 1
            length += duration
            pc_weight[pitch % 12] += float(duration)
            chord_has_note = in_chord
            chord_length = duration
        elif kind == "rest":
            length += _length(m["rnum"], m["rslash"], m["rden"])
        elif kind == "bar":
            bars += 1
            bar_accidentals.clear()
            token = m["bar"]
            if token.startswith(":"):  # end of a repeated section
                repeated += length - section_start
                section_start = length
            if token.endswith(":") or token == "::":
                section_start = length
        elif kind == "tuplet":
            p = int(m["tp"])
            # (p notes in the time of q: q is 3 for 2, 4 and 8, else 2 (simple meters).
            q = 3 if p in (2, 4, 8) else 2
            tuplet_left, tuplet_factor = p, Fraction(q, p)
        elif kind == "open":
            in_chord, chord_has_note = True, False
        elif kind == "close":
            if in_chord and chord_has_note and (m["cnum"] or m["cslash"]):
                length += chord_length * (_length(m["cnum"], m["cslash"], m["cden"]) - 1)
            in_chord = False
        elif kind == "mrest":
            bars += int(m["znum"] or 1)

    mode = tune.mode if tune.mode_explicit else infer_mode(tune.key, pc_weight)
    kind_name = tune_type(tune)
    if tune.tempo:
        tempo, source = tune.tempo, "Q"
    else:
        tempo, source = default_tempo(tune, kind_name)

    beats = float((length + repeated) * unit * 4)
    played_notes = len(pitches) * (float((length + repeated) / length) if length else 1.0)
    duration = beats * 60.0 / tempo if tempo else 0.0
    notes_per_beat = len(pitches) / float(length * unit * 4) if length else 0.0
    notes_per_second = played_notes / duration if duration else 0.0

    if pitches:
        intervals = [abs(b - a) for a, b in zip(pitches, pitches[1:], strict=False)]
        n_int = max(len(intervals), 1)
        step_ratio = sum(i <= 2 for i in intervals) / n_int
        leap_ratio = sum(i > 5 for i in intervals) / n_int
        direction = _direction(pitches)
        lowest, highest = min(pitches), max(pitches)
        mean_pitch = sum(pitches) / len(pitches)
    else:
        step_ratio = leap_ratio = 0.0
        direction = "level"
        lowest = highest = 0
        mean_pitch = 0.0

    return TuneFeatures(
        key=tune.key,
        mode=mode,
        meter=tune.meter,
        tempo=int(tempo),
        tempo_source=source,
        tune_type=kind_name,
        notes=len(pitches),
        lowest=lowest,
        highest=highest,
        mean_pitch=round(mean_pitch, 2),
        pitch_range=highest - lowest,
        notes_per_beat=round(notes_per_beat, 3),
        notes_per_second=round(notes_per_second, 3),
        density=round(density_from_rate(notes_per_second), 3),
        step_ratio=round(step_ratio, 3),
        leap_ratio=round(leap_ratio, 3),
        direction=direction,
        bars=bars,
        beats=round(beats, 2),
        duration=round(duration, 2),
    )


def infer_mode(key: str, pc_weight: list[float]) -> str:
    """The mode of a tune whose K: names only its tonic, from the thirds, sixths and
    sevenths above that tonic (Essen writes minor songs as "K: G" plus accidentals)."""
    tonic = (_LETTER_SEMITONES.get(key[:1], 0) + key.count("#") - key[1:].count("b")) % 12

    def w(interval: int) -> float:
        return pc_weight[(tonic + interval) % 12]

    if w(3) > 1.5 * w(4):
        return "dorian" if w(9) > 1.5 * w(8) else "minor"
    if w(10) > 1.5 * w(11):
        return "mixolydian"
    return "major"


def _direction(pitches: list[int]) -> str:
    """The overall shape: compare the mean pitch of the first, middle and last thirds."""
    if len(pitches) < 6:
        return "level"
    third = len(pitches) // 3
    first = sum(pitches[:third]) / third
    middle = sum(pitches[third:-third]) / max(len(pitches) - 2 * third, 1)
    last = sum(pitches[-third:]) / third
    if middle - max(first, last) >= 2.0:
        return "arching"
    if last - first >= 2.0:
        return "rising"
    if first - last >= 2.0:
        return "falling"
    return "level"
