"""From the score to a performance: what the ABC leaves to the player.

For now: swing. A swung style's eighth notes are written straight, as lead sheets write them,
and played long-short: every beat's time is warped so that its off-beat eighth falls at
``ratio / (1 + ratio)`` of the beat (2.0 is the triplet swing of a shuffle, about 1.6-1.8 the
lighter swing of a medium jazz tempo). Compound meters (6/8, 9/8, 12/8) already divide the
beat in three and are left as they are.
"""

from __future__ import annotations

import symusic


def perform(score: symusic.Score, swing: float = 1.0) -> symusic.Score:
    """The score as played: a new score (ticks), swung when ``swing`` > 1."""
    ticks = score if "Tick" in str(score.ttype) else score.to("tick")
    if swing <= 1.0 + 1e-6 or _compound(ticks):
        return ticks
    out = ticks.copy()
    tpq = out.ticks_per_quarter
    for track in out.tracks:
        for note in track.notes:
            start, end = _warp(note.time, tpq, swing), _warp(note.time + note.duration, tpq, swing)
            note.time, note.duration = start, max(1, end - start)
    return out


def _warp(tick: int, tpq: int, ratio: float) -> int:
    """Where a straight tick falls when the beat's two eighths are played ratio : 1."""
    beat, pos = divmod(tick, tpq)
    half, long = tpq / 2, tpq * ratio / (1 + ratio)
    early = pos <= half  # in the beat's first eighth, which is stretched; the second shrinks
    moved = pos * long / half if early else long + (pos - half) * (tpq - long) / (tpq - half)
    return beat * tpq + round(moved)


def _compound(score: symusic.Score) -> bool:
    if len(score.time_signatures) == 0:
        return False
    ts = score.time_signatures[0]
    return ts.denominator == 8 and ts.numerator % 3 == 0 and ts.numerator > 3
