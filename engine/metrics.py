"""MusPy metrics of a piece, as used by arXiv 2509.22378 (plus groove consistency).

Which notes each metric sees:

- The corpus tunes that the evaluation compares against are single melodies, so every metric
  that describes a *line* is computed on the **melody only** (the first non-drum track, i.e.
  ``V:1``, from the bar it enters: an intro is not the melody's silence): pitch_range, n_pitches_used, n_pitch_classes_used, scale_consistency,
  pitch_entropy, pitch_class_entropy, empty_beat_rate, groove_consistency.
- ``polyphony`` is computed on **all pitched tracks** (drums excluded): it is the one metric
  that describes the texture (melody + accompaniment + bass), which a single line cannot show.
  A corpus melody has polyphony ~1, so this one is not comparable with the corpus.

The score is built as a ``muspy.Music`` directly from the symusic notes (no temporary files),
on a grid of ``RESOLUTION`` steps per quarter note: abc2midi staggers chord notes by a few
ticks (the notes still end together: they are moved back to the chord's first onset) and starts at
tick 1, which rounding to the grid removes.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine.render.midi import abc_to_score

if TYPE_CHECKING:
    import symusic

RESOLUTION = 24  # time steps per quarter note (muspy's default)

METRICS: tuple[str, ...] = (
    "pitch_range",
    "n_pitches_used",
    "n_pitch_classes_used",
    "polyphony",
    "scale_consistency",
    "pitch_entropy",
    "pitch_class_entropy",
    "empty_beat_rate",
    "groove_consistency",
)


@lru_cache(maxsize=1)
def _muspy() -> Any:
    # Importing muspy costs ~1-2 s; only pay it when a metric is actually asked for.
    import muspy

    return muspy


def measure(abc: str) -> dict[str, float]:
    """All METRICS of an ABC piece. Raises RenderError when the ABC does not parse."""
    return measure_score(abc_to_score(abc))


def measure_score(score: symusic.Score) -> dict[str, float]:
    """All METRICS of a symusic score (any time unit)."""
    mp = _muspy()
    music = _to_music(score)
    pitched = [t for t in music.tracks if not t.is_drum and len(t.notes) > 0]
    measure_steps = _measure_steps(score)
    melody = mp.Music(
        resolution=RESOLUTION, tracks=[_from_entry(t, measure_steps) for t in pitched[:1]]
    )
    everything = mp.Music(resolution=RESOLUTION, tracks=pitched)
    out = {
        "pitch_range": mp.pitch_range(melody),
        "n_pitches_used": mp.n_pitches_used(melody),
        "n_pitch_classes_used": mp.n_pitch_classes_used(melody),
        "polyphony": mp.polyphony(everything),
        "scale_consistency": mp.scale_consistency(melody),
        "pitch_entropy": mp.pitch_entropy(melody),
        "pitch_class_entropy": mp.pitch_class_entropy(melody),
        "empty_beat_rate": mp.empty_beat_rate(melody),
        "groove_consistency": mp.groove_consistency(melody, measure_steps),
    }
    # NaN (no notes, or a single bar for groove) would poison distances and JSON: use 0.
    return {k: (0.0 if v is None or math.isnan(float(v)) else float(v)) for k, v in out.items()}


def _to_music(score: symusic.Score) -> Any:
    mp = _muspy()
    ticks = score if "Tick" in str(score.ttype) else score.to("tick")
    tpq = ticks.ticks_per_quarter
    tracks = []
    for track in ticks.tracks:
        notes = []
        head_time, head_end = -(10**9), -1
        for n in sorted(track.notes, key=lambda n: (n.time, n.pitch)):
            time, end_tick = n.time, n.time + n.duration
            # abc2midi staggers a chord's notes by a few ticks; they still end together.
            if end_tick == head_end and 0 < time - head_time <= tpq // 16:
                time = head_time
            else:
                head_time, head_end = time, end_tick
            start = round(time * RESOLUTION / tpq)
            end = round(end_tick * RESOLUTION / tpq)
            notes.append(
                mp.Note(
                    time=start, pitch=n.pitch, duration=max(1, end - start), velocity=n.velocity
                )
            )
        notes.sort(key=lambda n: (n.time, n.pitch))
        tracks.append(mp.Track(program=track.program, is_drum=track.is_drum, notes=notes))
    return mp.Music(resolution=RESOLUTION, tracks=tracks)


def _from_entry(track: Any, measure_steps: int) -> Any:
    """The melody from the bar it enters: bars of accompaniment alone before it (an intro)
    are not silences of the melody, and would count as empty beats."""
    if not track.notes:
        return track
    skip = (min(n.time for n in track.notes) // measure_steps) * measure_steps
    if skip == 0:
        return track
    mp = _muspy()
    notes = [
        mp.Note(time=n.time - skip, pitch=n.pitch, duration=n.duration, velocity=n.velocity)
        for n in track.notes
    ]
    return mp.Track(program=track.program, is_drum=track.is_drum, notes=notes)


def _measure_steps(score: symusic.Score) -> int:
    """Grid steps in one bar of the first time signature (4/4 when there is none)."""
    num, den = 4, 4
    if len(score.time_signatures) > 0:
        ts = score.time_signatures[0]
        num, den = ts.numerator, ts.denominator
    return max(1, round(RESOLUTION * 4 * num / den))
