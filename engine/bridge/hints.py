"""Reading a user's free-text hint ("sad piano", "jazzy, faster", "in A minor at 120 bpm").

The hint is untrusted: it is cleaned (control characters dropped, length capped at 200
characters) and read with keyword tables only; words we do not know are ignored. The result
is a ``Hint``: what to change, and which words were understood. The rules bridge applies it.

Explicit requests (a key, "minor", "3/4", "120 bpm", "no drums") win over what mood words
imply ("sad" implies minor, "calm" implies no drums), and a genre word on its own over one
inside an instrument's name ("rock guitar" implies rock; "funk, rock guitar" is funk).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from engine.errors import InvalidOption

MAX_HINT_CHARS = 200  # the one limit: the CLI, the bots and retrieval read it from here
MIN_TEMPO, MAX_TEMPO = 50, 180
METERS = ("2/4", "3/4", "4/4", "6/8")
MODES = ("major", "minor", "dorian", "mixolydian", "lydian", "phrygian")


@dataclass
class Hint:
    """What a hint asks for. Empty fields mean "as the image says"."""

    text: str = ""  # the cleaned hint, safe to quote
    genre: str | None = None
    implied_genre: str | None = None  # named inside an instrument's name ("rock guitar")
    moods: list[str] = field(default_factory=list)
    mode: str | None = None  # asked for explicitly ("minor", "in D dorian")
    implied_mode: str | None = None  # suggested by a mood word ("sad")
    key: str | None = None  # tonic in ABC spelling
    meter: str | None = None
    tempo: int | None = None  # explicit bpm
    tempo_factor: float = 1.0  # "faster" > 1, "slower" < 1
    instruments: list[int] = field(default_factory=list)  # GM programs, melody first
    bass: int | None = None  # a bass instrument that was named
    avoid: list[int] = field(default_factory=list)  # "no piano"
    drums: bool | None = None
    implied_drums: bool | None = None
    accompaniment: str | None = None
    loudness: int = 0  # steps of dynamics, + is louder
    density: float = 0.0  # added to the density
    register: int = 0  # semitones
    matched: list[str] = field(default_factory=list)  # words understood, in order
    notes: list[str] = field(default_factory=list)  # requests we could not honour exactly

    @property
    def empty(self) -> bool:
        return not self.matched


# ---------------------------------------------------------------- tables

BASS_PROGRAMS = frozenset({32, 33, 34, 35, 38, 43})

# word or phrase -> GM program (0-based)
INSTRUMENT_WORDS: dict[str, int] = {
    "piano": 0,
    "grand piano": 0,
    "keys": 0,
    "bright piano": 1,
    "electric piano": 4,
    "rhodes": 4,
    "epiano": 4,
    "harpsichord": 6,
    "celesta": 8,
    "glockenspiel": 9,
    "music box": 10,
    "vibraphone": 11,
    "vibes": 11,
    "marimba": 12,
    "xylophone": 13,
    "bells": 14,
    "chimes": 14,
    "hammond": 16,
    "organ": 19,
    "church organ": 19,
    "accordion": 21,
    "harmonica": 22,
    "guitar": 25,
    "acoustic guitar": 25,
    "classical guitar": 24,
    "nylon guitar": 24,
    "spanish guitar": 24,
    "ukulele": 24,
    "jazz guitar": 26,
    "electric guitar": 27,
    "rock guitar": 30,
    "distorted guitar": 30,
    "bass": 33,
    "bass guitar": 33,
    "electric bass": 33,
    "double bass": 32,
    "upright bass": 32,
    "contrabass": 43,
    "synth bass": 38,
    "violin": 40,
    "fiddle": 110,
    "viola": 41,
    "cello": 42,
    "strings": 48,
    "string": 48,
    "string quartet": 48,
    "orchestra": 48,
    "harp": 46,
    "choir": 52,
    "voices": 52,
    "vocals": 52,
    "voice": 52,
    "trumpet": 56,
    "trombone": 57,
    "tuba": 58,
    "horn": 60,
    "french horn": 60,
    "brass": 61,
    "sax": 65,
    "saxophone": 65,
    "alto sax": 65,
    "tenor sax": 66,
    "oboe": 68,
    "bassoon": 70,
    "clarinet": 71,
    "flute": 73,
    "recorder": 74,
    "pan flute": 75,
    "panpipes": 75,
    "whistle": 78,
    "ocarina": 79,
    "synth": 81,
    "synthesizer": 81,
    "pad": 89,
    "sitar": 104,
    "banjo": 105,
    "koto": 107,
    "kalimba": 108,
    "bagpipe": 109,
    "bagpipes": 109,
    "steel drums": 114,
    "steel drum": 114,
}

# word or phrase -> effect. Keys of an effect: genre, moods, mode, implied_mode, meter,
# tempo_factor, drums, implied_drums, accompaniment, loudness, density, register.
WORD_EFFECTS: dict[str, dict[str, Any]] = {
    # genres
    "jazz": {"genre": "jazz"},
    "jazzy": {"genre": "jazz"},
    "swing": {"genre": "jazz"},
    "bossa": {"genre": "jazz"},
    "bebop": {"genre": "jazz"},
    "blues": {"genre": "blues", "moods": ["bluesy"]},
    "bluesy": {"genre": "blues", "moods": ["bluesy"]},
    "shuffle": {"genre": "blues"},
    "boogie": {"genre": "blues"},
    "funk": {"genre": "funk", "implied_drums": True},
    "funky": {"genre": "funk", "implied_drums": True},
    "disco": {"genre": "funk", "implied_drums": True},
    "soul": {"genre": "funk"},
    "house": {"genre": "electronic", "implied_drums": True},
    "dance": {"genre": "electronic", "implied_drums": True},
    "folk": {"genre": "folk"},
    "folky": {"genre": "folk"},
    "celtic": {"genre": "folk"},
    "irish": {"genre": "folk"},
    "scottish": {"genre": "folk"},
    "country": {"genre": "folk"},
    "classical": {"genre": "classical"},
    "baroque": {"genre": "classical"},
    "orchestral": {"genre": "cinematic"},
    "symphonic": {"genre": "cinematic"},
    "cinematic": {"genre": "cinematic"},
    "film": {"genre": "cinematic"},
    "movie": {"genre": "cinematic"},
    "soundtrack": {"genre": "cinematic"},
    "epic": {"genre": "cinematic", "moods": ["epic"], "loudness": 1, "implied_drums": True},
    "electronic": {"genre": "electronic"},
    "electro": {"genre": "electronic"},
    "techno": {"genre": "electronic", "implied_drums": True},
    "edm": {"genre": "electronic", "implied_drums": True},
    "synthwave": {"genre": "electronic"},
    "chiptune": {"genre": "electronic"},
    "ambient": {"genre": "ambient"},
    "lofi": {"genre": "ambient", "moods": ["relaxed"], "tempo_factor": 0.85},
    "lo fi": {"genre": "ambient", "moods": ["relaxed"], "tempo_factor": 0.85},
    "pop": {"genre": "pop"},
    "poppy": {"genre": "pop"},
    "rock": {"genre": "rock", "implied_drums": True},
    "lullaby": {"genre": "lullaby", "moods": ["gentle"], "loudness": -1, "implied_drums": False},
    # forms that fix a meter
    "waltz": {"genre": "waltz", "meter": "3/4", "accompaniment": "waltz"},
    "march": {"meter": "2/4", "accompaniment": "march", "implied_drums": True},
    "jig": {"meter": "6/8", "genre": "folk"},
    "reel": {"meter": "4/4", "genre": "folk", "tempo_factor": 1.15},
    "hymn": {"genre": "classical", "accompaniment": "block", "tempo_factor": 0.85},
    "chorale": {"genre": "classical", "accompaniment": "block"},
    "drone": {"accompaniment": "drone"},
    "arpeggio": {"accompaniment": "arpeggio"},
    "arpeggios": {"accompaniment": "arpeggio"},
    "arpeggiated": {"accompaniment": "arpeggio"},
    "alberti": {"accompaniment": "alberti"},
    "chords": {"accompaniment": "block"},
    "triple time": {"meter": "3/4"},
    "common time": {"meter": "4/4"},
    # moods
    "happy": {"implied_mode": "major", "moods": ["happy"], "tempo_factor": 1.1},
    "joyful": {"implied_mode": "major", "moods": ["joyful"], "tempo_factor": 1.1},
    "cheerful": {"implied_mode": "major", "moods": ["cheerful"], "tempo_factor": 1.1},
    "uplifting": {"implied_mode": "major", "moods": ["uplifting"]},
    "sunny": {"implied_mode": "major", "moods": ["sunny"]},
    "sad": {"implied_mode": "minor", "moods": ["sad"], "tempo_factor": 0.85},
    "melancholic": {"implied_mode": "minor", "moods": ["melancholic"], "tempo_factor": 0.9},
    "melancholy": {"implied_mode": "minor", "moods": ["melancholic"], "tempo_factor": 0.9},
    "gloomy": {"implied_mode": "minor", "moods": ["gloomy"], "tempo_factor": 0.9},
    "mournful": {"implied_mode": "minor", "moods": ["mournful"], "tempo_factor": 0.85},
    "calm": {
        "moods": ["calm"],
        "tempo_factor": 0.85,
        "loudness": -1,
        "density": -0.15,
        "implied_drums": False,
    },
    "peaceful": {
        "moods": ["peaceful"],
        "tempo_factor": 0.85,
        "loudness": -1,
        "implied_drums": False,
    },
    "relaxing": {
        "moods": ["relaxed"],
        "tempo_factor": 0.85,
        "loudness": -1,
        "implied_drums": False,
    },
    "relaxed": {"moods": ["relaxed"], "tempo_factor": 0.85, "loudness": -1, "implied_drums": False},
    "serene": {"moods": ["serene"], "tempo_factor": 0.85, "loudness": -1, "implied_drums": False},
    "gentle": {"moods": ["gentle"], "loudness": -1, "implied_drums": False},
    "chill": {"moods": ["relaxed"], "tempo_factor": 0.9, "loudness": -1},
    "energetic": {
        "moods": ["energetic"],
        "tempo_factor": 1.2,
        "loudness": 1,
        "density": 0.15,
        "implied_drums": True,
    },
    "upbeat": {"moods": ["upbeat"], "tempo_factor": 1.2, "implied_drums": True},
    "lively": {"moods": ["lively"], "tempo_factor": 1.15, "density": 0.1},
    "exciting": {"moods": ["exciting"], "tempo_factor": 1.15, "loudness": 1},
    "intense": {"moods": ["intense"], "loudness": 1, "density": 0.15},
    "dark": {"implied_mode": "minor", "moods": ["dark"]},
    "spooky": {"implied_mode": "phrygian", "moods": ["spooky"]},
    "scary": {"implied_mode": "phrygian", "moods": ["eerie"]},
    "creepy": {"implied_mode": "phrygian", "moods": ["eerie"]},
    "eerie": {"implied_mode": "phrygian", "moods": ["eerie"]},
    "mysterious": {"implied_mode": "dorian", "moods": ["mysterious"]},
    "dreamy": {"implied_mode": "lydian", "moods": ["dreamy"], "loudness": -1},
    "ethereal": {"implied_mode": "lydian", "moods": ["ethereal"], "loudness": -1},
    "magical": {"implied_mode": "lydian", "moods": ["magical"]},
    "romantic": {"moods": ["romantic"], "tempo_factor": 0.9},
    "tender": {"moods": ["tender"], "loudness": -1},
    "nostalgic": {"implied_mode": "dorian", "moods": ["nostalgic"], "tempo_factor": 0.9},
    "angry": {
        "implied_mode": "minor",
        "moods": ["angry"],
        "tempo_factor": 1.2,
        "loudness": 2,
        "implied_drums": True,
    },
    "aggressive": {
        "implied_mode": "minor",
        "moods": ["aggressive"],
        "tempo_factor": 1.2,
        "loudness": 2,
        "implied_drums": True,
    },
    "tense": {"implied_mode": "minor", "moods": ["tense"]},
    "triumphant": {"implied_mode": "major", "moods": ["triumphant"], "loudness": 1},
    "heroic": {"implied_mode": "major", "moods": ["heroic"], "loudness": 1, "genre": "cinematic"},
    "majestic": {"implied_mode": "major", "moods": ["majestic"], "loudness": 1},
    "playful": {"implied_mode": "major", "moods": ["playful"], "tempo_factor": 1.1, "density": 0.1},
    "whimsical": {"implied_mode": "major", "moods": ["whimsical"], "density": 0.1},
    "fun": {"implied_mode": "major", "moods": ["playful"], "tempo_factor": 1.1},
    # tempo
    "faster": {"tempo_factor": 1.2},
    "fast": {"tempo_factor": 1.25},
    "quick": {"tempo_factor": 1.2},
    "quicker": {"tempo_factor": 1.2},
    "speedy": {"tempo_factor": 1.25},
    "rapid": {"tempo_factor": 1.25},
    "slower": {"tempo_factor": 0.8},
    "slow": {"tempo_factor": 0.8},
    "slowly": {"tempo_factor": 0.8},
    # dynamics, density, register
    "louder": {"loudness": 1},
    "loud": {"loudness": 1},
    "powerful": {"loudness": 1},
    "softer": {"loudness": -1},
    "soft": {"loudness": -1},
    "quieter": {"loudness": -1},
    "quiet": {"loudness": -1},
    "busy": {"density": 0.2},
    "busier": {"density": 0.2},
    "dense": {"density": 0.2},
    "complex": {"density": 0.2},
    "intricate": {"density": 0.2},
    "sparse": {"density": -0.2},
    "sparser": {"density": -0.2},
    "simple": {"density": -0.2},
    "simpler": {"density": -0.2},
    "minimal": {"density": -0.25},
    "minimalist": {"density": -0.25},
    "higher": {"register": 5},
    "high pitched": {"register": 5},
    "high register": {"register": 5},
    "lower": {"register": -5},
    "low pitched": {"register": -5},
    "low register": {"register": -5},
    # modes
    "major": {"mode": "major"},
    "ionian": {"mode": "major"},
    "minor": {"mode": "minor"},
    "aeolian": {"mode": "minor"},
    "dorian": {"mode": "dorian"},
    "modal": {"mode": "dorian"},
    "mixolydian": {"mode": "mixolydian"},
    "lydian": {"mode": "lydian"},
    "phrygian": {"mode": "phrygian"},
    # drums
    "drums": {"drums": True},
    "drum": {"drums": True},
    "percussion": {"drums": True},
    "beat": {"drums": True},
    "beats": {"drums": True},
    "groove": {"drums": True},
    "drumless": {"drums": False},
    "unplugged": {"implied_drums": False},
}

# Words that make the next recognised word mean its opposite ("no drums", "without piano").
NEGATORS = frozenset({"no", "not", "without", "non", "nothing", "zero"})
# Words that double the next effect ("much faster", "very calm").
INTENSIFIERS = frozenset({"very", "much", "really", "super", "extra", "way"})

EMOJI_WORDS: dict[str, str] = {
    "🎹": "piano",
    "🎸": "guitar",
    "🎻": "violin",
    "🎺": "trumpet",
    "🎷": "saxophone",
    "🥁": "drums",
    "🪕": "banjo",
    "🪗": "accordion",
    "🪈": "flute",
    "😢": "sad",
    "😭": "sad",
    "☹": "sad",
    "🙁": "sad",
    "😊": "happy",
    "😀": "happy",
    "😄": "happy",
    "🙂": "happy",
    "😁": "happy",
    "😌": "calm",
    "💤": "calm",
    "🔥": "energetic",
    "⚡": "energetic",
    "🌙": "dreamy",
    "✨": "magical",
    "❤": "romantic",
    "💕": "romantic",
    "👻": "spooky",
    "💀": "dark",
    "🎉": "joyful",
}

_ACCIDENTAL = r"(#|♯|b|♭|-?sharp|-?flat)?"
_MODE_WORD = r"(major|minor|maj|min|dorian|mixolydian|lydian|phrygian|aeolian|ionian)"
# "A minor", "in f# dorian", "Bb major", "e-flat minor"
KEY_WITH_MODE = re.compile(rf"(?<![a-z0-9])([a-g])\s*{_ACCIDENTAL}\s+{_MODE_WORD}\b", re.IGNORECASE)
# "in D", "in Am", "in F#m", "key of Eb" (a capital letter, so "in a calm mood" is no key)
KEY_SHORT = re.compile(r"\b(?:in|key of)\s+([A-G])(#|b)?(m)?(?![A-Za-z0-9#])")
METER_RE = re.compile(r"(?<!\d)(\d{1,2})\s*/\s*(\d{1,2})(?!\d)")
BPM_RE = re.compile(r"(?<!\d)(\d{1,5})\s*(?:bpm|beats per minute|beats a minute)\b", re.IGNORECASE)
TEMPO_RE = re.compile(r"\btempo\s*(?:of|=|:|at)?\s*(\d{1,5})(?!\d)", re.IGNORECASE)

_MODE_ALIASES = {
    "maj": "major",
    "min": "minor",
    "aeolian": "minor",
    "ionian": "major",
    "m": "minor",
}


def clean_hint(text: object) -> str:
    """Untrusted text -> at most MAX_HINT_CHARS printable characters on one line ("" for
    non-text)."""
    if not isinstance(text, str):
        return ""
    text = unicodedata.normalize("NFKC", text[: MAX_HINT_CHARS * 4])
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\t\n\r":
            kept.append(" ")
        elif category[0] != "C" or ch == "\u200d":  # drop control, format, surrogate, unassigned
            kept.append(ch)
    cleaned = " ".join("".join(kept).split())
    if len(cleaned) > MAX_HINT_CHARS:
        cleaned = cleaned[:MAX_HINT_CHARS].rsplit(" ", 1)[0] or cleaned[:MAX_HINT_CHARS]
    return cleaned


def hint_too_long_message() -> str:
    return f"That hint is too long: use up to {MAX_HINT_CHARS} characters."


def check_hint(hint: str | None) -> str | None:
    """A person's hint as every front door takes it (CLI and bots alike): None when absent or
    blank; ``InvalidOption`` when longer than ``MAX_HINT_CHARS`` (whitespace collapsed);
    otherwise ``clean_hint``'s text, so control and format characters (terminal escapes,
    bidi overrides) never reach the history."""
    if hint is None:
        return None
    if len(" ".join(hint.split())) > MAX_HINT_CHARS:
        raise InvalidOption(hint_too_long_message())
    return clean_hint(hint) or None


def parse_hint(text: str | None) -> Hint:
    """Read a free-text hint. Never raises; unknown words are ignored."""
    cleaned = clean_hint(text)
    hint = Hint(text=cleaned)
    if not cleaned:
        return hint
    rest = _read_patterns(cleaned, hint)

    lowered = rest.lower()
    for emoji, word in EMOJI_WORDS.items():
        lowered = lowered.replace(emoji, f" {word} ")
    tokens = re.findall(r"[a-z]+", lowered)
    _read_words(tokens, hint)
    return hint


def _read_patterns(text: str, hint: Hint) -> str:
    """Keys, meters and tempi written out; returns the text with those parts removed."""
    for pattern in (BPM_RE, TEMPO_RE):
        match = pattern.search(text)
        if match:
            bpm = int(match.group(1))
            clamped = min(max(bpm, MIN_TEMPO), MAX_TEMPO)
            if clamped != bpm:
                hint.notes.append(f"{bpm} bpm is out of range; used {clamped}")
            hint.tempo = clamped
            hint.matched.append(match.group(0).strip())
            text = text[: match.start()] + " " + text[match.end() :]
            break

    match = METER_RE.search(text)
    if match:
        meter = f"{int(match.group(1))}/{int(match.group(2))}"
        if meter in METERS:
            hint.meter = meter
            hint.matched.append(meter)
        else:
            hint.notes.append(f"{meter} is not a meter I write; kept the image's")
        text = text[: match.start()] + " " + text[match.end() :]

    match = KEY_WITH_MODE.search(text)
    if match:
        hint.key = _spell(match.group(1), match.group(2))
        mode = match.group(3).lower()
        hint.mode = _MODE_ALIASES.get(mode, mode)
    else:
        match = KEY_SHORT.search(text)
        if match:
            hint.key = _spell(match.group(1), match.group(2))
            if match.group(3):
                hint.mode = "minor"
    if match:
        hint.matched.append(match.group(0).strip())
        text = text[: match.start()] + " " + text[match.end() :]
    return text


def _spell(letter: str, accidental: str | None) -> str:
    accidental = (accidental or "").lower().lstrip("-")
    suffix = {"#": "#", "♯": "#", "sharp": "#", "b": "b", "♭": "b", "flat": "b"}.get(accidental, "")
    return letter.upper() + suffix


def _lookup(tokens: list[str], i: int) -> tuple[str, int] | None:
    """The longest known phrase starting at tokens[i]: (phrase, length)."""
    for n in (3, 2, 1):
        if i + n > len(tokens):
            continue
        phrase = " ".join(tokens[i : i + n])
        if phrase in WORD_EFFECTS or phrase in INSTRUMENT_WORDS:
            return phrase, n
        if n == 1 and phrase.endswith("s") and (phrase[:-1] in INSTRUMENT_WORDS):
            return phrase[:-1], 1  # "violins"
    return None


def _read_words(tokens: list[str], hint: Hint) -> None:
    negate_until = -1
    intensify_until = -1
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in NEGATORS:
            negate_until = i + 2  # "no drums", "without any drums"
            i += 1
            continue
        if token in INTENSIFIERS:
            intensify_until = i + 1
            i += 1
            continue
        found = _lookup(tokens, i)
        if found is None:
            i += 1
            continue
        phrase, n = found
        negated = i <= negate_until
        strength = 2 if i <= intensify_until else 1
        negate_until = intensify_until = -1  # they reach the next known word only
        if phrase in INSTRUMENT_WORDS:
            _apply_instrument(hint, INSTRUMENT_WORDS[phrase], negated)
            if not negated:
                _apply_genre_inside(hint, phrase)
        elif not negated:
            _apply_effect(hint, WORD_EFFECTS[phrase], strength)
        elif WORD_EFFECTS[phrase].get("drums") is True:
            hint.drums = False
        else:
            i += n
            continue  # "not sad": we do not guess what the opposite of a mood is
        hint.matched.append(("no " if negated else "") + phrase)
        i += n


def _apply_instrument(hint: Hint, program: int, negated: bool) -> None:
    if negated:
        if program not in hint.avoid:
            hint.avoid.append(program)
    elif program in BASS_PROGRAMS:
        hint.bass = hint.bass if hint.bass is not None else program
    elif program not in hint.instruments:
        hint.instruments.append(program)


def _apply_genre_inside(hint: Hint, phrase: str) -> None:
    """An instrument named with a genre word in its name asks for that genre too: "rock
    guitar" is rock (its tempo, drums and power chords) led by a distorted guitar, "jazz
    guitar" a jazz piece on an archtop. Only implied: a genre word of its own wins ("funk
    with a rock guitar" is funk). "classical guitar" (a nylon-string guitar) counts as well:
    with no other genre named, its own repertoire, broken chords in functional harmony, is
    what a guitarist plays on it; "bossa nova on classical guitar" stays jazz."""
    for word in phrase.split():
        effect = WORD_EFFECTS.get(word, {})
        if "genre" in effect:
            implied = {("implied_genre" if k == "genre" else k): v for k, v in effect.items()}
            _apply_effect(hint, implied, 1)


def _apply_effect(hint: Hint, effect: dict[str, Any], strength: int) -> None:
    for name, value in effect.items():
        if name == "moods":
            hint.moods.extend(m for m in value if m not in hint.moods)
        elif name == "tempo_factor":
            hint.tempo_factor *= value**strength
        elif name in ("loudness", "register"):
            setattr(hint, name, getattr(hint, name) + value * strength)
        elif name == "density":
            hint.density += value * strength
        elif getattr(hint, name) is None:
            setattr(hint, name, value)  # the first word to ask for something wins
    hint.tempo_factor = min(max(hint.tempo_factor, 0.5), 2.0)
