"""Options a person chose outright (style, tempo, key or mode, instruments) read from what
they typed into a form, checked, and described in words.

The hint is free text read leniently (unknown words are ignored); options are fields, read
strictly: a value that is not understood is refused with a sentence naming what is accepted,
built from the same tables the bridge uses (styles.py, the hint's instrument words, its
tempo range and modes). The rules bridge applies them after the picture's and the hint's
choices (rules.build_brief), so they always win, and says so in the motivation.
"""

from __future__ import annotations

import re

from engine.bridge.hints import INSTRUMENT_WORDS, MAX_TEMPO, MIN_TEMPO, MODES, clean_hint
from engine.compose.instruments import PROGRAM_NAMES
from engine.compose.styles import STYLES
from engine.errors import InvalidOption
from engine.types import PieceOptions

MAX_INSTRUMENTS = 3  # melody, harmony, bass
_ACCIDENTALS = {"#": "#", "♯": "#", "sharp": "#", "b": "b", "♭": "b", "flat": "b"}
_MODE_ALIASES = {
    "maj": "major",
    "min": "minor",
    "m": "minor",
    "aeolian": "minor",
    "ionian": "major",
}
KEY_RE = re.compile(
    r"^(?P<tonic>[a-g])\s*-?\s*(?P<acc>#|♯|b|♭|sharp|flat)?(?:\s+(?P<mode>[a-z]+)|(?P<m>m))?$",
    re.IGNORECASE,
)


def style_message() -> str:
    return "Unknown style: use " + _or(sorted(STYLES)) + "."


def tempo_message() -> str:
    return f"The tempo must be a whole number of beats per minute from {MIN_TEMPO} to {MAX_TEMPO}."


def key_message() -> str:
    return (
        "Unknown key: write a note and a mode, e.g. “D minor”, “F# dorian”, “Bb”, or a mode "
        f"alone ({_or(list(MODES))})."
    )


def instruments_message(word: str) -> str:
    known = ", ".join(sorted({w for w in INSTRUMENT_WORDS if " " not in w})[:24])
    return (
        f"Unknown instrument “{word}”: name up to {MAX_INSTRUMENTS}, melody first, separated "
        f"by commas, e.g. “violin, piano, cello” (I know {known} and more)."
    )


def read_options(
    *,
    style: str | None = None,
    tempo: int | float | str | None = None,
    key: str | None = None,
    instruments: str | None = None,
) -> PieceOptions | None:
    """What the person typed -> PieceOptions (None when nothing was given). Raises
    InvalidOption with the sentence for the first field not understood."""
    tonic, mode = read_key(key)
    options = PieceOptions(
        style=read_style(style),
        tempo=read_tempo(tempo),
        key=tonic,
        mode=mode,
        instruments=read_instruments(instruments),
    )
    return None if options.empty else options


def read_style(text: str | None) -> str | None:
    word = clean_hint(text).lower().strip() if text is not None else ""
    if not word:
        return None
    if word not in STYLES:
        raise InvalidOption(style_message())
    return word


def read_tempo(value: int | float | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).strip().lower().removesuffix("bpm").strip())
    except ValueError as exc:
        raise InvalidOption(tempo_message()) from exc
    if not number.is_integer() or not MIN_TEMPO <= number <= MAX_TEMPO:
        raise InvalidOption(tempo_message())
    return int(number)


def read_key(text: str | None) -> tuple[str | None, str | None]:
    """ "D minor" -> ("D", "minor"); "Bb" -> ("Bb", None); "dorian" -> (None, "dorian")."""
    cleaned = " ".join(clean_hint(text).split()) if text is not None else ""
    if not cleaned:
        return None, None
    alone = cleaned.lower()
    if _MODE_ALIASES.get(alone, alone) in MODES and alone != "m":
        return None, _MODE_ALIASES.get(alone, alone)
    match = KEY_RE.match(cleaned)
    if match is None:
        raise InvalidOption(key_message())
    word = (match["mode"] or match["m"] or "").lower()
    mode = _MODE_ALIASES.get(word, word) or None
    if mode is not None and mode not in MODES:
        raise InvalidOption(key_message())
    acc = match["acc"]
    tonic = match["tonic"].upper() + (_ACCIDENTALS[acc.lower()] if acc else "")
    return tonic, mode


def read_instruments(text: str | None) -> tuple[int, ...]:
    cleaned = clean_hint(text).lower() if text is not None else ""
    words = [w.strip() for w in re.split(r"[,;/+]|\band\b", cleaned) if w.strip()]
    programs: list[int] = []
    for word in words:
        program = INSTRUMENT_WORDS.get(word, INSTRUMENT_WORDS.get(word.removesuffix("s")))
        if program is None:
            raise InvalidOption(instruments_message(word))
        if program not in programs:
            programs.append(program)
    if len(programs) > MAX_INSTRUMENTS:
        raise InvalidOption(instruments_message(words[MAX_INSTRUMENTS]))
    return tuple(programs)


def options_words(options: PieceOptions) -> list[str]:
    """The options in words, in the order the form asks for them: ["jazz", "120 bpm", ...]."""
    out = []
    if options.style:
        out.append(f"{options.style} style")
    if options.tempo:
        out.append(f"{options.tempo} bpm")
    if options.key or options.mode:
        out.append(" ".join(x for x in (options.key, options.mode) if x))
    if options.instruments:
        out.append(", ".join(PROGRAM_NAMES.get(p, f"program {p}") for p in options.instruments))
    return out


def _or(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)
