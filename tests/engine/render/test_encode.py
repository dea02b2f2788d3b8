from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from engine.config import Settings
from engine.errors import InvalidOption, RenderError
from engine.render import encode
from engine.render.audio import Audio, render_midi
from engine.render.encode import decode_audio, encode_audio
from engine.render.midi import abc_to_score

DISCORD_LIMIT = 10 * 1024 * 1024


@pytest.fixture
def audio(two_voice_abc: str, settings: Settings) -> Audio:
    return render_midi(abc_to_score(two_voice_abc), settings)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_mp3_decodes_back_to_the_same_length(audio: Audio) -> None:
    data = encode_audio(audio, "mp3")
    info = soundfile.info(io.BytesIO(data))
    assert info.format == "MP3"
    back = decode_audio(data)
    assert back.sample_rate == audio.sample_rate
    assert back.samples.shape[1] == 2
    assert back.seconds == pytest.approx(audio.seconds, abs=0.1)
    assert rms(back.samples) == pytest.approx(rms(audio.samples), rel=0.1)


def test_ogg_vorbis_round_trip(audio: Audio) -> None:
    data = encode_audio(audio, "ogg")
    info = soundfile.info(io.BytesIO(data))
    assert (info.format, info.subtype) == ("OGG", "VORBIS")
    back = decode_audio(data)
    assert back.seconds == pytest.approx(audio.seconds, abs=0.1)
    assert rms(back.samples) == pytest.approx(rms(audio.samples), rel=0.1)


def test_wav_is_16_bit_and_nearly_lossless(audio: Audio) -> None:
    data = encode_audio(audio, "WAV")
    info = soundfile.info(io.BytesIO(data))
    assert (info.format, info.subtype) == ("WAV", "PCM_16")
    back = decode_audio(data)
    assert back.samples.shape == audio.samples.shape
    assert float(np.max(np.abs(back.samples - audio.samples))) < 2 / 32768


def test_a_minute_of_mp3_fits_far_under_discords_limit(audio: Audio) -> None:
    reps = int(np.ceil(60 / audio.seconds))
    minute = Audio(np.tile(audio.samples, (reps, 1))[: 60 * audio.sample_rate], audio.sample_rate)
    data = encode_audio(minute, "mp3")
    # 192 kbps CBR: 1.4 MB a minute, so the longest piece (120 s) stays under 3 MB
    assert len(data) < DISCORD_LIMIT / 6
    back = decode_audio(data)
    assert back.seconds == pytest.approx(60.0, abs=0.1)
    assert back.sample_rate == audio.sample_rate


def test_mp3_goes_through_lame_when_lameenc_is_installed(
    audio: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert encode.lameenc is not None, "lameenc is a dependency"
    made = []
    real = encode.lameenc.Encoder

    def spy() -> object:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(encode.lameenc, "Encoder", spy)
    data = encode_audio(audio, "mp3")
    assert len(made) == 2  # 11.5 s: two halves on two cores, joined (test_mp3.py)
    # constant 192 kbps, where libsndfile's VBR would vary with the music
    assert len(data) * 8 / audio.seconds / 1000 == pytest.approx(encode.MP3_KBPS, rel=0.03)


def test_mp3_falls_back_to_libsndfile_without_lameenc(
    audio: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encode, "lameenc", None)
    data = encode_audio(audio, "mp3")
    assert soundfile.info(io.BytesIO(data)).format == "MP3"
    back = decode_audio(data)
    assert back.seconds == pytest.approx(audio.seconds, abs=0.1)
    assert rms(back.samples) == pytest.approx(rms(audio.samples), rel=0.1)


@pytest.mark.parametrize("sample_rate", [22050, 48000])
def test_mp3_keeps_other_sample_rates(sample_rate: int) -> None:
    t = np.arange(3 * sample_rate) / sample_rate
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    back = decode_audio(encode_audio(Audio(np.stack([tone, tone], axis=1), sample_rate), "mp3"))
    assert back.sample_rate == sample_rate
    assert back.seconds == pytest.approx(3.0, abs=0.1)


def test_long_ogg_does_not_crash_the_encoder() -> None:
    # One big write used to overflow libvorbis's stack; 100 s of noise covers it.
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal((100 * 22050, 2)) * 0.1).astype(np.float32)
    data = encode_audio(Audio(noise, 22050), "ogg")
    assert decode_audio(data).seconds == pytest.approx(100.0, abs=0.1)


def test_unknown_format_is_an_invalid_option(audio: Audio) -> None:
    with pytest.raises(InvalidOption) as info:
        encode_audio(audio, "flac")
    assert "mp3" in info.value.user_message


def test_mono_files_decode_to_stereo() -> None:
    buf = io.BytesIO()
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 8000)).astype(np.float32) * 0.5
    soundfile.write(buf, tone, 8000, format="WAV", subtype="FLOAT")
    back = decode_audio(buf.getvalue())
    assert back.samples.shape == (8000, 2)
    assert np.allclose(back.samples[:, 0], tone) and np.allclose(back.samples[:, 1], tone)


@pytest.mark.parametrize("data", [b"", b"not audio at all", b"RIFF\x00\x00\x00\x00WAVEjunk"])
def test_corrupt_audio_raises_render_error(data: bytes) -> None:
    with pytest.raises(RenderError):
        decode_audio(data)
