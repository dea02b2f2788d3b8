from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from engine.config import Settings
from engine.render import encode, mp3
from engine.render.audio import Audio, render_midi
from engine.render.midi import abc_to_score
from tests.engine.render.tunes import BAND_ABC

DELAY = 1105  # LAME's encoder + decoder delay at 44.1 kHz, in samples


@pytest.fixture(scope="module")
def band() -> Audio:
    # Drums, chords and a melody, twice over: ~20 s, with attacks for the block types.
    once = render_midi(abc_to_score(BAND_ABC), Settings(_env_file=None))
    return Audio(np.concatenate([once.samples, once.samples]), once.sample_rate)


def decoded(data: bytes) -> np.ndarray:
    samples, _ = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples


def test_frames_are_read_as_lame_writes_them(band: Audio) -> None:
    stream = encode._lame_stream(band.samples, band.sample_rate)
    frames = mp3.frames(stream)
    assert frames[0].start == 0 and frames[-1].end == len(stream)
    assert all(a.end == b.start for a, b in zip(frames, frames[1:], strict=False))
    assert {f.end - f.start for f in frames} <= {626, 627}  # 192 kbps at 44.1 kHz
    sides = [mp3.side_info(stream, f) for f in frames]
    assert all(0 <= s.main_data_begin < 512 for s in sides)
    assert max(s.main_data_begin for s in sides) > 100  # LAME uses its reservoir
    assert {b for s in sides for b in s.blocks} >= {0, 1, 2, 3}  # attacks: short blocks
    with pytest.raises(ValueError):
        mp3.frames(b"ID3" + stream)


def test_two_halves_joined_sound_like_one_encoding(band: Audio) -> None:
    samples, rate = band.samples, band.sample_rate
    one = encode._lame_stream(samples, rate)
    joined = encode._lame_mp3(samples, rate)
    assert joined != one  # two encoders ran
    assert mp3.frames(joined)  # every frame in sync
    a, b = decoded(one), decoded(joined)
    assert a.shape == b.shape  # the same length as one stream
    # Against the input, the joined file's error is the quantisation noise any MP3 has:
    # frame by frame around the join, about what one encoding's is there (a frame decoded
    # from the wrong reservoir bytes is noise at the music's own level, ~30 dB more).
    source = np.zeros_like(a)
    source[DELAY : DELAY + len(samples)] = samples[: len(a) - DELAY]

    def db(x: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-20))

    middle = mp3.split_for(len(samples)).middle
    for frame in range(middle - 2, middle + mp3.SEARCH_FRAMES + 2):
        at = slice(frame * mp3.SAMPLES_PER_FRAME, (frame + 1) * mp3.SAMPLES_PER_FRAME)
        assert db((b - source)[at]) < db((a - source)[at]) + 6.0, frame
    assert db(b - source) < db(a - source) + 0.5
    assert encode._lame_mp3(samples, rate) == joined  # the same audio gives the same file


def test_where_no_frame_qualifies_the_piece_is_one_stream(
    band: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mp3, "join", lambda *_args: None)
    one = encode._lame_stream(band.samples, band.sample_rate)
    assert encode._lame_mp3(band.samples, band.sample_rate) == one


def test_halves_that_cannot_be_read_are_one_stream(
    band: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*_args: object) -> bytes:
        raise ValueError("not MPEG-1 Layer III")

    monkeypatch.setattr(mp3, "join", unreadable)
    one = encode._lame_stream(band.samples, band.sample_rate)
    assert encode._lame_mp3(band.samples, band.sample_rate) == one


def test_short_pieces_and_other_rates_are_one_stream(band: Audio) -> None:
    short = band.samples[: int(encode.PARALLEL_SECONDS * band.sample_rate) - 1]
    assert encode._lame_mp3(short, band.sample_rate) == encode._lame_stream(short, band.sample_rate)
    assert 22050 not in mp3.SAMPLE_RATES  # MPEG-2 frames: not joined


def test_a_join_never_takes_more_reservoir_than_is_free(band: Audio) -> None:
    """At the join frame, the second stream needs no more reservoir bytes than the first
    stream's next frame had, and both encoders chose the same block types around it."""
    samples, rate = band.samples, band.sample_rate
    split = mp3.split_for(len(samples))
    first = encode._lame_stream(samples[: split.first_end * mp3.SAMPLES_PER_FRAME], rate)
    second = encode._lame_stream(samples[split.second_start * mp3.SAMPLES_PER_FRAME :], rate)
    joined = mp3.join(first, second, split)
    assert joined is not None
    ones, twos, both = mp3.frames(first), mp3.frames(second), mp3.frames(joined)
    at = next(
        i
        for i in range(split.middle, split.middle + mp3.SEARCH_FRAMES)
        if joined[both[i].start :] == second[twos[i - split.second_start].start :]
    )
    k = at - split.second_start

    def side(stream: bytes, frame: mp3.Frame) -> mp3.SideInfo:
        return mp3.side_info(stream, frame)

    assert side(second, twos[k]).main_data_begin <= side(first, ones[at]).main_data_begin
    assert side(first, ones[at - 1]).blocks == side(second, twos[k - 1]).blocks
    assert side(first, ones[at]).blocks == side(second, twos[k]).blocks
    assert split.middle <= at < split.middle + mp3.SEARCH_FRAMES
