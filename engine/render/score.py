"""A picture of the piece: engraved sheet music, or a piano roll when engraving fails.

Sheet music comes from ``abcm2ps -g`` (one SVG per tune) turned into PNG by ``rsvg-convert``.
The ABC is model output, so before it reaches abcm2ps it loses the directives that can read
files (``%%abc-include``, ``%%format``, ``I:`` fields, ...), and both tools run with a timeout
in a temporary folder. When either tool is missing or fails, the piano roll is drawn with
PIL from the symusic score instead.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import symusic
from PIL import Image, ImageDraw, ImageFont

from engine.errors import RenderError
from engine.render.midi import abc_to_score

log = logging.getLogger(__name__)

TOOL_TIMEOUT = 20.0
MAX_HEIGHT = 8000  # pixels; longer scores are cut (a 2-minute tune is ~2,500)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Layout directives that help multi-voice scores and read nothing from disk.
SAFE_DIRECTIVES = ("score", "staves", "measurenb", "barnumbers")

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
    tools = find_tools()
    if tools is not None:
        try:
            png = _engrave(_safe_abc(abc, title), tools, max_width)
            return ScoreImage(png, "abcm2ps")
        except RenderError as exc:
            log.warning("engraving failed, drawing a piano roll instead: %s", exc.detail)
    else:
        log.info("abcm2ps or rsvg-convert not found: drawing a piano roll")
    return ScoreImage(render_piano_roll_png(score, title=title, width=max_width), "piano-roll")


def find_tools() -> tuple[str, str] | None:
    """Paths of abcm2ps and rsvg-convert, or None when either is missing."""
    abcm2ps, rsvg = shutil.which("abcm2ps"), shutil.which("rsvg-convert")
    return (abcm2ps, rsvg) if abcm2ps and rsvg else None


def _engrave(abc: str, tools: tuple[str, str], width: int) -> bytes:
    abcm2ps, rsvg = tools
    with tempfile.TemporaryDirectory(prefix="pictune-score-") as tmp:
        folder = Path(tmp)
        (folder / "tune.abc").write_text(abc, encoding="utf-8")
        _run([abcm2ps, "-g", "-O", "tune", "tune.abc"], folder)
        svgs = sorted(folder.glob("tune*.svg"))
        if not svgs:
            raise RenderError(detail="abcm2ps wrote no SVG (no tune in the ABC?)")
        # -g writes one SVG per tune, each with the whole tune: the first tune is the piece.
        cmd = [rsvg, "-b", "white", "-w", str(width), "-a", "-o", "score.png", svgs[0].name]
        _run(cmd, folder)
        png = (folder / "score.png").read_bytes()
    if not png.startswith(PNG_MAGIC):
        raise RenderError(detail="rsvg-convert did not write a PNG")
    return _limit_height(png)


def _run(cmd: list[str], cwd: Path) -> None:
    try:
        result = subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            timeout=TOOL_TIMEOUT,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(cwd)},
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise RenderError(detail=f"{Path(cmd[0]).name} failed: {exc}") from exc
    if result.returncode != 0:
        err = result.stderr.decode("utf-8", "replace")[-300:]
        raise RenderError(detail=f"{Path(cmd[0]).name} exited {result.returncode}: {err}")


def _safe_abc(abc: str, title: str | None) -> str:
    """The ABC without file-reading directives, with the title set when one is given."""
    lines = []
    for line in abc.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        stripped = line.lstrip()
        if stripped.startswith("%%"):
            name = stripped[2:].split(maxsplit=1)[0].lower() if stripped[2:].strip() else ""
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


def _limit_height(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        if image.height <= MAX_HEIGHT:
            return png
        cropped = image.crop((0, 0, image.width, MAX_HEIGHT))
        out = io.BytesIO()
        cropped.save(out, format="PNG", optimize=True)
        return out.getvalue()


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
