"""From the score to a performance: what the ABC leaves to the players.

The ABC stays the clean score; the MIDI that is saved and rendered is a performance of it,
played in the style's ``Feel`` (compose/styles.py):

- **velocity** shaped by the phrase (an arch over each 4-bar phrase counted from the melody's
  entry, a crescendo into every second phrase's end, where sections change), by the metric
  position (downbeats stronger, off-beats lighter), by the role (the melody above the
  accompaniment, the bass firm, the drums' kick and snare above the hi-hats, ghost notes
  light) and by accents (syncopations, the phrase's highest note);
- **micro-timing**, seeded: a few ms of Gaussian spread per onset (a chord's notes move
  together), the bass a little ahead, the comping behind the beat in laid-back styles;
- **swing** where the style swings: every beat's time is warped so that its off-beat eighth
  falls at ``ratio / (1 + ratio)`` of the beat (2.0 the triplet swing of a shuffle, 1.6-1.8
  a medium jazz tempo). Compound meters (6/8, 9/8, 12/8) already divide the beat in three;
- **ritardando**: tempo events slow the last two bars step by step, by the feel's share at
  the last beat (FluidSynth renders from ``score.to("second")``, which follows them);
- **sustain pedal** (CC 64) on piano parts (GM programs 0-7), lifted and pressed again where
  the harmony changes (each bar, or half bar when the chord changes inside it);
- the **mix** (render/mix.py): pan, volume, reverb and chorus sends per channel.

The same seed gives the same MIDI bytes.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

import symusic

from engine.compose.styles import Feel, style_for
from engine.render.midi import abc_to_score, score_to_midi_bytes
from engine.render.mix import mix, roles

PHRASE_BARS = 4
RIT_BARS = 2
PIANOS = range(0, 8)  # General MIDI acoustic and electric pianos, harpsichord, clavinet
KICKS = frozenset({35, 36})
SNARES = frozenset({37, 38, 39, 40})  # side stick, snares, clap
HATS = frozenset({42, 44, 46})
RIDES = frozenset({51, 53, 59})
CRASHES = frozenset({49, 52, 55, 57})
# Role: (velocity offset from the written level, timing spread factor, offset in spreads).
ROLE_VELOCITY = {"melody": 6, "chords": -4, "bass": 2, "drums": 0}
ROLE_SPREAD = {"melody": 1.0, "chords": 1.0, "bass": 0.7, "drums": 0.6}
CEILING = 124  # the loudest velocity a part is shaped to, below 127 so accents still show
BASS_AHEAD = 0.3  # the bass leads the beat by this share of the timing spread


def performed_score(abc: str, genre: str, seed: int) -> symusic.Score:
    """The ABC as played in its style: what the pipeline saves and renders (and the
    evaluation measures; both call this, so they cannot drift)."""
    style = style_for(genre)
    return perform(abc_to_score(abc), style.swing, style.feel, seed)


def performed_midi(abc: str, genre: str, seed: int) -> bytes:
    """The performance as MIDI file bytes."""
    return score_to_midi_bytes(performed_score(abc, genre, seed))


def perform(
    score: symusic.Score, swing: float = 1.0, feel: Feel | None = None, seed: int = 0
) -> symusic.Score:
    """The score as played: a new score (ticks). Without a ``feel`` only swing is applied
    (the written notes in time, as the style section of the evaluation measures swing)."""
    ticks = score if "Tick" in str(score.ttype) else score.to("tick")
    out = ticks.copy()
    grid = _Grid.of(out)
    if feel is not None:
        _shape_velocities(out, grid, feel, random.Random(f"velocity {seed}"))
        _pedal(out, grid, feel)
    if swing > 1.0 + 1e-6 and not grid.compound:
        for track in out.tracks:
            for note in track.notes:
                start = _warp(note.time, grid.tpq, swing)
                end = _warp(note.time + note.duration, grid.tpq, swing)
                note.time, note.duration = start, max(1, end - start)
    if feel is not None:
        _loosen(out, grid, feel, random.Random(f"timing {seed}"))
        _ritardando(out, grid, feel)
        mix(out, feel)
    return out


@dataclass(frozen=True)
class _Grid:
    """The written score's metre, in ticks."""

    tpq: int
    bar: int
    beat: int
    compound: bool
    entry: int  # the bar the melody comes in
    last: int  # the bar of the last onset

    @classmethod
    def of(cls, score: symusic.Score) -> _Grid:
        tpq = score.tpq
        num, den = 4, 4
        if len(score.time_signatures):
            num, den = score.time_signatures[0].numerator, score.time_signatures[0].denominator
        compound = den == 8 and num % 3 == 0 and num > 3
        bar = max(1, tpq * 4 * num // den)
        beat = tpq * 3 // 2 if compound else max(1, tpq * 4 // den)
        pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
        melody = pitched[0].notes if pitched else []
        entry = min((n.time for n in melody), default=0) // bar
        last = max((n.time for t in score.tracks for n in t.notes), default=0) // bar
        return cls(tpq, bar, beat, compound, entry, last)


def _clusters(notes: symusic.core.NoteTickList, gap: int) -> list[int]:
    """Each note's onset group (abc2midi staggers a chord's notes by a few ticks): the
    group's first tick, in the notes' order."""
    order = sorted(range(len(notes)), key=lambda i: notes[i].time)
    out = [0] * len(notes)
    start = prev = None
    for i in order:
        t = notes[i].time
        if prev is None or t - prev > gap:
            start = t
        out[i] = start  # type: ignore[assignment]
        prev = t
    return out


# ---------------------------------------------------------------- velocity


def _metric(pos: int, grid: _Grid) -> float:
    """Accent of a position in the bar: downbeat, main beats, off-beats, the rest."""
    tol = grid.tpq // 12
    near = lambda unit: min(pos % unit, unit - pos % unit) <= tol  # noqa: E731
    if pos <= tol or grid.bar - pos <= tol:
        return 6.0
    if near(grid.beat):
        middle = abs(pos - grid.bar / 2) <= tol and grid.bar // grid.beat % 2 == 0
        return 3.0 if middle else 0.0
    return -5.0 if near(grid.tpq // 2) else -8.0  # an off-beat eighth, or finer


def _phrase(tick: int, grid: _Grid, dynamics: int) -> float:
    """The phrase's arch (and the crescendo into a section's end), in velocity steps."""
    bar = tick / grid.bar
    if bar < grid.entry:  # the intro grows toward the melody's entry
        return dynamics * (bar / max(1, grid.entry) - 1.0) * 0.6
    length = PHRASE_BARS
    index, x = divmod((bar - grid.entry) / length, 1.0)
    shape = math.sin(math.pi * x)
    n_phrases = math.ceil((grid.last + 1 - grid.entry) / length)
    if int(index) % 2 == 1 and index + 1 < n_phrases:  # a section ends: build into it
        shape = max(shape, x)
    # The whole piece arches too, loudest two thirds of the way through.
    whole = math.sin(
        math.pi * min(1.0, (bar - grid.entry) / max(1, grid.last + 1 - grid.entry)) ** 1.5
    )
    return dynamics * (2.0 * shape - 1.0 + 0.6 * whole - 0.3)


def _drum_accent(pitch: int, pos: int, grid: _Grid) -> float:
    on_beat = min(pos % grid.beat, grid.beat - pos % grid.beat) <= grid.tpq // 12
    if pitch in KICKS:
        return 8.0
    if pitch in SNARES:
        return 6.0 if on_beat else -25.0  # a snare between the beats is a ghost note
    if pitch in HATS:
        return -12.0
    if pitch in RIDES:
        return -6.0
    if pitch in CRASHES:
        return 10.0
    return 0.0


def _shape_velocities(score: symusic.Score, grid: _Grid, feel: Feel, rng: random.Random) -> None:
    parts = roles(score)
    written = {r: _level(t) for t, r in zip(score.tracks, parts, strict=True) if len(t.notes)}
    for track, role in zip(score.tracks, parts, strict=True):
        notes = track.notes
        if not len(notes):
            continue
        # The written dynamic; the accompaniment is never above the melody's.
        level = min(written[role], written.get("melody", 127))
        onsets = _clusters(notes, grid.tpq // 16)
        peaks = _phrase_peaks(notes, grid) if role == "melody" else set()
        shaped = []
        for i, note in enumerate(notes):
            start = onsets[i]
            pos = (start - 1) % grid.bar  # abc2midi starts notes one tick late
            v = level + ROLE_VELOCITY.get(role, -4) + _phrase(start, grid, feel.dynamics)
            v += feel.accent * _metric(pos, grid)
            if track.is_drum:
                v += _drum_accent(note.pitch, pos, grid)
            elif _metric(pos, grid) < 0 and note.duration >= grid.beat * 0.9:
                v += 4.0 * feel.accent  # a syncopation: a long note off the beat
            if i in peaks:
                v += 4.0 * feel.accent
            shaped.append(v + rng.gauss(0.0, 2.0))
        # A loud written level would clip the arch at 127: the whole part moves down instead.
        shift = min(0.0, CEILING - max(shaped))
        for note, v in zip(notes, shaped, strict=True):
            note.velocity = int(min(127, max(1, round(v + shift))))


def _level(track: symusic.core.TrackTick) -> int:
    """The track's written dynamic: its median velocity (abc2midi accents some beats)."""
    return sorted(n.velocity for n in track.notes)[len(track.notes) // 2]


def _phrase_peaks(notes: symusic.core.NoteTickList, grid: _Grid) -> set[int]:
    """The index of the highest (first highest) note of each melody phrase."""
    best: dict[int, int] = {}
    for i, n in enumerate(notes):
        phrase = max(0, n.time // grid.bar - grid.entry) // PHRASE_BARS
        j = best.get(phrase)
        if j is None or n.pitch > notes[j].pitch:
            best[phrase] = i
    return set(best.values())


# ---------------------------------------------------------------- timing


def _loosen(score: symusic.Score, grid: _Grid, feel: Feel, rng: random.Random) -> None:
    """Move each onset group by its role's offset plus a seeded Gaussian spread (ms)."""
    tempos = [(t.time, t.qpm) for t in score.tempos] or [(0, 120.0)]
    times = [t for t, _ in tempos]
    for track, role in zip(score.tracks, roles(score), strict=True):
        notes = track.notes
        if not len(notes):
            continue
        spread = feel.timing_ms * ROLE_SPREAD.get(role, 1.0)
        offset = {"bass": -BASS_AHEAD * feel.timing_ms, "chords": feel.laid_back_ms}
        moved: dict[int, int] = {}
        for note, start in zip(notes, _clusters(notes, grid.tpq // 16), strict=True):
            if start not in moved:
                ms = offset.get(role, 0.0) + rng.gauss(0.0, spread)
                qpm = tempos[bisect.bisect_right(times, start) - 1][1]
                moved[start] = round(ms / 1000.0 * qpm / 60.0 * grid.tpq)
            note.time = max(0, note.time + moved[start])
        _untangle(track)


def _untangle(track: symusic.core.TrackTick) -> None:
    """A note that now ends after the next note of its pitch starts would have its note-off
    cut the next one: end it just before."""
    track.notes.sort()
    last: dict[int, symusic.core.NoteTick] = {}
    for note in track.notes:
        prev = last.get(note.pitch)
        if prev is not None and prev.time + prev.duration >= note.time:
            prev.duration = max(1, note.time - prev.time - 1)
        last[note.pitch] = note


def _warp(tick: int, tpq: int, ratio: float) -> int:
    """Where a straight tick falls when the beat's two eighths are played ratio : 1."""
    beat, pos = divmod(tick, tpq)
    half, long = tpq / 2, tpq * ratio / (1 + ratio)
    early = pos <= half  # in the beat's first eighth, which is stretched; the second shrinks
    moved = pos * long / half if early else long + (pos - half) * (tpq - long) / (tpq - half)
    return beat * tpq + round(moved)


def _ritardando(score: symusic.Score, grid: _Grid, feel: Feel) -> None:
    """Tempo events over the last bars: each beat slower, by ``ritardando`` at the last."""
    if feel.ritardando <= 0 or not len(score.tempos):
        return
    bars = min(RIT_BARS, grid.last + 1)
    start = (grid.last + 1 - bars) * grid.bar
    steps = bars * grid.bar // grid.beat
    qpm = [t.qpm for t in score.tempos if t.time <= start][-1]
    for t in [t for t in score.tempos if t.time >= start]:
        score.tempos.remove(t)
    for k in range(steps):
        slower = 1.0 + feel.ritardando * (k + 1) / steps
        score.tempos.append(symusic.Tempo(start + k * grid.beat, qpm / slower))
    score.tempos.sort()


# ---------------------------------------------------------------- pedal


def _pedal(score: symusic.Score, grid: _Grid, feel: Feel) -> None:
    """CC 64 on piano parts: pressed just after each harmony change, lifted on it."""
    if not feel.pedal:
        return
    changes = _harmony_changes(score, grid)
    catch = grid.tpq // 8  # the pedal goes down just after the new chord is struck
    for track in score.tracks:
        if track.is_drum or track.program not in PIANOS or not len(track.notes):
            continue
        first = min(n.time for n in track.notes) // grid.bar * grid.bar
        end = max(n.time + n.duration for n in track.notes)
        points = [t for t in changes if first < t < end]
        track.controls.append(symusic.ControlChange(first + catch, 64, 127))
        for t in points:
            track.controls.append(symusic.ControlChange(t, 64, 0))
            track.controls.append(symusic.ControlChange(t + catch, 64, 127))
        track.controls.append(symusic.ControlChange(end, 64, 0))
        track.controls.sort()


def _harmony_changes(score: symusic.Score, grid: _Grid) -> list[int]:
    """Every bar line, and the half bar where the chords' pitches change inside a bar."""
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    harmony = pitched[1] if len(pitched) > 1 else pitched[0] if pitched else None
    half = grid.bar // 2
    heard: dict[int, set[int]] = {}
    for n in harmony.notes if harmony is not None else []:
        heard.setdefault(n.time // half, set()).add(n.pitch % 12)
    out = []
    for bar in range(1, grid.last + 2):
        first, second = heard.get(2 * bar - 2), heard.get(2 * bar - 1)
        if grid.bar % 2 == 0 and first and second and first != second:
            out.append((bar - 1) * grid.bar + half)
        out.append(bar * grid.bar)
    return out
