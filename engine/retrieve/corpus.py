"""The retrieval corpus: ABC tunes read from music21's bundled collections or a folder.

A tune is parsed only as far as its header (title, meter, unit length, tempo, key and mode);
the notes are read later by ``features.py``. Files hold many tunes, each starting at an
``X:`` line. A tune that cannot be used (no key line, no notes) is skipped and counted, never
fatal: these are hand-typed files from many sources.

A folder corpus may hold a ``captions.json`` at its root (``midi_import.py`` writes one):
``{"<.abc path relative to the folder>": "caption"}``. Its tunes carry that caption, and the
index uses it as their description instead of the one computed from their features.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# The music21 collections that hold ABC, with about 12,900 tunes between them.
MUSIC21_COLLECTIONS = ("essenFolksong", "oneills1850", "airdsAirs", "ryansMammoth", "miscFolk")

MAX_FILE_BYTES = 20 * 1024 * 1024  # a folder corpus is operator-supplied, but stay bounded
MAX_TUNE_CHARS = 100_000
CAPTIONS_FILE = "captions.json"
MAX_CAPTIONS_BYTES = 256 * 1024 * 1024  # MidiCaps' 168k captions take about 70 MB
MAX_CAPTION_CHARS = 2_000  # MidiCaps captions run to 300-600 characters

MODE_NAMES = {
    "maj": "major",
    "ion": "major",
    "min": "minor",
    "aeo": "minor",
    "m": "minor",
    "dor": "dorian",
    "phr": "phrygian",
    "lyd": "lydian",
    "mix": "mixolydian",
    "loc": "locrian",
}
# German spellings that turn up in the Essen collection.
GERMAN_TONICS = {
    "H": "B",
    "Es": "Eb",
    "As": "Ab",
    "Des": "Db",
    "Ges": "Gb",
    "Fis": "F#",
    "Cis": "C#",
}

_X_LINE = re.compile(r"^X:", re.M)
_FIELD = re.compile(r"^([A-Za-z]):(.*)$")
_KEY = re.compile(
    r"^\s*(?P<tonic>Des|Ges|Fis|Cis|Es|As|[A-Ga-gH])(?P<acc>[#b]?)\s*(?P<mode>[A-Za-z]*)"
)
_METER = re.compile(r"(\d+)\s*/\s*(\d+)")
_FRACTION = re.compile(r"(\d+)\s*/\s*(\d+)")
_TEMPO = re.compile(r"(?:(\d+)\s*/\s*(\d+)\s*=\s*)?(\d+)")
_NOTE_LETTER = re.compile(r"[A-Ga-g]")
_TEMPO_WORD = re.compile(
    r"slow|moderat|lively|spirit|quick|fast|brisk|gay|smooth|andant|allegr|adagio|tempo|time",
    re.I,
)


@dataclass
class CorpusTune:
    id: str  # "<collection>/<file stem>/<X number>", stable across builds
    title: str
    collection: str
    abc: str  # a complete standalone tune: X, T, M, L, (Q), K headers and the body
    key: str  # tonic in ABC spelling: "G", "F#", "Bb"
    mode: str  # major | minor | dorian | mixolydian | lydian | phrygian | locrian
    meter: str  # "6/8", "4/4", "2/2", or "free"
    tempo: int | None  # quarter notes per minute from Q:, None when the tune gives none
    unit: str = "1/8"  # the L: unit note length
    rhythm: str = ""  # R: field ("reel", "jig", "Liebes - Lied")
    origin: str = ""  # O: field
    tempo_text: str = ""  # tempo words found in Q: or N: ("Slow", "Lively")
    mode_explicit: bool = True  # K: named a mode; Essen's "K: G" names only the tonic
    body: str = ""  # the music after the K: line
    caption: str | None = None  # a real caption (captions.json); None: describe from features


@dataclass
class CorpusStats:
    """What reading a corpus met: filled in by the iterators as they go."""

    files: int = 0
    tunes: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)  # "<id>: <reason>", first 50 only

    def skip(self, tune_id: str, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < 50:
            self.problems.append(f"{tune_id}: {reason}")


class BrokenTune(ValueError):
    """One tune could not be used; the reader counts it and moves on."""


def music21_corpus_dir() -> Path:
    """music21's corpus folder, found without importing music21 (that costs a second)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("music21 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "corpus"


def read_text(path: Path) -> str:
    data = path.read_bytes()[:MAX_FILE_BYTES]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # older ABC files are often Latin-1
    return undo_cp437(text)


# The Essen collection was typed in code page 437 (DOS) and later converted to UTF-8 as if it
# were Latin-1: "Rösel" is stored as "R\x94sel", "saß" as "saá". A file holding C1 control
# characters (U+0080-U+009F, which no text uses) is such a file; in it, those characters,
# U+00A0-U+00A5 (CP437's á í ó ú ñ Ñ) and "á" (CP437's ß) are CP437 bytes. Other Latin-1
# letters in the same files (later edits: "religiöse", "Schluß") are genuine and stay.
_C1 = re.compile(r"[\x80-\x9f]")
_CP437 = {c: bytes([c]).decode("cp437") for c in [*range(0x80, 0xA6), 0xE1]}


def undo_cp437(text: str) -> str:
    """``text`` with CP437 bytes read as Latin-1 decoded right (unchanged without them)."""
    return text.translate(_CP437) if _C1.search(text) else text


def clean_title(text: str) -> str:
    """A title with control characters (none should be left) and runs of spaces removed."""
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f-\x9f]", "", text)).strip()


def split_tunes(text: str) -> list[str]:
    """The tune blocks of one ABC file, each starting at its X: line (file header dropped)."""
    starts = [m.start() for m in _X_LINE.finditer(text)]
    if not starts:
        return []
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def parse_key(value: str) -> tuple[str, str]:
    """A K: value -> (tonic, mode). "Ador" -> ("A", "dorian"), "none" -> ("C", "major")."""
    tonic, mode, _ = parse_key_full(value)
    return tonic, mode


def parse_key_full(value: str) -> tuple[str, str, bool]:
    """A K: value -> (tonic, mode, whether a mode was named)."""
    value = value.split("%", 1)[0].strip()
    if not value or value.lower().startswith("none"):
        return "C", "major", False
    if value in ("HP", "Hp"):  # Highland bagpipe notation: A mixolydian in effect
        return "A", "mixolydian", True
    m = _KEY.match(value)
    if m is None:
        raise BrokenTune(f"unreadable key {value!r}")
    tonic = m["tonic"]
    tonic = GERMAN_TONICS.get(tonic, tonic[0].upper() + tonic[1:])
    tonic += m["acc"]
    word = m["mode"].lower()
    if word[:3] in MODE_NAMES:
        mode = MODE_NAMES[word[:3]]
    elif word.startswith("m"):
        mode = "minor"
    else:
        mode = "major"  # no mode word, "exp", or something unknown
    return tonic, mode, word not in ("", "exp")


def parse_meter(value: str) -> str:
    """An M: value -> "6/8", "4/4" ("C"), "2/2" ("C|") or "free" ("none")."""
    value = value.split("%", 1)[0].strip()
    m = _METER.search(value)
    if m:
        num, den = int(m[1]), int(m[2])
        if 0 < num <= 32 and den in (1, 2, 4, 8, 16, 32):
            return f"{num}/{den}"
    if value.startswith("C|"):
        return "2/2"
    if value.startswith("C"):
        return "4/4"
    return "free"


def parse_unit(value: str, meter: str) -> str:
    """An L: value, or the ABC default: 1/16 for meters below 0.75, else 1/8."""
    m = _FRACTION.search(value.split("%", 1)[0]) if value else None
    if m and int(m[1]) > 0 and int(m[2]) in (1, 2, 4, 8, 16, 32, 64):
        return f"{int(m[1])}/{int(m[2])}"
    if meter != "free":
        num, den = (int(x) for x in meter.split("/"))
        if num / den < 0.75:
            return "1/16"
    return "1/8"


def parse_tempo(value: str) -> tuple[int | None, str]:
    """A Q: value -> (quarter notes per minute or None, tempo words).

    "3/8=120" is 120 dotted quarters, i.e. 180 quarters per minute; a bare "120" counts
    quarters (strictly it means unit notes, but in these files it is meant as beats).
    """
    value = value.split("%", 1)[0]
    words = " ".join(re.findall(r'"([^"]*)"', value)).strip()
    m = _TEMPO.search(re.sub(r'"[^"]*"', "", value))
    if m is None:
        return None, words
    bpm = int(m[3])
    if m[1] and m[2] and int(m[2]) > 0:
        bpm = round(bpm * 4 * int(m[1]) / int(m[2]))
    return (bpm if 20 <= bpm <= 400 else None), words


def parse_tune(block: str, collection: str, tune_id: str) -> CorpusTune:
    """One tune block (from its X: line) -> CorpusTune, or BrokenTune."""
    if len(block) > MAX_TUNE_CHARS:
        raise BrokenTune("too long")
    # split("\n"), not splitlines(): stray form feeds and U+2028 inside N: text are not line ends.
    lines = [line.rstrip("\r") for line in block.split("\n")]
    headers: list[tuple[str, str]] = []
    body_start = None
    continued = False  # the previous header line ended in "\\" (a continuation)
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("%"):
            continued = line.endswith("\\")  # "%%directive ... \\" runs on too
            continue
        m = _FIELD.match(line)
        if m is None:
            if not continued and "|" in line:
                # Music (it has bar lines) before any K: line: the header is not closed.
                raise BrokenTune("no K: line before the music")
            # Otherwise a stray line in the header (a field that lost its "Q:"): skip it.
            continued = line.endswith("\\")
            continue
        continued = line.endswith("\\")
        headers.append((m[1], m[2].strip()))
        if m[1] == "K":
            body_start = i + 1
            break
    if body_start is None:
        raise BrokenTune("no K: line")
    body = "\n".join(lines[body_start:]).strip()
    if not _NOTE_LETTER.search(re.sub(r'"[^"]*"|%[^\n]*|^[A-Za-z]:[^\n]*', "", body, flags=re.M)):
        raise BrokenTune("no notes")

    first: dict[str, str] = {}
    for name, value in headers:
        first.setdefault(name, value)
    titles = [t for n, v in headers if n == "T" and (t := clean_title(v))]
    title = titles[0] if titles else "Untitled"
    meter = parse_meter(first.get("M", "4/4")) if "M" in first else "4/4"
    unit = parse_unit(first.get("L", ""), meter)
    tempo, tempo_words = parse_tempo(first["Q"]) if "Q" in first else (None, "")
    # O'Neill's tunes carry their tempo as a quoted word in N: ("Slow", "Lively").
    quoted = re.findall(r'"([^"]*)"', " ".join(v for n, v in headers if n == "N"))
    notes_words = " ".join(q for q in quoted if _TEMPO_WORD.search(q))
    key, mode, mode_explicit = parse_key_full(first["K"])

    # A standalone copy: X:1 and the fields renderers need, then the original header lines
    # (minus the ones we rewrote), the key line and the body.
    kept = [f"{n}:{v}" for n, v in headers if n not in ("X", "T", "M", "L", "K")]
    abc_lines = [
        "X:1",
        f"T:{title}",
        f"M:{first.get('M', '4/4') or 'none'}",
        f"L:{unit}",
        *kept,
        f"K:{first['K']}",
        body,
    ]
    return CorpusTune(
        id=tune_id,
        title=title,
        collection=collection,
        abc="\n".join(abc_lines) + "\n",
        key=key,
        mode=mode,
        meter=meter,
        tempo=tempo,
        unit=unit,
        rhythm=first.get("R", ""),
        origin=first.get("O", ""),
        tempo_text=" ".join(w for w in (tempo_words, notes_words) if w),
        body=body,
        mode_explicit=mode_explicit,
    )


def iter_file_tunes(path: Path, collection: str, stats: CorpusStats) -> Iterator[CorpusTune]:
    """The usable tunes of one ABC file; broken ones are counted in ``stats``."""
    stats.files += 1
    try:
        text = read_text(path)
    except OSError as exc:
        stats.skip(f"{collection}/{path.stem}", f"unreadable file: {exc}")
        return
    seen: set[str] = set()
    for n, block in enumerate(split_tunes(text), start=1):
        number = block[2:].split("\n", 1)[0].strip() or str(n)
        number = re.sub(r"[^0-9A-Za-z]", "", number) or str(n)
        tune_id = f"{collection}/{path.stem}/{number}"
        if tune_id in seen:  # duplicate X: numbers in one file
            tune_id = f"{tune_id}-{n}"
        seen.add(tune_id)
        try:
            tune = parse_tune(block, collection, tune_id)
        except BrokenTune as exc:
            stats.skip(tune_id, str(exc))
            continue
        except Exception as exc:  # a parser bug must not sink the whole corpus
            stats.skip(tune_id, f"unexpected {type(exc).__name__}: {exc}")
            continue
        stats.tunes += 1
        yield tune


def iter_music21_tunes(
    stats: CorpusStats | None = None, collections: tuple[str, ...] = MUSIC21_COLLECTIONS
) -> Iterator[CorpusTune]:
    """All ABC tunes of music21's folk collections, in a fixed order."""
    stats = stats if stats is not None else CorpusStats()
    root = music21_corpus_dir()
    for collection in collections:
        for path in sorted((root / collection).glob("*.abc")):
            yield from iter_file_tunes(path, collection, stats)


def clean_caption(text: str) -> str:
    """A caption as the index stores it: one line, single spaces, bounded length."""
    return " ".join(text.split())[:MAX_CAPTION_CHARS]


def read_captions(folder: Path, stats: CorpusStats | None = None) -> dict[str, str]:
    """``captions.json`` of a folder corpus ({relative .abc path: caption}), or {}.

    A damaged file is reported in ``stats.problems`` and ignored: the tunes are still usable,
    they are described from their features instead.
    """
    path = Path(folder) / CAPTIONS_FILE
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > MAX_CAPTIONS_BYTES:
            raise ValueError(f"larger than {MAX_CAPTIONS_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError, RecursionError) as exc:  # decode errors, deep nesting
        log.warning("ignoring unreadable %s: %s", path, exc)
        if stats is not None and len(stats.problems) < 50:
            stats.problems.append(f"{CAPTIONS_FILE}: ignored ({exc})")
        return {}
    captions = {}
    for key, value in data.items():
        if isinstance(key, str) and isinstance(value, str) and value.strip():
            captions[key] = clean_caption(value)
    return captions


def iter_folder_tunes(folder: Path, stats: CorpusStats | None = None) -> Iterator[CorpusTune]:
    """All tunes in the .abc files under a folder (recursively), in a fixed order.

    The collection name of a tune is its file's parent folder relative to ``folder``
    ("." becomes the folder's own name). Tunes of a file named in ``captions.json`` carry
    its caption.
    """
    stats = stats if stats is not None else CorpusStats()
    folder = Path(folder)
    captions = read_captions(folder, stats)
    for path in sorted(folder.rglob("*.abc")):
        if not path.is_file():
            continue
        rel = path.parent.relative_to(folder)
        collection = folder.name if str(rel) == "." else rel.as_posix()
        caption = captions.get(path.relative_to(folder).as_posix())
        for tune in iter_file_tunes(path, collection, stats):
            tune.caption = caption
            yield tune


def iter_corpus(corpus: str, stats: CorpusStats | None = None) -> Iterator[CorpusTune]:
    """Settings.corpus ("music21" or a folder path) -> its tunes."""
    if corpus == "music21":
        return iter_music21_tunes(stats)
    return iter_folder_tunes(Path(corpus).expanduser(), stats)
