"""ABC text -> symusic Score -> MIDI bytes, and back.

symusic's ``Score.from_abc`` runs the abc2midi binary that ships inside the symusic wheel, so
no system package is needed. Everything that comes in here may be model output: it is size
checked, and every failure becomes a ``RenderError``.
"""

from __future__ import annotations

import symusic

from engine.errors import RenderError

MAX_ABC_BYTES = 200_000  # far above any tune we compose (a 2-minute piece is ~10 kB)
MAX_MIDI_BYTES = 5_000_000


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
    try:
        score = symusic.Score.from_abc(abc)
    except Exception as exc:  # abc2midi failing surfaces as RuntimeError; be broad on purpose
        raise RenderError(detail=f"abc2midi could not parse the ABC: {exc}") from exc
    if score.note_num() == 0:
        # abc2midi is lenient: broken tunes often "parse" into an empty file.
        raise RenderError(detail="the ABC parsed into a score with no notes")
    return score


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
