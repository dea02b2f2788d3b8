from __future__ import annotations

from typing import Any

import symusic

from engine.render.midi import abc_to_score
from engine.render.parts import (
    CUT_VELOCITY,
    DRUM_CHANNEL,
    MAX_CHANNELS,
    NEVER,
    Plan,
    part_events,
    split_time,
    unit_of,
)
from tests.engine.render.tunes import BAND_ABC


class Recorder:
    """Stands in for a synth: each call becomes its name."""

    def __getattr__(self, name: str) -> str:
        return name


def per_note(_track: symusic.Track, _note: symusic.Note) -> float:
    """A cost that the controllers added by the tests leave alone: the split stays put."""
    return 1.0


def events(score: symusic.Score, part: int) -> list[tuple[float, int, Any, tuple]]:
    return part_events(Recorder(), score, Plan.of(score, cost=per_note), part)


def notes_on(evs: list[tuple[float, int, Any, tuple]]) -> list[tuple[float, tuple]]:
    return [(t, args) for t, _, call, args in evs if call == "noteon"]


def band() -> symusic.Score:
    return abc_to_score(BAND_ABC).to("second")


def test_every_note_is_played_once_by_one_of_the_two_synths() -> None:
    score = band()
    plan = Plan.of(score, cost=per_note)
    assert plan.parts == 2 and 0.25 * score.end() < plan.split < 0.75 * score.end()
    assert 0.25 * score.end() < Plan.of(score).split < 0.75 * score.end()  # the guessed cost
    first = [n for n in notes_on(events(score, 0)) if n[1][2] != CUT_VELOCITY]
    second = notes_on(events(score, 1))
    assert all(t < plan.split for t, _ in first) and all(t >= plan.split for t, _ in second)
    played = sorted(
        (round(n.time, 6), plan.channels[i].of(n.pitch), n.pitch)
        for i, track in enumerate(score.tracks)
        for n in track.notes
    )
    heard = sorted((round(t, 6), args[0], args[1]) for t, args in first + second)
    assert heard == played
    assert Plan.of(score, cost=per_note) == plan  # the score alone decides


def test_a_short_piece_is_played_by_one_synth() -> None:
    score = abc_to_score("X:1\nM:4/4\nL:1/4\nQ:1/4=120\nK:C\nCDEF|\n").to("second")
    assert split_time(score) == NEVER
    assert Plan.of(score).parts == 1
    assert Plan.of(band(), parts=1).parts == 1


def test_the_second_synth_starts_in_the_state_of_each_channel_at_the_split() -> None:
    score = band()
    split = Plan.of(score, cost=per_note).split
    melody = score.tracks[0]
    melody.controls.append(
        symusic.ControlChange(0.5, 7, 90, ttype="second")
    )  # volume, long before the split
    melody.controls.append(symusic.ControlChange(0.5, 10, 30, ttype="second"))
    melody.controls.append(symusic.ControlChange(1.0, 7, 70, ttype="second"))  # ...changed again
    melody.controls.append(
        symusic.ControlChange(split + 1.0, 7, 50, ttype="second")
    )  # after the split
    melody.pedals.append(
        symusic.Pedal(split - 1.0, 2.0, ttype="second")
    )  # held down across the split
    evs = events(score, 1)
    at_split = {(call, args[1:]) for t, _, call, args in evs if t == split}
    assert ("cc", (7, 70)) in at_split and ("cc", (10, 30)) in at_split
    assert ("cc", (7, 90)) not in at_split  # only the value in force at the split
    assert ("cc", (64, 127)) in at_split  # the pedal is down
    assert (split + 1.0, 2, "cc", (0, 7, 50)) in evs
    assert (split + 1.0, 1, "cc", (0, 64, 0)) in evs  # and lifted when it is
    # The first synth follows the controllers after the split too, for its ringing notes.
    assert (split + 1.0, 1, "cc", (0, 64, 0)) in events(score, 0)


def test_a_ringing_note_is_cut_off_in_the_first_synth_as_one_synth_would() -> None:
    score = band()
    split = Plan.of(score, cost=per_note).split
    drums = next(i for i, t in enumerate(score.tracks) if t.is_drum)
    channel = Plan.of(score).channels[drums].of(42)
    # An open hi-hat just before the split, a closed one just after: the closed one silences
    # the open one (one exclusive class), so the first synth hears it, at velocity 1.
    score.tracks[drums].notes.append(symusic.Note(split - 0.1, 0.05, 46, 100, ttype="second"))
    score.tracks[drums].notes.append(symusic.Note(split + 0.2, 0.05, 42, 100, ttype="second"))
    assert unit_of(42, True) == unit_of(46, True)
    assert Plan.of(score, cost=per_note).split == split
    cuts = [(t, a) for t, a in notes_on(events(score, 0)) if a[2] == CUT_VELOCITY]
    assert any(abs(t - split - 0.2) < 1e-4 and a == (channel, 42, CUT_VELOCITY) for t, a in cuts)
    assert all(t >= split for t, _ in cuts)
    # ...and a second-half note long after anything in its key has died away is not sent.
    assert all(t < split + 10 for t, _ in cuts)


def test_a_plucked_string_plays_each_key_on_its_own_channel() -> None:
    score = band()  # flute melody, steel-string guitar chords, drums
    plan = Plan.of(score, cost=per_note)
    flute, guitar, drums = plan.channels
    assert flute is not None and guitar is not None and drums is not None
    keys = sorted({n.pitch for n in score.tracks[1].notes})
    assert guitar.keys == tuple(keys) and len(set(guitar.channels)) == len(keys)
    assert set(plan.one_voice_per_key) == set(guitar.channels)
    assert len(flute.channels) == 1 and drums.channels == (DRUM_CHANNEL,)
    used = [channel for channel, _, _ in plan.programs]
    assert len(used) == len(set(used)) and DRUM_CHANNEL not in guitar.channels + flute.channels
    assert plan.synth_channels % 16 == 0 and plan.synth_channels > max(used)
    # Every guitar note sounds on its key's channel, in either synth.
    for part in (0, 1):
        for _t, args in notes_on(events(score, part)):
            if args[0] in guitar.channels:
                assert guitar.channels[keys.index(args[1])] == args[0]


def test_every_channel_of_a_track_follows_its_controllers() -> None:
    score = band()
    split = Plan.of(score, cost=per_note).split
    score.tracks[1].controls.append(symusic.ControlChange(0.5, 7, 90, ttype="second"))
    guitar = Plan.of(score, cost=per_note).channels[1]
    assert guitar is not None and len(guitar.channels) > 1
    at_split = {args for t, _, call, args in events(score, 1) if t == split and call == "cc"}
    assert all((channel, 7, 90) in at_split for channel in guitar.channels)


def test_channels_run_out_gracefully() -> None:
    """A piece with more plucked keys than FluidSynth has channels: the rest share one."""
    score = symusic.Score(ttype="second")
    for _ in range(4):
        track = symusic.Track(program=25, ttype="second")
        track.notes.extend(
            symusic.Note(i * 0.1, 0.1, 20 + i, 80, ttype="second") for i in range(88)
        )
        score.tracks.append(track)
    plan = Plan.of(score, parts=1)
    used = [channel for channel, _, _ in plan.programs]
    assert len(used) == len(set(used)) and max(used) < MAX_CHANNELS
    assert [len(c.channels) for c in plan.channels if c] == [88, 88, 1, 1]
