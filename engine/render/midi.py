"""ABC text -> symusic Score -> MIDI bytes, and back.

ABC is converted by the abc2midi binary that ships inside the symusic wheel, so no system
package is needed. ``symusic.Score.from_abc`` runs exactly that binary with the same arguments
(the MIDI is byte-identical), but it has no timeout and lets abc2midi print on our stdout;
the ABC may be model output, so we run the binary ourselves, in a temporary folder, with a
timeout, after removing include directives (abc2midi follows ``%%abc-include``: a tune could
pull in any file, or hang on /dev/zero). Every failure becomes a ``RenderError``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import symusic

from engine.errors import RenderError

MAX_ABC_BYTES = 200_000  # far above any tune we compose (a 2-minute piece is ~10 kB)
MAX_MIDI_BYTES = 5_000_000
ABC2MIDI_TIMEOUT = 15.0
# A directive line ("%%abc-include x", "I:abc-include x") or inline field ("[I:abc-include x]")
# that makes an ABC tool read another file.
_INCLUDE_LINE = re.compile(r"^\s*(%%|I:)\s*abc-include\b.*$", re.IGNORECASE | re.MULTILINE)
_INCLUDE_FIELD = re.compile(r"\[I:\s*abc-include[^\]]*\]", re.IGNORECASE)


def abc_to_score(abc: str) -> symusic.Score:
    """Parse ABC notation into a score (ticks). Raises RenderError when there is no music in it."""
    if not isinstance(abc, str):
        raise RenderError(detail=f"ABC must be text, got {type(abc).__name__}")
    if not abc.strip():
        raise RenderError(detail="ABC text is empty")
    size = len(abc.encode("utf-8", errors="replace"))
    if size > MAX_ABC_BYTES:
        raise RenderError(detail=f"ABC text is {size} bytes, the limit is {MAX_ABC_BYTES}")
    if "\x00" in abc:
        raise RenderError(detail="ABC text contains NUL bytes")
    score = midi_bytes_to_score(_abc2midi(without_includes(abc)))
    if score.note_num() == 0:
        # abc2midi is lenient: broken tunes often "parse" into an empty file.
        raise RenderError(detail="the ABC parsed into a score with no notes")
    return score


def without_includes(abc: str) -> str:
    """The ABC with every include directive removed.

    A removed line becomes a comment, not an empty line: an empty line ends an ABC tune.
    """
    return _INCLUDE_FIELD.sub("", _INCLUDE_LINE.sub("%", abc))


def _abc2midi(abc: str) -> bytes:
    """Run symusic's abc2midi on the text; the MIDI file's bytes."""
    binary = os.environ.get("SYMUSIC_ABC2MIDI") or str(
        Path(symusic.__file__).parent / "bin" / "abc2midi"
    )
    with tempfile.TemporaryDirectory(prefix="pictune-abc-") as tmp:
        folder = Path(tmp)
        (folder / "input.abc").write_text(abc, encoding="utf-8")
        try:
            result = subprocess.run(
                [binary, "input.abc", "-o", "output.mid", "-silent"],
                cwd=folder,
                capture_output=True,
                timeout=ABC2MIDI_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            raise RenderError(detail=f"abc2midi did not run: {exc}") from exc
        output = folder / "output.mid"
        if not output.exists():
            messages = (result.stdout + result.stderr).decode("utf-8", "replace").strip()
            raise RenderError(detail=f"abc2midi could not parse the ABC: {messages[-500:]}")
        return output.read_bytes()


def score_to_midi_bytes(score: symusic.Score) -> bytes:
    """A standard MIDI file (type 1) of the score."""
    try:
        return bytes(score.dumps_midi())
    except Exception as exc:
        raise RenderError(detail=f"could not write MIDI: {exc}") from exc


def midi_bytes_to_score(data: bytes) -> symusic.Score:
    """Parse a MIDI file's bytes (ticks). Raises RenderError on corrupt or oversized data."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise RenderError(detail="MIDI data is empty or not bytes")
    if len(data) > MAX_MIDI_BYTES:
        raise RenderError(detail=f"MIDI data is {len(data)} bytes, the limit is {MAX_MIDI_BYTES}")
    try:
        return symusic.Score.from_midi(bytes(data))
    except Exception as exc:
        raise RenderError(detail=f"could not parse MIDI: {exc}") from exc


def track_note_counts(score: symusic.Score) -> list[int]:
    """Number of notes in each track, in track order."""
    return [len(track.notes) for track in score.tracks]


def score_seconds(score: symusic.Score) -> float:
    """When the last note ends, in seconds, following the score's tempo changes."""
    seconds = score if _is_second(score) else score.to("second")
    return float(seconds.end())


def _is_second(score: symusic.Score) -> bool:
    return "Second" in str(score.ttype)
