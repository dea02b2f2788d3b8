"""A picture of the piece: engraved sheet music, or a piano roll when engraving fails.

Sheet music comes from ``abcm2ps -v`` (one SVG per page), each page turned into pixels by
librsvg (engine/render/svg.py), the pages stacked into one PNG.
The ABC is model output, so before it reaches abcm2ps it loses the directives that can read
files (``%%abc-include``, ``%%format``, ``I:`` fields, ...), and abcm2ps runs with a timeout
in a temporary folder. When abcm2ps or librsvg is missing or fails, the piano roll is drawn
with PIL from the symusic score instead.

The drum voice (the one on MIDI channel 10) is written for abc2midi: each drum is the note
whose pitch is its General MIDI key, with an explicit accidental. Engraved as such it would be
a treble staff of low notes full of sharps and naturals, so the engraving copy rewrites it as
a drummer reads it: a percussion clef, no key signature, each drum at its drum-kit position
and cymbals with x noteheads (abcm2ps's ``%%map``). Voices that one keyboard player (or a
harpist) plays together are engraved as they read them: a grand staff, two staves joined by
a brace, melody (and chords that sit in the treble) in the right hand, bass (and low chords)
in the left (``%%score``). The ABC itself keeps its MIDI meaning.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic
from PIL import Image, ImageDraw, ImageFont

from engine.compose.abc import Voice, read_tune
from engine.compose.instruments import instrument
from engine.errors import RenderError
from engine.render import svg
from engine.render.command import run_tool
from engine.render.midi import abc_to_score

log = logging.getLogger(__name__)

# A 2-minute piece with drums is about 11,000 pixels at 1600 wide; a longer one stops at the
# last whole page that fits (a grey-scale 1600 x 20,000 picture is 32 MB while it is built).
MAX_HEIGHT = 20000
MAX_PAGES = 40
PAGE_GAP = 30  # pixels of paper kept over a page's first ink and under its last
# Narrow side margins: the staves of a 1600-pixel picture are then ~1,450 pixels wide.
PAGE_FORMAT = "%%leftmargin 1cm\n%%rightmargin 1cm\n%%topmargin 0.8cm\n%%botmargin 0.8cm\n"
# Staff names: abcm2ps leaves them room by Times' widths, but "serif" is drawn in DejaVu
# Serif (the Debian default), whose bold "Acoustic Guitar" ran into the clef; the condensed
# face fits (Debian's fonts-dejavu-extra, installed by scripts/setup.sh).
PAGE_FORMAT += '%%voicefont "DejaVu Serif Condensed" 13\n'
# Layout directives that help multi-voice scores and read nothing from disk.
SAFE_DIRECTIVES = ("score", "staves", "measurenb", "barnumbers")
DRUM_MAP = "pictune-drums"
# General MIDI drum key -> (where it sits on a five-line percussion staff, as a treble-clef
# note, and its notehead: "" a plain head, "x" (abcm2ps's pshhd) for cymbals and hand
# percussion, "ox" (pfthd, circled x) for the clap). The common drum-kit legend.
DRUM_LAYOUT: dict[int, tuple[str, str]] = {
    35: ("E", ""),  # acoustic bass drum
    36: ("F", ""),  # kick
    37: ("c", "x"),  # side stick: an x on the snare's space
    38: ("c", ""),  # snare
    39: ("c", "ox"),  # hand clap
    40: ("c", ""),  # electric snare
    41: ("A", ""),  # low floor tom
    42: ("g", "x"),  # closed hi-hat
    43: ("A", ""),  # high floor tom
    44: ("D", "x"),  # pedal hi-hat, under the staff
    45: ("B", ""),  # low tom
    46: ("g", "ox"),  # open hi-hat
    47: ("d", ""),  # low-mid tom
    48: ("d", ""),  # hi-mid tom
    49: ("a", "x"),  # crash
    50: ("e", ""),  # high tom
    51: ("f", "x"),  # ride
    52: ("a", "ox"),  # china
    53: ("f", "ox"),  # ride bell
    54: ("b", "x"),  # tambourine
    55: ("b", "ox"),  # splash
    57: ("a", "x"),  # crash 2
    59: ("f", "x"),  # ride 2
    70: ("e", "x"),  # maracas / shaker
}
OTHER_DRUM = ("c'", "ox")  # any other key: above the staff, so it is not read as a drum
HEAD_GLYPHS = {"x": "pshhd", "ox": "pfthd"}
# Written notes for drums that share a position with another (snare and side stick): each
# drum needs its own note in the engraving copy, which %%map then prints at its position.
SPARE_NOTES = tuple(f"{letter}{commas}" for commas in (",,", ",,,") for letter in "CDEFGAB")
_NOTE = re.compile(r"([_=^]*)([A-Ga-g])([,']*)")
_SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

PALETTE = [
    (31, 119, 180),
    (214, 39, 40),
    (44, 160, 44),
    (148, 103, 189),
    (255, 127, 14),
    (23, 190, 207),
    (227, 119, 194),
    (140, 86, 75),
]
NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
BLACK_KEYS = {1, 3, 6, 8, 10}
# A voice whose middle note is under middle C is nearer the bass staff's middle (D3) than the
# treble staff's (B4): it is written on a bass clef.
BASS_CLEF_BELOW = 60
GUITARS = range(24, 32)  # General MIDI guitars


@dataclass
class ScoreImage:
    png: bytes
    method: str  # "abcm2ps" (engraved) or "piano-roll"


def render_score_png(abc: str, *, title: str | None = None, max_width: int = 1600) -> ScoreImage:
    """Sheet music of the ABC as PNG, or a piano roll when it cannot be engraved.

    Raises RenderError only when there is no music to draw: the ABC must parse into notes
    (the same check audio rendering makes), so an empty tune never becomes a blank page.
    """
    max_width = max(200, min(int(max_width), 4000))
    score = abc_to_score(abc)  # raises RenderError when there is nothing to draw
    abcm2ps = find_tools()
    if abcm2ps is not None:
        try:
            png = _engrave(engraving_abc(abc, title), abcm2ps, max_width)
            return ScoreImage(png, "abcm2ps")
        except RenderError as exc:
            log.warning("engraving failed, drawing a piano roll instead: %s", exc.detail)
    else:
        log.info("abcm2ps or librsvg not found: drawing a piano roll")
    return ScoreImage(render_piano_roll_png(score, title=title, width=max_width), "piano-roll")


def find_tools() -> str | None:
    """The path of abcm2ps, or None when it or a way to draw SVG is missing."""
    abcm2ps = shutil.which("abcm2ps")
    return abcm2ps if abcm2ps and svg.available() else None


def _engrave(abc: str, abcm2ps: str, width: int) -> bytes:
    """abcm2ps lays the piece out on pages (-v: one SVG a page; -g's single SVG overflows
    abcm2ps's buffer on long pieces), each page is drawn ``width`` wide, and the pages,
    their blank bottoms trimmed, are stacked into one tall picture: a long piece gets longer,
    its notes never smaller. Pages are stacked while they fit in MAX_HEIGHT (at least the
    first): a page is never cut through a system."""
    with tempfile.TemporaryDirectory(prefix="pictune-score-") as tmp:
        folder = Path(tmp)
        (folder / "tune.abc").write_text(PAGE_FORMAT + abc, encoding="utf-8")
        run_tool([abcm2ps, "-v", "-O", "page", "tune.abc"], folder)
        pages = sorted(folder.glob("page*.svg"))[:MAX_PAGES]
        if not pages:
            raise RenderError(detail="abcm2ps wrote no SVG (no tune in the ABC?)")
        kept: list[np.ndarray] = []
        height = 0
        for page in pages:
            pixels = _trimmed(svg.rasterise(page.read_bytes(), width))
            if kept and height + len(pixels) > MAX_HEIGHT:
                log.info("score picture stops after %d of %d pages", len(kept), len(pages))
                break
            kept.append(pixels)
            height += len(pixels)
    out = io.BytesIO()
    # compress_level 3: fast; optimize=True cost ~0.25 s for a few per cent.
    Image.fromarray(np.vstack(kept), mode="L").save(out, format="PNG", compress_level=3)
    return out.getvalue()


def _trimmed(page: np.ndarray) -> np.ndarray:
    """The page's rows from a margin over its first ink to one under its last: the pages'
    blank bottoms would leave gaps between the stacked pages."""
    rows = np.flatnonzero((page < 255).any(axis=1))
    if not rows.size:
        return page[:1]
    return page[max(0, rows[0] - PAGE_GAP) : min(len(page), rows[-1] + 1 + PAGE_GAP)]


def _safe_abc(abc: str, title: str | None) -> str:
    """The ABC without file-reading directives, with the title set when one is given."""
    lines = []
    for line in abc.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("%%"):
            name = _first_word(stripped).lower()
            if name not in SAFE_DIRECTIVES:
                continue  # %%abc-include, %%format, %%EPS, ... and %%MIDI (nothing to draw)
        elif stripped.startswith("I:"):
            continue  # I:abc-include and friends
        if title is not None and stripped.startswith("T:"):
            continue
        line = re.sub(r"\[I:[^\]]*\]", "", line)
        if stripped and not line.strip():
            continue  # an emptied line must not become a blank one: that ends the tune
        lines.append(line)
    if title is not None:
        clean = re.sub(r"[\x00-\x1f%\\]", "", title).strip()[:100]
        at = next((i + 1 for i, line in enumerate(lines) if line.startswith("X:")), 0)
        lines.insert(at, f"T:{clean}")
        if at == 0:
            lines.insert(0, "X:1")
    return "\n".join(lines) + "\n"


def engraving_abc(abc: str, title: str | None = None) -> str:
    """What abcm2ps is given: the safe ABC, each pitched voice on one clef, the voices of
    one keyboard player on a grand staff, the drum voice on a percussion staff."""
    midi = _voice_midi(abc)  # read before _safe_abc drops the %%MIDI lines
    drums = _drum_voices(midi)
    programs = _voice_programs(midi)
    safe = _safe_abc(abc, title)
    voices = read_tune(safe).voices
    layout = _layout(safe, voices, drums, programs)
    clefs = _clefs(safe, voices, drums, programs, layout)
    return _drum_staff(_grand_staves(clefs, layout), drums)


# Staves, top to bottom: each a tuple of the voice ids it carries; a braced pair is a
# player's grand staff (right hand, left hand).
Staves = list[tuple[tuple[str, ...], ...]]


def _layout(
    abc: str, voices: dict[str, Voice], drums: set[str], programs: dict[str, int]
) -> Staves:
    """The staves of the score: one per voice, except that neighbouring pitched voices on
    one program read on a grand staff (a solo piano's melody, chords and bass; a duo's
    keyboard chords and bass) are one player's, a brace of two staves: the first voice
    in the right hand, the last in the left, a voice between them on the staff of its own
    clef (chords in the treble join the melody, low ones the bass)."""
    ids = _voice_ids(abc)
    staves: Staves = []
    k = 0
    while k < len(ids):
        program = programs.get(ids[k])
        keyboard = program is not None and ids[k] not in drums and instrument(program).grand_staff
        run = 1
        while (
            keyboard
            and k + run < len(ids)
            and ids[k + run] not in drums
            and programs.get(ids[k + run]) == program
        ):
            run += 1
        group = ids[k : k + run]
        if run == 1:
            staves.append(((group[0],),))
        else:
            middle = group[1:-1]
            upper = [group[0], *(v for v in middle if _treble(_pitches(voices, [v])))]
            lower = [v for v in middle if v not in upper] + [group[-1]]
            staves.append((tuple(upper), tuple(lower)))
        k += run
    return staves


def _voice_ids(abc: str) -> list[str]:
    """The ids of the V: lines, in the order they first appear."""
    ids: list[str] = []
    for line in abc.split("\n"):
        stripped = line.strip()
        if stripped.startswith("V:") and _first_word(stripped) not in ids:
            ids.append(_first_word(stripped))
    return ids


def _pitches(voices: dict[str, Voice], names: list[str] | tuple[str, ...]) -> list[int]:
    """The pitches the voices play, sorted."""
    return sorted(
        p for name in names if name in voices for bar in voices[name].bars for e in bar
        for p in e.pitches
    )  # fmt: skip


def _treble(pitches: list[int]) -> bool:
    """Whether notes around these are nearer the treble staff's middle than the bass's."""
    return bool(pitches) and pitches[len(pitches) // 2] >= BASS_CLEF_BELOW


def _clefs(
    abc: str,
    voices: dict[str, Voice],
    drums: set[str],
    programs: dict[str, int],
    layout: Staves,
) -> str:
    """Each pitched voice (with a V: line and no clef of its own) on one clef for the whole
    piece, the one nearer the middle note of its staff (voices sharing a staff share it);
    a low guitar part on a treble clef with an 8 under it, written an octave above where
    it sounds, as guitar music is. Left to choose, abcm2ps changed clef inside a voice as it
    moved: a guitar part went from a treble staff with four ledger lines to a bass one in
    the middle of a bar."""
    mates = {name: staff for group in layout for staff in group for name in staff}
    lines = []
    for line in abc.split("\n"):
        stripped = line.strip()
        if stripped.startswith("V:") and "clef=" not in stripped:
            name = _first_word(stripped)
            pitches = _pitches(voices, mates.get(name, (name,)))
            if pitches and name not in drums:
                if _treble(pitches):
                    line = line.rstrip() + " clef=treble"
                elif programs.get(name) in GUITARS:
                    line = line.rstrip() + " clef=treble-8 octave=1"
                else:
                    line = line.rstrip() + " clef=bass"
        lines.append(line)
    return "\n".join(lines)


def _grand_staves(abc: str, layout: Staves) -> str:
    """The %%score line that draws the layout's grand staves (a brace round the player's
    two staves, bar lines through both; voices sharing a staff in parentheses), the
    player's name once, at the brace, and a dynamic once a staff (a voice opening with
    the dynamic of the voice above it on its staff leaves it out). Unchanged where every
    voice has its own staff, or where the ABC lays out its own staves."""
    if all(len(group) == 1 and len(group[0]) == 1 for group in layout) or re.search(
        r"(?m)^%%(score|staves)\b", abc
    ):
        return abc
    unnamed = {name for group in layout if len(group) > 1 for staff in group for name in staff}
    unnamed -= {group[0][0] for group in layout}
    above = {
        staff[k]: staff[k - 1] for group in layout for staff in group for k in range(1, len(staff))
    }
    opening = _opening_dynamics(abc)
    parts = []
    for group in layout:
        staves = [staff[0] if len(staff) == 1 else f"({' '.join(staff)})" for staff in group]
        parts.append("{" + " | ".join(staves) + "}" if len(group) > 1 else staves[0])
    lines: list[str] = []
    voice, body = "", False
    for line in abc.split("\n"):
        stripped = line.strip()
        if stripped.startswith("K:") and not any(x.startswith("%%score") for x in lines):
            lines.append("%%score " + " ".join(parts))
        if stripped.startswith("V:"):
            voice, body = _first_word(stripped), False
            if voice in unnamed:
                line = re.sub(r'\s(name|nm)="[^"]*"', "", line)
        elif voice and stripped and not re.match(r"[A-Za-z]:|%", stripped) and not body:
            body = True
            said = opening.get(voice)
            if said and voice in above and opening.get(above[voice]) == said:
                line = line.replace(f"!{said}! ", "", 1)
        lines.append(line)
    return "\n".join(lines)


def _opening_dynamics(abc: str) -> dict[str, str]:
    """Each voice's dynamic at the start of its first line of notes ("p" for ``!p! A2``)."""
    found: dict[str, str] = {}
    voice = ""
    for line in abc.split("\n"):
        stripped = line.strip()
        if stripped.startswith("V:"):
            voice = _first_word(stripped)
        elif voice and voice not in found and stripped and not re.match(r"[A-Za-z]:|%", stripped):
            match = re.match(r"!(p{1,3}|mp|mf|f{1,3})!\s", stripped)
            found[voice] = match.group(1) if match else ""
    return found


def _first_word(line: str) -> str:
    """The first word after a stripped line's two-character prefix: a ``V:`` line's voice
    id, a ``%%`` directive's name ("" when there is none)."""
    return line[2:].split(maxsplit=1)[0] if line[2:].strip() else ""


def _voice_midi(abc: str) -> dict[str, list[list[str]]]:
    """Each voice's ``%%MIDI`` directives as lowercase words, by voice id."""
    found: dict[str, list[list[str]]] = {}
    current = ""
    for line in abc.splitlines():
        stripped = line.strip()
        if stripped.startswith("V:"):
            current = _first_word(stripped)
        elif current and re.match(r"%%MIDI\s", stripped, flags=re.I):
            found.setdefault(current, []).append(stripped.lower().split()[1:])
    return found


def _drum_voices(midi: dict[str, list[list[str]]]) -> set[str]:
    """Ids of the voices played on MIDI channel 10 (a ``%%MIDI channel 10`` in their block)."""
    return {v for v, words in midi.items() if ["channel", "10"] in words}


def _voice_programs(midi: dict[str, list[list[str]]]) -> dict[str, int]:
    """Ids of the voices with a ``%%MIDI program N`` in their block -> N (the first)."""
    programs: dict[str, int] = {}
    for voice, directives in midi.items():
        for words in directives:
            if len(words) == 2 and words[0] == "program" and words[1].isdigit():
                programs.setdefault(voice, int(words[1]))
    return programs


def _drum_staff(abc: str, drums: set[str]) -> str:
    """The drum voices' notes moved to drum-kit positions, their header lines marking a
    percussion staff with no key signature, and the %%map that draws their noteheads."""
    if not drums:
        return abc
    written: dict[int, str] = {}  # drum key -> the note written for it
    lines, in_drums = [], False
    for line in abc.split("\n"):
        stripped = line.strip()
        if stripped.startswith("V:"):
            in_drums = _first_word(stripped) in drums
            if in_drums:
                head = re.sub(r"\s(clef|map|stafflines)=\S+", "", line.rstrip())
                lines += [f"{head} clef=perc stafflines=5 map={DRUM_MAP}", "K:none clef=perc"]
                continue
        elif in_drums and stripped and not re.match(r"[A-Za-z]:|%", stripped):
            line = _drum_notes(line, written)
        elif in_drums and re.match(r"K:", stripped):
            continue  # a key change would bring a signature back
        lines.append(line)
    maps = [_map_line(key, note) for key, note in sorted(written.items())]
    maps = [m for m in maps if m]
    at = next((i for i, line in enumerate(lines) if line.startswith("K:")), len(lines))
    return "\n".join(lines[:at] + maps + lines[at:])


def _drum_notes(line: str, written: dict[int, str]) -> str:
    """One line of the drum voice with each note replaced by its drum's written note, and
    a chord's repeated notes dropped; decorations ("!mp!") and quoted text are kept."""
    out = []
    for part in re.split(r'(![^!]*!|"[^"]*")', line):
        if part.startswith(("!", '"')):
            out.append(part)
            continue
        part = _NOTE.sub(lambda m: _written_note(_midi_key(m), written), part)
        out.append(re.sub(r"\[([^\]]*)\]", _unique_chord, part))
    return "".join(out)


def _midi_key(match: re.Match[str]) -> int:
    """The MIDI key of an ABC note with its own accidental (middle C, 60, is ``C``)."""
    accidentals, letter, octaves = match.groups()
    key = 60 + _SEMITONES[letter.upper()] + (12 if letter.islower() else 0)
    key += accidentals.count("^") - accidentals.count("_")
    return key + 12 * octaves.count("'") - 12 * octaves.count(",")


def _written_note(key: int, written: dict[int, str]) -> str:
    if key not in written:
        place = DRUM_LAYOUT.get(key, OTHER_DRUM)[0]
        taken = set(written.values())
        spare = (n for n in SPARE_NOTES if n not in taken and n not in _PLACES)
        written[key] = place if place not in taken else next(spare, place)
    return written[key]


_PLACES = {place for place, _ in DRUM_LAYOUT.values()} | {OTHER_DRUM[0]}


def _unique_chord(match: re.Match[str]) -> str:
    notes = re.findall(r"[A-Ga-g][,']*", match.group(1))
    return "[" + "".join(dict.fromkeys(notes)) + "]"


def _map_line(key: int, note: str) -> str:
    """The %%map entry that prints a drum's note at its place with its head ("" if none)."""
    place, head = DRUM_LAYOUT.get(key, OTHER_DRUM)
    if note == place and not head:
        return ""
    glyph = f" heads={HEAD_GLYPHS[head]}" if head else ""
    return f"%%map {DRUM_MAP} {note} print={place}{glyph}"


def render_piano_roll_png(
    score: symusic.Score, *, title: str | None = None, width: int = 1600, height: int = 640
) -> bytes:
    """Notes as coloured bars over time (seconds) and pitch, one colour per track."""
    seconds = score.to("second")
    tracks = [t for t in seconds.tracks if t.notes]
    if not tracks:
        raise RenderError(detail="no notes to draw")
    pitches = [n.pitch for t in tracks for n in t.notes]
    low, high = max(0, min(pitches) - 2), min(127, max(pitches) + 2)
    end = max(float(seconds.end()), 1.0)

    font = _font(14)
    left, right, top, bottom = 56, 16, 40 + 20 * ((len(tracks) + 3) // 4), 32
    plot_w, plot_h = width - left - right, height - top - bottom
    row = plot_h / (high - low + 1)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)

    def y_of(pitch: int) -> float:
        return top + (high - pitch) * row

    def x_of(time: float) -> float:
        return left + time / end * plot_w

    # Pitch rows: black keys shaded, every C labelled with its octave (C4 = middle C).
    for pitch in range(low, high + 1):
        if pitch % 12 in BLACK_KEYS:
            draw.rectangle(
                [left, y_of(pitch), width - right, y_of(pitch) + row], fill=(244, 244, 246)
            )
        if pitch % 12 == 0:
            y = y_of(pitch) + row
            draw.line([left, y, width - right, y], fill=(200, 200, 205))
            draw.text((6, y - 14), f"C{pitch // 12 - 1}", fill=(60, 60, 60), font=font)
    # Time grid: a line a second, a label every few.
    label_every = max(1, int(end // 12) or 1)
    for sec in range(int(end) + 1):
        x = x_of(sec)
        strong = sec % label_every == 0
        draw.line([x, top, x, top + plot_h], fill=(190, 190, 196) if strong else (230, 230, 234))
        if strong:
            draw.text((x + 2, top + plot_h + 6), f"{sec}s", fill=(60, 60, 60), font=font)

    for index, track in enumerate(tracks):
        colour = PALETTE[index % len(PALETTE)]
        for n in track.notes:
            x0, x1 = x_of(n.time), max(x_of(n.time + n.duration), x_of(n.time) + 2)
            y0 = y_of(n.pitch)
            draw.rectangle([x0, y0 + 1, x1, max(y0 + row - 1, y0 + 2)], fill=colour)
        # Legend
        lx, ly = left + (index % 4) * 260, 30 + 20 * (index // 4)
        draw.rectangle([lx, ly + 3, lx + 12, ly + 15], fill=colour)
        kind = "drums" if track.is_drum else f"program {track.program}"
        draw.text((lx + 18, ly), f"voice {index + 1}: {kind}", fill=(40, 40, 40), font=font)

    draw.rectangle([left, top, width - right, top + plot_h], outline=(120, 120, 126))
    draw.text((left, 8), title or "Piano roll", fill=(20, 20, 20), font=_font(18))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
