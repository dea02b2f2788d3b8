from __future__ import annotations

import io

import numpy as np
import pytest
import symusic
from PIL import Image

from engine.compose.styles import Feel
from engine.render.midi import abc_to_score, midi_bytes_to_score
from engine.render.mix import CHORUS, PAN, REVERB, VOLUME, roles
from engine.render.perform import perform, performed_midi, performed_score

EIGHTHS = "X:1\nM:4/4\nL:1/8\nQ:1/4=120\nK:C\nC D E F G A B c|\n"
# Melody (piano), chords (strings), bass (piano), drums: 12 bars, the melody from bar 1.
BAND = (
    """X:1
M:4/4
L:1/8
Q:1/4=100
K:C
V:1
%%MIDI program 0
"""
    + " | ".join(["c d e f g a b c'"] * 12)
    + """ |]
V:2
%%MIDI program 48
"""
    + " | ".join(["[CEG]4 [FAc]4"] * 12)
    + """ |]
V:3
%%MIDI program 1
"""
    + " | ".join(["C,2 G,,2 C,2 G,,2"] * 12)
    + """ |]
V:4
%%MIDI channel 10
"""
    + " | ".join(["[C,,^F,,]^F,,[D,,^F,,]^F,, [C,,^F,,]^F,,[D,,^F,,]^F,,"] * 12)
    + """ |]
"""
)
FEEL = Feel()


def _band(seed: int = 1) -> symusic.Score:
    return perform(abc_to_score(BAND), 1.0, FEEL, seed)


def _tracks(score: symusic.Score) -> dict[str, symusic.core.TrackTick]:
    return dict(zip(roles(score), score.tracks, strict=True))


def test_swing_plays_straight_eighths_long_short() -> None:
    score = abc_to_score(EIGHTHS)
    tpq = score.ticks_per_quarter
    for ratio in (1.5, 2.0):
        notes = perform(score, ratio).tracks[0].notes
        long, short = notes[0].duration, notes[1].duration
        assert abs(long / short - ratio) < 0.05
        assert notes[2].time - notes[0].time == tpq  # the beats stay where they were
    assert perform(score, 1.0).tracks[0].notes[1].time == score.tracks[0].notes[1].time


def test_compound_meters_are_not_swung() -> None:
    score = abc_to_score("X:1\nM:6/8\nL:1/8\nQ:1/4=120\nK:C\nC D E F G A|\n")
    assert [n.time for n in perform(score, 2.0).tracks[0].notes] == [
        n.time for n in score.tracks[0].notes
    ]


def test_same_seed_same_bytes_other_seed_other_timing() -> None:
    a, b = performed_midi(BAND, "jazz", 3), performed_midi(BAND, "jazz", 3)
    assert a == b
    other = midi_bytes_to_score(performed_midi(BAND, "jazz", 4))
    times = [n.time for t in midi_bytes_to_score(a).tracks for n in t.notes]
    assert times != [n.time for t in other.tracks for n in t.notes]


def test_the_score_parses_with_positive_durations_and_valid_velocities() -> None:
    score = midi_bytes_to_score(performed_midi(BAND, "rock", 1))
    notes = [n for t in score.tracks for n in t.notes]
    assert notes and all(n.duration > 0 and 1 <= n.velocity <= 127 for n in notes)


def test_downbeats_are_stronger_than_off_beats() -> None:
    score = _band()
    melody = _tracks(score)["melody"].notes
    bar = 4 * score.tpq
    written = abc_to_score(BAND)
    grid = [n.time - 1 for n in _tracks(written)["melody"].notes]
    down = [n.velocity for n, t in zip(melody, grid, strict=True) if t % bar == 0]
    off = [n.velocity for n, t in zip(melody, grid, strict=True) if t % score.tpq]
    assert np.mean(down) > np.mean(off) + 5


def test_phrases_arch_and_the_melody_sits_above_the_accompaniment() -> None:
    score = _band()
    parts = _tracks(score)
    bar = 4 * score.tpq
    by_bar: dict[int, list[int]] = {}
    for n in parts["melody"].notes:
        by_bar.setdefault((n.time + bar // 8) // bar, []).append(n.velocity)
    means = [np.mean(by_bar[b]) for b in range(4)]  # the first phrase
    assert max(means[1], means[2]) > means[0] + 4 and max(means[1], means[2]) > means[3] + 4
    mean = {r: np.mean([n.velocity for n in t.notes]) for r, t in parts.items()}
    assert mean["melody"] > mean["chords"]
    hats = [n.velocity for n in parts["drums"].notes if n.pitch == 42]
    kicks = [n.velocity for n in parts["drums"].notes if n.pitch == 36]
    assert np.mean(kicks) > np.mean(hats) + 10


def test_ritardando_slows_the_last_bar() -> None:
    seconds = _band().to("second")
    beat = 60 / 100
    tempos = sorted(seconds.tempos, key=lambda t: t.time)
    assert tempos[0].qpm == pytest.approx(100, abs=0.01)
    last = tempos[-1]
    assert 1.05 <= 100 / last.qpm <= 1.15
    notes = sorted(_tracks(seconds)["bass"].notes, key=lambda n: n.time)
    early = notes[5].time - notes[4].time
    late = notes[-1].time - notes[-2].time
    assert late > early * 1.05 and early == pytest.approx(beat, abs=0.05)


def test_pedal_on_piano_parts_only_changed_with_the_harmony() -> None:
    score = _band()
    parts = _tracks(score)
    for role in ("melody", "bass"):  # programs 0 and 1
        pedal = [c for c in parts[role].controls if c.number == 64]
        lifts = [c.time for c in pedal if c.value == 0]
        assert len(pedal) > 12 and any(t % (2 * score.tpq) == 0 for t in lifts[1:])
    for role in ("chords", "drums"):
        assert not [c for c in parts[role].controls if c.number == 64]
    assert (
        not perform(abc_to_score(BAND), 1.0, Feel(pedal=False))
        .tracks[0]
        .controls.filter(lambda c: c.number == 64)
    )


def test_every_channel_gets_its_mix() -> None:
    score = _band()
    parts = _tracks(score)
    for track in score.tracks:
        first = {c.number: c.value for c in track.controls if c.time == 0}
        assert {VOLUME, PAN, REVERB, CHORUS} <= set(first)
    vol = {r: next(c.value for c in t.controls if c.number == VOLUME) for r, t in parts.items()}
    pan = {r: next(c.value for c in t.controls if c.number == PAN) for r, t in parts.items()}
    assert vol["melody"] > vol["chords"] and pan["drums"] == 64
    assert abs(pan["melody"] - 64) < abs(pan["chords"] - 64)


def test_drums_keep_their_pitches_and_the_abc_is_untouched() -> None:
    written = abc_to_score(BAND)
    played = _band()
    assert sorted(n.pitch for n in _tracks(played)["drums"].notes) == sorted(
        n.pitch for n in _tracks(written)["drums"].notes
    )
    assert [len(t.notes) for t in played.tracks] == [len(t.notes) for t in written.tracks]


def test_onsets_move_a_few_milliseconds() -> None:
    written = abc_to_score(BAND).to("second")
    played = performed_score(BAND, "pop", 5).to("second")
    w = sorted(n.time for n in written.tracks[0].notes)[:80]
    p = sorted(n.time for n in played.tracks[0].notes)[:80]
    dev = np.array(p) - np.array(w)
    assert 0.002 < float(np.std(dev)) < 0.02


@pytest.mark.slow
def test_the_pipeline_saves_performed_midi() -> None:
    from engine.config import Settings
    from engine.pipeline import Pipeline
    from engine.types import ComposeRequest

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buf, "PNG")
    piece = Pipeline(Settings(_env_file=None)).run(
        ComposeRequest(image=buf.getvalue(), duration=10.0, seed=3)
    )
    assert piece.midi == performed_midi(piece.abc, piece.brief.genre, piece.seed)
