"""Performance: is the MIDI played, not printed?

The ABC is the score; the MIDI that is saved and rendered is its performance
(``engine.render.perform.performed_score``, the function the pipeline calls). For the style
pieces this measures what a listener hears of the playing: how many different melody
velocities there are and how the bar-mean velocity moves (phrasing), how far onsets sit from
the (swung) grid, how much the last bar slows, the swing ratio where the style swings, the
sustain pedal and the mix controllers, and, on one rendered piece per style, the integrated
loudness and true peak of the audio.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.compose.styles import style_for
from engine.errors import PictuneError
from engine.render.audio import render_midi
from engine.render.loudness import integrated_loudness, true_peak
from engine.render.midi import abc_to_score, score_to_midi_bytes
from engine.render.mix import CHORUS, PAN, REVERB, VOLUME, roles
from engine.render.perform import PIANOS, perform, performed_score
from eval.report import Section, table
from eval.styles import STYLE_HINTS, STYLE_SECONDS, read_piece, style_images, swing_ratio

if TYPE_CHECKING:
    import symusic

    from eval.context import Context

TARGETS = {
    "distinct_velocities": 8,  # at least, melody
    "bar_velocity_std": 6.0,  # at least, melody bar means
    "onset_ms": (5.0, 15.0),
    "ritardando": (0.05, 0.15),
    "lufs": (-17.0, -15.0),
    "lufs_spread": 2.0,
    "true_peak": -1.0,
}
MIX_CONTROLS = (VOLUME, PAN, REVERB, CHORUS)
# A piece's played swing is read from at least this many eighth pairs. One pair under 9 ms of
# timing jitter reads within about 0.14 of its written ratio (sd, at 112 bpm), a median of 6
# within 0.07: a jazz piece without drums, its melody syncopated, read 1.63 for a written 1.79
# from 6 pairs (26 swung pieces spread 1.63-2.04; without jitter all read 1.79). At 12 pairs
# the sd is 0.05, a third of the 0.15 allowed.
MIN_SWING_PAIRS = 12


def _seconds(score: symusic.Score) -> Callable[[float], float]:
    """Tick -> seconds along the score's tempo map."""
    tempos = [(t.time, t.qpm) for t in score.tempos] or [(0, 120.0)]
    starts, at = [], 0.0
    for i, (tick, _) in enumerate(tempos):
        if i:
            prev_tick, prev_qpm = tempos[i - 1]
            at += (tick - prev_tick) * 60.0 / (prev_qpm * score.tpq)
        starts.append(at)
    ticks = [t for t, _ in tempos]

    def convert(tick: float) -> float:
        i = max(0, bisect.bisect_right(ticks, tick) - 1)
        return starts[i] + (tick - ticks[i]) * 60.0 / (tempos[i][1] * score.tpq)

    return convert


def onset_deviations_ms(reference: symusic.Score, performed: symusic.Score) -> list[float]:
    """Each performed onset's distance from its written (swung) place, in ms, along the
    performance's tempo map. Notes are paired per track and pitch, in time order."""
    seconds = _seconds(performed)
    out = []
    for ref, per in zip(reference.tracks, performed.tracks, strict=True):
        by_pitch: dict[int, tuple[list[int], list[int]]] = {}
        for n in ref.notes:
            by_pitch.setdefault(n.pitch, ([], []))[0].append(n.time)
        for n in per.notes:
            by_pitch.setdefault(n.pitch, ([], []))[1].append(n.time)
        for written, played in by_pitch.values():
            for w, p in zip(sorted(written), sorted(played), strict=False):
                out.append(1000.0 * (seconds(p) - seconds(w)))
    return out


def ritardando(performed: symusic.Score, beat: int, last_bar: int, bar: int) -> float:
    """How much longer the last bar's beats last than the piece's median beat (0.1: 10%)."""
    seconds = _seconds(performed)
    n = (last_bar + 1) * bar // beat
    lengths = [seconds((k + 1) * beat) - seconds(k * beat) for k in range(n)]
    last = lengths[last_bar * bar // beat :]
    return float(np.mean(last) / np.median(lengths) - 1.0) if last else math.nan


def measure_performance(abc: str, genre: str, seed: int) -> dict[str, float]:
    """The playing of one piece, as numbers (NaN where a measure has no material)."""
    style = style_for(genre)
    written = abc_to_score(abc)
    reference = perform(written, style.swing)  # the grid as the style places it (swung)
    performed = performed_score(abc, genre, seed)
    piece = read_piece(abc, written, performed)
    out: dict[str, float] = {}
    parts = roles(performed)
    melody = [
        n for t, r in zip(performed.tracks, parts, strict=True) if r == "melody" for n in t.notes
    ]
    out["distinct_velocities"] = float(len({n.velocity for n in melody}))
    bar_ticks = piece.bar * written.tpq // 12
    by_bar: dict[int, list[int]] = {}
    for note, ref in zip(
        sorted(melody, key=lambda n: n.time), _melody_onsets(reference), strict=False
    ):
        by_bar.setdefault(ref // bar_ticks, []).append(note.velocity)
    means = [float(np.mean(v)) for v in by_bar.values()]
    out["bar_velocity_std"] = float(np.std(means)) if len(means) > 1 else math.nan
    out["onset_ms"] = float(np.std(onset_deviations_ms(reference, performed)))
    beat_ticks = piece.beat * written.tpq // 12
    last_bar = max(n.time for t in written.tracks for n in t.notes) // bar_ticks
    out["ritardando"] = ritardando(performed, beat_ticks, last_bar, bar_ticks)
    swung = style.swing > 1.0
    sources = [piece.raw.get(r, []) for r in ("drums", "chords", "melody")]
    out["swing_ratio"] = swing_ratio(sources, min_pairs=MIN_SWING_PAIRS) if swung else math.nan
    out["style_swing"] = style.swing if swung else math.nan
    pianos = [t for t in performed.tracks if not t.is_drum and t.program in PIANOS]
    others = [t for t in performed.tracks if t.is_drum or t.program not in PIANOS]
    pedalled = [any(c.number == 64 for c in t.controls) for t in pianos]
    out["pedal_tracks"] = float(sum(pedalled)) if pianos else math.nan
    out["piano_tracks"] = float(len(pianos))
    out["stray_pedals"] = float(sum(any(c.number == 64 for c in t.controls) for t in others))
    out["mixed_tracks"] = float(
        sum({c.number for c in t.controls} >= set(MIX_CONTROLS) for t in performed.tracks)
    ) / max(1, len(performed.tracks))
    return out


def _melody_onsets(score: symusic.Score) -> list[int]:
    parts = roles(score)
    notes = [n for t, r in zip(score.tracks, parts, strict=True) if r == "melody" for n in t.notes]
    return sorted(n.time for n in notes)


def loudness(abc: str, genre: str, seed: int, ctx: Context) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of the performance rendered as the pipeline does."""
    midi = score_to_midi_bytes(performed_score(abc, genre, seed))
    audio = render_midi(midi, ctx.settings)
    peak = true_peak(audio.samples)
    return (
        integrated_loudness(audio.samples, audio.sample_rate),
        20 * math.log10(peak) if peak > 0 else -math.inf,
    )


def performance_pieces(ctx: Context) -> dict[str, list[dict[str, Any]]]:
    """The style pieces (the style section's, from the cache), each with ``performance``
    measures, and audio measures on the first piece of each style."""
    out: dict[str, list[dict[str, Any]]] = {}
    for style, hint in STYLE_HINTS.items():
        pieces = []
        for k, im in enumerate(style_images(ctx)):
            rec = ctx.composer.piece(im.name, im.bytes(), hint=hint, duration=STYLE_SECONDS)
            if not rec.get("ok"):
                continue
            genre, seed = str(rec["brief"].get("genre", "")), int(rec["seed"])
            try:
                m = measure_performance(rec["abc"], genre, seed)
                if k == 0:
                    m["lufs"], m["true_peak"] = loudness(rec["abc"], genre, seed, ctx)
            except PictuneError as exc:
                ctx.log(f"performance: {style} {im.name}: {exc}")
                continue
            pieces.append({"name": im.name, "genre": genre, "measures": m})
        out[style] = pieces
    ctx.log("performance: done")
    return out


def _median(rows: Sequence[dict[str, float]], key: str) -> float:
    v = [r[key] for r in rows if key in r and not math.isnan(r[key])]
    return float(np.median(v)) if v else math.nan


def _range(values: Sequence[float]) -> str:
    v = [x for x in values if not math.isnan(x)]
    return f"{min(v):.2f}–{max(v):.2f}" if v else "–"


COLUMNS = (
    ("distinct_velocities", "melody velocities"),
    ("bar_velocity_std", "bar-mean vel. sd"),
    ("onset_ms", "onset sd (ms)"),
    ("ritardando", "ritardando"),
    ("swing_ratio", "swing"),
    ("style_swing", "style swing"),
    ("lufs", "LUFS"),
    ("true_peak", "dBTP"),
)


def targets(rows: Sequence[dict[str, float]]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) over all pieces."""

    def col(key: str) -> list[float]:
        return [r[key] for r in rows if key in r and not math.isnan(r[key])]

    def least(key: str, floor: float) -> tuple[str, bool | None]:
        v = col(key)
        return (f"min {min(v):.1f}", min(v) >= floor) if v else ("–", None)

    def within(key: str, lo: float, hi: float) -> tuple[str, bool | None]:
        v = col(key)
        return (_range(v), all(lo <= x <= hi for x in v)) if v else ("–", None)

    lufs = col("lufs")
    swung = sum(not math.isnan(r["style_swing"]) for r in rows)
    swing = [
        (r["swing_ratio"], r["style_swing"])
        for r in rows
        if not math.isnan(r["style_swing"]) and not math.isnan(r["swing_ratio"])
    ]
    out = [
        ("≥ 8 distinct melody velocities per piece", *least("distinct_velocities", 8)),
        ("bar-mean melody velocity sd ≥ 6 per piece", *least("bar_velocity_std", 6.0)),
        ("onset deviation from the (swung) grid: sd 5–15 ms", *within("onset_ms", 5.0, 15.0)),
        ("last bar's beats 5–15% longer (ritardando)", *within("ritardando", 0.05, 0.15)),
        ("integrated loudness −16 ± 1 LUFS", *within("lufs", -17.0, -15.0)),
        (
            "loudness spread between pieces ≤ 2 LU",
            f"{max(lufs) - min(lufs):.2f}" if lufs else "–",
            (max(lufs) - min(lufs) <= 2.0) if lufs else None,
        ),
        (
            "true peak ≤ −1 dBTP",
            f"max {max(col('true_peak')):.2f}" if col("true_peak") else "–",
            (max(col("true_peak")) <= -1.0 + 0.05) if col("true_peak") else None,
        ),
        (
            "swing ratio within 0.15 of the style's",
            f"{_range([s for s, _ in swing])} ({len(swing)} of {swung} swung pieces; the others "
            f"play fewer than {MIN_SWING_PAIRS} eighth pairs)"
            if len(swing) < swung
            else _range([s for s, _ in swing]),
            all(abs(s - want) <= 0.15 for s, want in swing) if swing else None,
        ),
        (
            "sustain pedal on every piano part, on no other",
            f"{sum(r['pedal_tracks'] for r in rows if not math.isnan(r['pedal_tracks'])):.0f} of "
            f"{sum(r['piano_tracks'] for r in rows):.0f}; stray {sum(r['stray_pedals'] for r in rows):.0f}",
            all(r["pedal_tracks"] == r["piano_tracks"] for r in rows if r["piano_tracks"])
            and not any(r["stray_pedals"] for r in rows),
        ),
        (
            "volume, pan, reverb and chorus on every track",
            f"{min(col('mixed_tracks')):.2f}" if rows else "–",
            all(r["mixed_tracks"] == 1.0 for r in rows) if rows else None,
        ),
    ]
    return out


def section(ctx: Context) -> Section:
    """The performance section: a table per style and the targets."""
    sec = Section("Performance: the MIDI as played")
    by_style = performance_pieces(ctx)
    rows = {s: [p["measures"] for p in ps] for s, ps in by_style.items()}
    every = [m for ms in rows.values() for m in ms]
    goals = targets(every)
    sec.add(
        f"The style pieces ({len(style_images(ctx))} images a style hint, {STYLE_SECONDS:.0f} s) "
        "performed by `engine.render.perform.performed_score`, the function the pipeline "
        "calls: medians per style. Melody velocities: distinct values; bar-mean velocity sd: "
        "the standard deviation of the melody's mean velocity per bar (phrasing). Onset sd: "
        "of every note's distance from its written place (on the swung grid where the style "
        "swings), along the performance's tempo map. Ritardando: the last bar's mean beat "
        "against the median beat. LUFS and dBTP: the first piece of each style rendered with "
        "FluidSynth and normalised as the pipeline does.",
        table(
            ["style", "n", *[h for _, h in COLUMNS]],
            [[s, len(ms), *[_median(ms, k) for k, _ in COLUMNS]] for s, ms in rows.items()],
        ),
        "Targets:",
        table(
            ["target", "measured", "met"],
            [[name, measured, "–" if met is None else met] for name, measured, met in goals],
        ),
    )
    sec.data = {
        "styles": {s: {k: _median(ms, k) for k, _ in COLUMNS} for s, ms in rows.items()},
        "pieces": [
            {"style": s, "image": p["name"], "genre": p["genre"], "measures": p["measures"]}
            for s, ps in by_style.items()
            for p in ps
        ],
        "targets": [{"target": n, "measured": m, "met": ok} for n, m, ok in goals],
    }
    return sec
