"""ABC notation helpers: keys and spelling for writing, a small reader, and validation.

Shared by every composer: the Markov composer writes with these, a language-model composer
checks (and repairs) its output with ``validate_abc``. The reader understands the subset of
ABC 2.1 found in folk-tune collections (notes, chords, rests, broken rhythm, tuplets,
decorations, inline fields, voices); it is for measuring, not for rendering: symusic renders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

from engine.errors import RenderError

# --- keys and modes -------------------------------------------------------------------

NATURAL_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
LETTERS = "CDEFGAB"

# Semitones of each mode's seven degrees above its tonic.
MODE_STEPS: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
# How far each mode's tonic lies above the tonic of the major scale with the same notes.
_MODE_OFFSET = {
    "major": 0,
    "dorian": 2,
    "phrygian": 4,
    "lydian": 5,
    "mixolydian": 7,
    "minor": 9,
    "locrian": 11,
}
_MODE_ABBREV = {
    "": "major", "maj": "major", "ion": "major", "m": "minor", "min": "minor", "aeo": "minor",
    "dor": "dorian", "phr": "phrygian", "lyd": "lydian", "mix": "mixolydian", "loc": "locrian",
}  # fmt: skip
_MODE_CODE = {"major": "", "minor": "m", "dorian": "dor", "phrygian": "phr", "lydian": "lyd", "mixolydian": "mix", "locrian": "loc"}  # fmt: skip
_SHARP_ORDER = "FCGDAEB"


def pitch_class(tonic: str) -> int:
    """'F#' -> 6, 'Bb' -> 10."""
    if not tonic or tonic[0].upper() not in NATURAL_PC:
        raise ValueError(f"not a tonic: {tonic!r}")
    pc = NATURAL_PC[tonic[0].upper()]
    for ch in tonic[1:]:
        pc += 1 if ch == "#" else -1 if ch == "b" else 0
    return pc % 12


def tonic_and_mode(k_field: str) -> tuple[str, str]:
    """ABC K: value -> (tonic, mode): 'Gm' -> ('G', 'minor'), 'A Mixolydian' -> ('A', 'mixolydian').

    Unknown or empty keys ('none', 'Hp', clef-only) read as C major / A mixolydian (pipes)."""
    text = k_field.strip()
    if text.lower().startswith("k:"):
        text = text[2:].strip()
    if text[:2] in ("Hp", "HP"):
        return "A", "mixolydian"
    m = re.match(r"([A-Ga-g])([#b]?)\s*([A-Za-z]*)", text)
    if not m:
        return "C", "major"
    tonic = m.group(1).upper() + m.group(2)
    word = m.group(3).lower()
    if word.startswith(("clef", "treble", "bass", "alto", "tenor", "none", "exp")):
        word = ""
    mode = _MODE_ABBREV.get(word[:3] if len(word) >= 3 else word)
    if mode is None:
        mode = "minor" if word.startswith("m") and not word.startswith("mix") else "major"
    return tonic, mode


def key_field(tonic: str, mode: str) -> str:
    """('A', 'dorian') -> 'Ador' (what goes after K:)."""
    return tonic + _MODE_CODE.get(mode, "")


def key_signature(tonic: str, mode: str) -> dict[str, int]:
    """Letter -> -1/0/+1 for the key signature of tonic+mode: ('D', 'major') -> F and C sharp."""
    major_pc = (pitch_class(tonic) - _MODE_OFFSET.get(mode, 0)) % 12
    fifths = (major_pc * 7) % 12  # number of sharps, 0..11
    if fifths > 6 or (fifths == 6 and "b" in tonic):
        fifths -= 12  # flats
    # Respect the tonic's own spelling where a signature exists for it (C# major, Cb major).
    if "#" in tonic and fifths < 0 and fifths + 12 <= 7:
        fifths += 12
    if "b" in tonic and fifths > 0 and fifths - 12 >= -7:
        fifths -= 12
    sig = dict.fromkeys(LETTERS, 0)
    if fifths > 0:
        for letter in _SHARP_ORDER[:fifths]:
            sig[letter] = 1
    else:
        for letter in _SHARP_ORDER[::-1][:-fifths]:
            sig[letter] = -1
    return sig


def scale_pcs(tonic: str, mode: str) -> list[int]:
    """The seven pitch classes of the mode, degree 1 first."""
    t = pitch_class(tonic)
    return [(t + s) % 12 for s in MODE_STEPS.get(mode, MODE_STEPS["major"])]


# --- writing --------------------------------------------------------------------------


class BarSpeller:
    """Spells MIDI pitches as ABC notes in a key, bar by bar.

    An accidental written in a bar holds for the rest of the bar, so once a letter has been
    altered every later note on that letter in the bar gets an explicit accidental."""

    def __init__(self, tonic: str, mode: str) -> None:
        self.sig = key_signature(tonic, mode)
        self._altered: set[str] = set()

    def new_bar(self) -> None:
        self._altered.clear()

    def note(self, midi: int) -> str:
        letter, acc = self._choose(midi % 12)
        explicit = acc != self.sig[letter] or letter in self._altered
        if acc != self.sig[letter]:
            self._altered.add(letter)
        prefix = {1: "^", -1: "_", 0: "="}[acc] if explicit else ""
        return prefix + _octave_letter(letter, (midi - acc - NATURAL_PC[letter]) // 12)

    def _choose(self, pc: int) -> tuple[str, int]:
        in_key = [
            (L, a)
            for L in LETTERS
            for a in (-1, 0, 1)
            if (NATURAL_PC[L] + a) % 12 == pc and a == self.sig[L]
        ]
        if in_key:
            return in_key[0]
        naturals = [L for L in LETTERS if NATURAL_PC[L] == pc]
        if naturals:
            return naturals[0], 0
        # Composers here only alter notes upwards (leading notes, the raised 7th, V in minor),
        # so a chromatic note is spelt as a raised letter: G# rather than Ab, in any key.
        return next(L for L in LETTERS if (NATURAL_PC[L] + 1) % 12 == pc), 1


def _octave_letter(letter: str, octave: int) -> str:
    """MIDI octave 5 (middle C = 60) is 'C'..'B', 6 is 'c'..'b', with , and ' beyond."""
    if octave >= 6:
        return letter.lower() + "'" * (octave - 6)
    return letter + "," * (5 - octave)


def duration_token(sixteenths: int | Fraction) -> str:
    """Length in sixteenths -> ABC length suffix for L:1/8 (2 -> '', 4 -> '2', 1 -> '/2', 3 -> '3/2')."""
    eighths = Fraction(sixteenths) / 2
    if eighths == 1:
        return ""
    if eighths.denominator == 1:
        return str(eighths.numerator)
    if eighths.numerator == 1:
        return f"/{eighths.denominator}"
    return f"{eighths.numerator}/{eighths.denominator}"


def build_header(
    *,
    title: str,
    meter: str,
    tempo: int,
    tonic: str,
    mode: str,
    number: int = 1,
    composer: str | None = None,
) -> str:
    """The tune header, K: last (L:1/8 always; Q: in quarter notes per minute)."""
    lines = [f"X:{number}", f"T:{title}"]
    if composer:
        lines.append(f"C:{composer}")
    lines += [f"M:{meter}", "L:1/8", f"Q:1/4={int(tempo)}", f"K:{key_field(tonic, mode)}"]
    return "\n".join(lines) + "\n"


def meter_fraction(meter: str) -> Fraction:
    """Bar length in whole notes: '3/4' -> 3/4. 'C' and 'C|' are 4/4 and 2/2."""
    m = meter.strip()
    if m == "C":
        return Fraction(1)
    if m == "C|":
        return Fraction(1)
    match = re.fullmatch(r"(\d+(?:\+\d+)*)\s*/\s*(\d+)", m)
    if not match or int(match.group(2)) == 0:
        raise ValueError(f"not a meter: {meter!r}")
    num = sum(int(x) for x in match.group(1).split("+"))
    return Fraction(num, int(match.group(2)))


# --- reading --------------------------------------------------------------------------

# Decorations that abc2midi and music21 both accept (!name! form, ABC 2.1 section 4.14).
KNOWN_DECORATIONS = frozenset(
    [
        "trill",
        "lowermordent",
        "uppermordent",
        "mordent",
        "pralltriller",
        "roll",
        "turn",
        "turnx",
        "invertedturn",
        "invertedturnx",
        "arpeggio",
        ">",
        "accent",
        "emphasis",
        "fermata",
        "invertedfermata",
        "tenuto",
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "+",
        "plus",
        "snap",
        "slide",
        "wedge",
        "upbow",
        "downbow",
        "open",
        "thumb",
        "breath",
        "pppp",
        "ppp",
        "pp",
        "p",
        "mp",
        "mf",
        "f",
        "ff",
        "fff",
        "ffff",
        "sfz",
        "crescendo(",
        "crescendo)",
        "diminuendo(",
        "diminuendo)",
        "<",
        ")",
        "<(",
        ">(",
        ">)",
        "segno",
        "coda",
        "D.S.",
        "D.C.",
        "dacoda",
        "dacapo",
        "fine",
        "shortphrase",
        "mediumphrase",
        "longphrase",
        "staccato",
        "trem1",
        "trem2",
        "trem3",
        "trem4",
        ".",
    ]
)

_TOKEN = re.compile(
    r"""
    (?P<deco>![^!\n]*!|\+[^+\n]*\+)
  | (?P<text>"[^"\n]*")
  | (?P<grace>\{[^}]*\})
  | (?P<field>\[[A-Za-z]:[^\]]*\])
  | (?P<chord>\[(?:[\^_=]*[A-Ga-gzx][,']*[\d/]*-?\s*)+\][\d/]*)
  | (?P<bar>:*\|\[?\d[\d,-]*|\[\|\]|:*\|+\]?:*|\[\||::|\[\d[\d,-]*)
  | (?P<note>[\^_=]*[A-Ga-g][,']*[\d/]*)
  | (?P<rest>[zx][\d/]*)
  | (?P<mrest>Z\d*)
  | (?P<broken>[<>]+)
  | (?P<tuplet>\(\d(?::\d*)?(?::\d*)?)
  | (?P<slur>\()
  | (?P<skip>[\s)\-.~`\\y$HIJKLMNOPQRSTUVWhijklmnopqrstuvw&;*#@]+)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_NOTE = re.compile(r"([\^_=]*)([A-Ga-g])([,']*)([\d/]*)")
_FIELD_LINE = re.compile(r"^([A-Za-z]):(.*)$")


@dataclass
class Event:
    """One note, chord or rest of a voice. ``pitches`` is empty for a rest; lengths in whole notes."""

    pitches: list[int]
    length: Fraction


@dataclass
class Voice:
    name: str
    bars: list[list[Event]] = field(default_factory=list)
    meter: Fraction = Fraction(1)
    decorations: list[str] = field(default_factory=list)

    def notes(self) -> list[tuple[int, Fraction]]:
        """(top pitch, length) of every sounding event, rests left out."""
        return [(max(e.pitches), e.length) for bar in self.bars for e in bar if e.pitches]


@dataclass
class Tune:
    headers: dict[str, str]
    voices: dict[str, Voice]
    problems: list[str]


def _length(text: str) -> Fraction:
    """'3' -> 3, '/2' -> 1/2, '/' -> 1/2, '//' -> 1/4, '3/2' -> 3/2 (in units of L)."""
    if not text:
        return Fraction(1)
    if "/" not in text:
        return Fraction(int(text))
    num_text, _, rest = text.partition("/")
    num = int(num_text) if num_text else 1
    if rest == "" or set(rest) == {"/"}:
        return Fraction(num, 2 ** (1 + rest.count("/")))
    return Fraction(num, int(rest.strip("/") or 2))


class _Reader:
    """Walks the body of a tune keeping key, unit length, meter, accidentals and tuplets."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.problems: list[str] = []
        self.unit = Fraction(1, 8)
        self.meter = Fraction(1)
        self.set_meter(headers.get("M", "4/4"))
        if "L" in headers:
            self.set_unit(headers["L"])
        elif self.meter < Fraction(3, 4):
            self.unit = Fraction(1, 16)
        self.set_key(headers.get("K", "C"))
        self.voices: dict[str, Voice] = {}
        self.voice = self._voice("1")

    def _voice(self, name: str) -> Voice:
        if name not in self.voices:
            self.voices[name] = Voice(name=name, bars=[[]], meter=self.meter)
        return self.voices[name]

    def set_meter(self, text: str) -> None:
        try:
            self.meter = meter_fraction(text.split("%")[0].strip() or "4/4")
        except ValueError:
            if text.strip().lower() not in ("none", ""):
                self.problems.append(f"unknown meter M:{text.strip()}")

    def set_unit(self, text: str) -> None:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text.split("%")[0])
        if m and int(m.group(2)) > 0:
            self.unit = Fraction(int(m.group(1)), int(m.group(2)))
        else:
            self.problems.append(f"unknown unit length L:{text.strip()}")

    def set_key(self, text: str) -> None:
        tonic, mode = tonic_and_mode(text)
        self.sig = key_signature(tonic, mode)
        self.bar_acc: dict[tuple[str, int], int] = {}

    def field(self, letter: str, value: str) -> None:
        if letter == "K":
            self.set_key(value)
        elif letter == "L":
            self.set_unit(value)
        elif letter == "M":
            self.set_meter(value)
            self.voice.meter = self.meter
        elif letter == "V":
            name = value.split()[0] if value.split() else "1"
            self.voice = self._voice(name)
            self.bar_acc = {}

    def pitch(self, acc: str, letter: str, octave: str) -> int:
        base = NATURAL_PC[letter.upper()] + (72 if letter.islower() else 60)
        base += 12 * octave.count("'") - 12 * octave.count(",")
        key = (letter.upper(), base // 12)
        if acc:
            shift = acc.count("^") - acc.count("_")
            self.bar_acc[key] = shift
        else:
            shift = self.bar_acc.get(key, self.sig[letter.upper()])
        return base + shift

    def read_line(self, line: str) -> None:
        tuplet_left, tuplet_ratio = 0, Fraction(1)
        broken: Fraction | None = None
        for m in _TOKEN.finditer(line):
            kind, text = m.lastgroup, m.group()
            if kind == "deco":
                self.voice.decorations.append(text[1:-1])
            elif kind == "field":
                self.field(text[1], text[3:-1])
            elif kind == "bar":
                self.new_bar()
            elif kind in ("note", "chord", "rest"):
                event = self.event(kind, text)
                if tuplet_left > 0:
                    event.length *= tuplet_ratio
                    tuplet_left -= 1
                if broken is not None:
                    event.length *= broken
                    broken = None
                self.voice.bars[-1].append(event)
            elif kind == "mrest":
                bars = int(text[1:] or 1)
                for _ in range(bars):
                    self.voice.bars[-1].append(Event([], self.meter))
                    if _ < bars - 1:
                        self.new_bar()
            elif kind == "broken":
                prev = self.voice.bars[-1][-1] if self.voice.bars[-1] else None
                if prev is None:
                    continue
                dots = Fraction(1, 2 ** len(text))
                first, second = (2 - dots, dots) if text[0] == ">" else (dots, 2 - dots)
                prev.length *= first
                broken = second
            elif kind == "tuplet":
                p, q, r = self.tuplet(text)
                tuplet_left, tuplet_ratio = r, Fraction(q, p)
            elif kind == "other":
                self.problems.append(f"unexpected character {text!r}")

    def tuplet(self, text: str) -> tuple[int, int, int]:
        parts = text[1:].split(":")
        p = int(parts[0])
        compound = self.meter.denominator == 8 and self.meter.numerator % 3 == 0
        default_q = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if compound else 2)
        q = int(parts[1]) if len(parts) > 1 and parts[1] else default_q
        r = int(parts[2]) if len(parts) > 2 and parts[2] else p
        return p, q, r

    def event(self, kind: str, text: str) -> Event:
        if kind == "rest":
            return Event([], self.unit * _length(text[1:]))
        if kind == "note":
            acc, letter, octave, length = _NOTE.fullmatch(text).groups()  # type: ignore[union-attr]
            return Event([self.pitch(acc, letter, octave)], self.unit * _length(length))
        inner, _, after = text[1:].rpartition("]")
        pitches, first_len = [], None
        for acc, letter, octave, length in _NOTE.findall(inner):
            pitches.append(self.pitch(acc, letter, octave))
            first_len = first_len if first_len is not None else _length(length)
        return Event(pitches, self.unit * (first_len or 1) * _length(after))

    def new_bar(self) -> None:
        if self.voice.bars[-1]:
            self.voice.bars.append([])
        self.bar_acc = {}


@lru_cache(maxsize=32)  # a piece's dozen exemplars and its own drafts; each Tune is ~0.1 MB
def read_tune(abc: str) -> Tune:
    """Parse the first tune of an ABC text into voices of bars of events.

    Cached, so the Tune is shared: read it, never change it. A piece reads each of its
    dozen exemplars once a refinement round and again to check for copied runs: parsing
    them was a third of the composing time (~40 ms of ~100 a piece)."""
    headers: dict[str, str] = {}
    lines = abc.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body_start = len(lines)
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        m = _FIELD_LINE.match(line)
        if not m:
            body_start = i  # notes before K: (a missing header is reported by validate_abc)
            break
        headers.setdefault(m.group(1), m.group(2).strip())
        if m.group(1) == "K":
            body_start = i + 1
            break
    reader = _Reader(headers)
    for raw in lines[body_start:]:
        if raw.startswith("%%"):
            continue  # directives (%%MIDI ...) carry no notes
        line = raw.split("%")[0].strip()
        if not line:
            if any(v.notes() for v in reader.voices.values()):
                break  # a blank line ends the tune
            continue
        m = _FIELD_LINE.match(line)
        if m and not line.startswith("|"):
            if m.group(1) == "X":
                break  # the next tune
            reader.field(m.group(1), m.group(2).strip())
            continue
        reader.read_line(line)
    voices = {name: v for name, v in reader.voices.items() if any(bar for bar in v.bars)}
    for v in voices.values():
        if v.bars and not v.bars[-1]:
            v.bars.pop()
    return Tune(headers=headers, voices=voices, problems=reader.problems)


def melody_notes(abc: str) -> list[tuple[int, Fraction]]:
    """(pitch, length in whole notes) of the first voice's notes."""
    tune = read_tune(abc)
    for voice in tune.voices.values():
        notes = voice.notes()
        if notes:
            return notes
    return []


def bar_lengths(abc: str) -> dict[str, list[Fraction]]:
    """Voice name -> length of each bar in whole notes."""
    tune = read_tune(abc)
    return {
        name: [sum((e.length for e in bar), Fraction(0)) for bar in v.bars]
        for name, v in tune.voices.items()
    }


def validate_abc(abc: str, *, parsers: bool = True, allow_pickup: bool = True) -> list[str]:
    """Problems found in an ABC tune, in words; an empty list means it is fine.

    Checks the headers (X, T, M, L, K, with K last), bar lengths against the meter in every
    voice (a pickup bar and a matching short last bar are allowed when ``allow_pickup``),
    equal voice lengths, decorations, and, with ``parsers``, that symusic and music21 parse it."""
    problems: list[str] = []
    if not isinstance(abc, str) or not abc.strip():
        return ["the ABC text is empty"]
    tune = read_tune(abc)
    for h in ("X", "T", "M", "L", "K"):
        if h not in tune.headers:
            problems.append(f"missing header {h}:")
    problems += tune.problems[:5]
    if not tune.voices:
        problems.append("no notes in the tune")
    totals: dict[str, Fraction] = {}
    for name, voice in tune.voices.items():
        lengths = [sum((e.length for e in bar), Fraction(0)) for bar in voice.bars]
        totals[name] = sum(lengths, Fraction(0))
        for i, length in enumerate(lengths):
            if length == voice.meter:
                continue
            edge = i == 0 or i == len(lengths) - 1
            if allow_pickup and edge and length < voice.meter:
                continue
            problems.append(
                f"voice {name} bar {i + 1} lasts {length} of a whole note, the meter needs {voice.meter}"
            )
        for deco in voice.decorations:
            if deco not in KNOWN_DECORATIONS:
                problems.append(f"unknown decoration !{deco}! in voice {name}")
    if len(set(totals.values())) > 1:
        problems.append(
            "the voices have different lengths: " + ", ".join(f"{k}={v}" for k, v in totals.items())
        )
    if parsers and not problems:
        problems += _parser_problems(abc)
    return problems


def _parser_problems(abc: str) -> list[str]:
    from engine.render.midi import abc_to_score

    out = []
    try:
        abc_to_score(abc)
    except RenderError as exc:
        out.append(f"symusic could not parse it ({exc.detail})")
    try:
        import music21

        parsed = music21.converter.parse(abc, format="abc")
        if not parsed.flatten().notes:
            out.append("music21 found no notes")
    except Exception as exc:  # music21 raises many kinds of errors on bad ABC
        out.append(f"music21 could not parse it ({type(exc).__name__})")
    return out
