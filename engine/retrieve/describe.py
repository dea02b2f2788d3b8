"""MidiCaps-style descriptions, for corpus tunes (from their features) and for briefs.

Both sides are written by the same phrase functions so that a brief and a tune with the
same key, meter, tempo, register and density read alike and embed close together. Every
phrase is drawn from a small vocabulary on purpose: tunes that share a description share
an embedding, so the index embeds each distinct description only once.
"""

from __future__ import annotations

from engine.retrieve.corpus import CorpusTune
from engine.retrieve.features import TuneFeatures
from engine.types import MusicBrief

MINOR_FAMILY = frozenset({"minor", "dorian", "phrygian", "locrian", "aeolian"})

# (upper bound in quarter notes per minute, the Italian word MidiCaps uses)
TEMPO_MARKINGS = (
    (60, "Largo"),
    (76, "Adagio"),
    (108, "Andante"),
    (120, "Moderato"),
    (156, "Allegro"),
    (176, "Vivace"),
    (10_000, "Presto"),
)

# Where a tune comes from, by collection, by Essen file prefix and by O: keywords.
COLLECTION_ORIGIN = {
    "oneills1850": "Irish",
    "airdsAirs": "Scottish",
    "ryansMammoth": "American",
    "miscFolk": "British",
}
ORIGIN_WORDS = (
    ("china", "Chinese"),
    ("luxemb", "Luxembourgish"),
    ("lothring", "Lorraine"),
    ("elsass", "Alsatian"),
    ("oesterreich", "Austrian"),
    ("schweiz", "Swiss"),
    ("niederland", "Dutch"),
    ("jugoslaw", "Balkan"),
    ("polen", "Polish"),
    ("irland", "Irish"),
    ("deutschland", "German"),
    ("europa", "European"),
)
TYPE_WORDS = {"song": "folk song", "tune": "folk tune", "air": "slow air"}


def mode_family(mode: str) -> str:
    return "minor" if mode in MINOR_FAMILY else "major"


def tempo_marking(bpm: int) -> str:
    for bound, word in TEMPO_MARKINGS:
        if bpm < bound:
            return word
    return "Presto"


def rounded_tempo(bpm: int) -> int:
    """Tempo as a description states it: to the nearest 5 (fewer distinct sentences)."""
    return int(5 * round(bpm / 5))


def mood_words(mode: str, tempo: int, density: float) -> str:
    """Two mood words from mode family and pace: what a listener would say first."""
    pace = tempo * (0.6 + 0.8 * density)  # busy melodies feel faster than their tempo
    minor = mode_family(mode) == "minor"
    if pace >= 150:
        return "dark, driving" if minor else "lively, energetic"
    if pace >= 100:
        return "wistful, flowing" if minor else "cheerful, bright"
    if pace >= 70:
        return "melancholic, tender" if minor else "gentle, warm"
    return "sad, mournful" if minor else "calm, peaceful"


def register_phrase(mean_pitch: float) -> str:
    if mean_pitch < 64:
        return "a low register"
    if mean_pitch < 72:
        return "a middle register"
    return "a high register"


def density_phrase(density: float) -> str:
    if density < 0.25:
        return "long, held notes"
    if density < 0.5:
        return "a relaxed flow of notes"
    if density < 0.75:
        return "a steady stream of notes"
    return "many quick, short notes"


def motion_phrase(step_ratio: float, leap_ratio: float) -> str:
    if leap_ratio > 0.2:
        return "leaps widely"
    if step_ratio >= 0.7:
        return "moves mostly by step"
    return "mixes steps and leaps"


def range_phrase(semitones: int) -> str:
    if semitones < 10:
        return "within a narrow range"
    if semitones <= 16:
        return "over a moderate range"
    return "over a wide range"


DIRECTION_PHRASES = {
    "rising": "climbs towards the end",
    "falling": "settles downwards",
    "arching": "arches up and back down",
    "level": "stays around one level",
}


def key_phrase(key: str, mode: str, meter: str, tempo: int) -> str:
    """The sentence both sides share: key, mode, meter and tempo, in MidiCaps' words."""
    time_sig = "in free time" if meter == "free" else f"with a {meter} time signature"
    bpm = rounded_tempo(tempo)
    marking = tempo_marking(bpm)
    article = "an" if marking[0] in "AEIOU" else "a"
    return f"in {key} {mode} {time_sig}, at {article} {marking} tempo of {bpm} bpm"


def origin_word(tune: CorpusTune) -> str:
    if tune.collection in COLLECTION_ORIGIN:
        return COLLECTION_ORIGIN[tune.collection]
    text = tune.origin.lower()
    for needle, word in ORIGIN_WORDS:
        if needle in text:
            return word
    # Essen's Chinese collections say so in their file names, not always in O:.
    stem = tune.id.split("/")[1] if tune.id.count("/") >= 2 else ""
    if stem.startswith(("han", "natmin", "shanxi")):
        return "Chinese"
    return "traditional"


def describe_tune(tune: CorpusTune, f: TuneFeatures) -> str:
    """A tune -> "A lively, energetic Irish jig. It is in D major with a 6/8 time signature,
    at a Presto tempo of 180 bpm. The melody ..." (three sentences, embedded one by one).

    A tune with a real caption (an imported MidiCaps piece) is described by its caption.
    """
    if tune.caption:
        return tune.caption
    kind = TYPE_WORDS.get(f.tune_type, f.tune_type)
    return (
        f"A {mood_words(f.mode, f.tempo, f.density)} {origin_word(tune)} {kind}. "
        f"It is {key_phrase(f.key, f.mode, f.meter, f.tempo)}. "
        f"The melody {motion_phrase(f.step_ratio, f.leap_ratio)} in "
        f"{register_phrase(f.mean_pitch)} {range_phrase(f.pitch_range)}, "
        f"with {density_phrase(f.density)}, and {DIRECTION_PHRASES[f.direction]}."
    )


def describe_brief(brief: MusicBrief) -> str:
    """A brief -> a description worded like ``describe_tune``'s, for the query embedding."""
    moods = ", ".join(m.strip() for m in brief.moods[:2] if m.strip()) or mood_words(
        brief.mode, brief.tempo, brief.density
    )
    genre = brief.genre.strip() or "folk"
    return (
        f"A {moods} {genre} piece. "
        f"It is {key_phrase(brief.key, brief.mode, brief.meter, brief.tempo)}. "
        f"The melody moves in {register_phrase(float(brief.register))}, "
        f"with {density_phrase(brief.density)}."
    )
