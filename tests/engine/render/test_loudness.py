"""The BS.1770 meter (checked against known values and pyloudnorm) and loudness matching."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import Settings
from engine.render.audio import render_midi
from engine.render.loudness import (
    MAX_GAIN_DB,
    _ir_taps,
    integrated_loudness,
    k_weighted,
    k_weighting,
    normalise_loudness,
    peak_envelope,
    true_peak,
)
from engine.render.midi import abc_to_score
from tests.engine.render.tunes import DRUM_ABC, TWO_VOICE_ABC

CEILING = 10 ** (-1.0 / 20)


def sine(freq: float, seconds: float, sr: int, amp: float = 0.5, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def stereo(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x], axis=1)


def dbtp(x: np.ndarray) -> float:
    return 20 * np.log10(true_peak(x))


def test_k_weighting_matches_the_standards_48k_coefficients() -> None:
    (b1, a1), (b2, a2) = k_weighting(48000)  # ITU-R BS.1770-4, tables 1 and 2
    assert np.allclose(b1, [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    assert np.allclose(a1, [1.0, -1.69065929318241, 0.73248077421585], atol=1e-8)
    assert np.allclose(b2, [1.0, -2.0, 1.0])
    assert np.allclose(a2, [1.0, -1.99004745483398, 0.99007225036621], atol=1e-8)


@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_a_1khz_sine_reads_as_the_standard_says(sr: int) -> None:
    # 0 dBFS 1 kHz in one channel is -3.01 LUFS; at half amplitude in both, -6.02.
    assert integrated_loudness(stereo(sine(1000, 5, sr)), sr) == pytest.approx(-6.02, abs=0.05)
    one = np.stack([sine(1000, 5, sr, amp=1.0), np.zeros(5 * sr, np.float32)], axis=1)
    assert integrated_loudness(one, sr) == pytest.approx(-3.01, abs=0.05)


def test_the_meter_agrees_with_pyloudnorm() -> None:
    pyln = pytest.importorskip("pyloudnorm")  # dev extra
    rng = np.random.default_rng(0)
    sr = 44100
    signals = {
        "noise": rng.standard_normal((10 * sr, 2)) * 0.1,
        "bass": np.stack([sine(60, 10, sr, 0.3), sine(60, 10, sr, 0.15)], axis=1),
        # loud then very quiet: the relative gate leaves the quiet half out
        "gated": np.concatenate(
            [rng.standard_normal((5 * sr, 2)) * 0.2, rng.standard_normal((5 * sr, 2)) * 0.002]
        ),
    }
    meter = pyln.Meter(sr)
    for name, x in signals.items():
        ours = integrated_loudness(x.astype(np.float32), sr)
        # pyloudnorm's filters drift from the standard's: its high-pass numerator is 0.04 dB
        # low, and its 38 Hz section differs more near 60 Hz (0.1 LU on the bass tone)
        assert ours == pytest.approx(meter.integrated_loudness(x), abs=0.15), name


def test_the_frequency_domain_filter_equals_the_recursive_one() -> None:
    signal = pytest.importorskip("scipy.signal")
    sr = 44100
    x = (np.random.default_rng(4).standard_normal((2, 3 * sr)) * 0.1).astype(np.float32)
    expected = x.astype(np.float64)
    for b, a in k_weighting(sr):
        expected = signal.lfilter(b, a, expected, axis=-1)
    error = k_weighted(x, sr) - expected
    # float32 FFTs: the error is 60 dB under the signal, 0.00001 LU on the loudness
    assert np.sqrt(np.mean(error**2)) < 1e-3 * np.sqrt(np.mean(expected**2))


@pytest.mark.parametrize("sr", [8000, 44100, 192000])
def test_the_overlap_add_filter_joins_its_blocks_seamlessly(sr: int) -> None:
    """Long enough for several blocks, a length that is no multiple of one: every block's
    ringing must carry into the next, or the seams would show as errors."""
    signal = pytest.importorskip("scipy.signal")
    n = 4 * (4 * _ir_taps(sr)) + 1234
    x = (np.random.default_rng(5).standard_normal((2, n)) * 0.1).astype(np.float32)
    x[:, n // 3 : n // 3 + 50] = 0.9  # a loud burst rings over a block boundary
    expected = x.astype(np.float64)
    for b, a in k_weighting(sr):
        expected = signal.lfilter(b, a, expected, axis=-1)
    got = k_weighted(x, sr)
    assert got.shape == x.shape and got.dtype == np.float32
    assert np.max(np.abs(got - expected)) < 1e-5


def test_the_filter_handles_very_short_input() -> None:
    x = np.zeros((2, 1), dtype=np.float32)
    x[0, 0] = 1.0
    out = k_weighted(x, 44100)
    assert out.shape == (2, 1)
    assert out[0, 0] == pytest.approx(k_weighting(44100)[0][0][0], rel=1e-5)  # b0 x b0'
    assert out[1, 0] == 0.0


def test_true_peak_finds_the_peak_between_samples() -> None:
    # A quarter-sample-rate sine at 45 degrees: every sample at -3 dB, true peak 0 dBTP.
    x = sine(12000, 1, 48000, amp=1.0, phase=np.pi / 4)
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-3.01, abs=0.01)
    assert dbtp(x) == pytest.approx(0.0, abs=0.15)


def test_true_peak_agrees_with_scipy_oversampling() -> None:
    signal = pytest.importorskip("scipy.signal")
    x = (np.random.default_rng(1).standard_normal((44100, 2)) * 0.2).astype(np.float32)
    reference = float(np.max(np.abs(signal.resample_poly(x, 4, 1, axis=0))))
    assert true_peak(x) == pytest.approx(reference, rel=0.02)


def test_the_fast_envelope_matches_the_full_one_where_it_matters() -> None:
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((44100, 2)) * 0.02).astype(np.float32)
    x[20000:20010] *= 30  # a few loud frames
    full, fast = peak_envelope(x), peak_envelope(x, floor=0.3)
    loud = full >= 0.3
    assert loud.any() and np.allclose(full[loud], fast[loud], atol=1e-6)


def test_normalising_reaches_the_target_under_the_ceiling() -> None:
    sr = 44100
    rng = np.random.default_rng(3)
    x = (
        stereo(sine(220, 10, sr, amp=0.05))
        + rng.standard_normal((10 * sr, 2)).astype(np.float32) * 0.005
    )
    out = normalise_loudness(x, sr, -16.0)
    assert integrated_loudness(out, sr) == pytest.approx(-16.0, abs=0.1)
    assert dbtp(out) <= -1.0 + 1e-3


def test_loud_transients_are_limited_not_the_whole_piece_turned_down() -> None:
    # Quiet tone with hard clicks every half second: gain alone would clip the clicks.
    sr = 44100
    x = stereo(sine(330, 10, sr, amp=0.05))
    x[:: sr // 2] = 0.9
    out = normalise_loudness(x, sr, -16.0)
    assert integrated_loudness(out, sr) == pytest.approx(-16.0, abs=0.3)
    assert true_peak(out) <= CEILING + 1e-4


def test_digital_silence_is_left_alone() -> None:
    x = np.zeros((44100, 2), np.float32)
    assert integrated_loudness(x, 44100) == float("-inf")
    assert np.array_equal(normalise_loudness(x, 44100), x)


def test_near_silence_is_not_blown_up() -> None:
    sr = 44100
    quiet = stereo(sine(440, 5, sr, amp=1e-3))  # about -60 LUFS
    before = integrated_loudness(quiet, sr)
    after = integrated_loudness(normalise_loudness(quiet, sr), sr)
    assert after == pytest.approx(before + MAX_GAIN_DB, abs=0.1)
    hiss = stereo(sine(440, 5, sr, amp=1e-5))  # under the -70 LUFS gate: untouched
    assert np.array_equal(normalise_loudness(hiss, sr), hiss)


# A flute solo, the same tune quietly (velocity 20) and on a bright brass section.
SOLO = "X:1\nM:4/4\nL:1/8\nQ:1/4=120\nK:G\nV:1\n%%MIDI program 73\nGABc dedB|cBAG FGAF|G8|\n"
QUIET = SOLO.replace("K:G\n", "K:G\n!pp!").replace("%%MIDI program 73", "%%MIDI program 0")
BRASS = SOLO.replace("program 73", "program 61")


def test_pieces_of_different_instrumentation_come_out_equally_loud(settings: Settings) -> None:
    levels = {}
    for name, abc in {
        "two voices": TWO_VOICE_ABC,
        "drums": DRUM_ABC,
        "flute solo": SOLO,
        "quiet piano": QUIET,
        "brass": BRASS,
    }.items():
        audio = render_midi(abc_to_score(abc), settings)
        levels[name] = integrated_loudness(audio.samples, audio.sample_rate)
        assert levels[name] == pytest.approx(-16.0, abs=0.5), name
        assert dbtp(audio.samples) <= -1.0 + 1e-3, name
    assert max(levels.values()) - min(levels.values()) <= 1.0, levels


def test_the_target_is_a_setting(settings: Settings) -> None:
    quieter = settings.model_copy(update={"loudness_target": -23.0})
    audio = render_midi(abc_to_score(TWO_VOICE_ABC), quieter)
    assert integrated_loudness(audio.samples, audio.sample_rate) == pytest.approx(-23.0, abs=0.5)
