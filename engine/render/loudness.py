"""Loudness normalisation: every piece at the same integrated loudness, peaks under a ceiling.

Peak normalisation made a solo flute sound much quieter than a band with drums at the same
peak, so pieces are now matched by ITU-R BS.1770-4 integrated loudness (LUFS), the measure
streaming services and podcasts use, with a true-peak ceiling so that MP3/Vorbis decoding
does not clip.

The K-weighting biquads are applied in the frequency domain by overlap-add (their impulse
response dies out within 0.15 s) with scipy.fft (faster than NumPy's FFT at these sizes,
and ~1 MB to import, where scipy.signal's filters cost ~50 MB of memory), and true peak is
approximated by 4x oversampling with a windowed-sinc interpolator, as in BS.1770-4 Annex 2.
tests/engine/render/test_loudness.py checks the meter against pyloudnorm.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft

from engine.render.blas import single_threaded_blas

TARGET_LUFS = -16.0  # Settings.loudness_target; podcasts and most players' "normal" level
CEILING_DBTP = -1.0  # headroom for MP3/Vorbis decoders, whose output overshoots the input
MAX_GAIN_DB = 20.0  # never raise audio more than this: near-silence stays near-silent
MAX_MAKEUP_DB = 6.0  # the limiter may take at most this much back by raising the gain
MAKEUP_ROUNDS = 8
LIMIT_MARGIN_DB = 0.3  # the limiter aims this far under the ceiling; the final check trims
LIMIT_BLOCK_SECONDS = 0.001
LOOKAHEAD_SECONDS = 0.005
RELEASE_DB_PER_SECOND = 40.0  # 3 dB of limiting recovers in 75 ms
BLOCK_SECONDS = 0.4  # gating block, BS.1770-4
BLOCK_STEP = 0.25  # blocks overlap by 75%
ABSOLUTE_GATE = -70.0  # LUFS
RELATIVE_GATE = -10.0  # LU below the absolute-gated loudness
IR_SECONDS = 0.15  # the K-weighting impulse response is under 1e-9 of its peak by then
OVERSAMPLE = 4  # true peak: BS.1770-4 Annex 2 oversamples 4x at 48 kHz
HALF_TAPS = 6  # 12 taps per phase, as the standard's 48-tap interpolator
KAISER_BETA = 8.0
CHUNK = 65536  # frames interpolated at once (bounds the memory of the gathered windows)
CHUNK_BLOCKS = 8  # K-weighting FFT blocks filtered at once (~200,000 frames at 44.1 kHz)

# K-weighting for any sample rate: the two BS.1770 stages (a +4 dB high shelf above ~1.7 kHz,
# a ~38 Hz high-pass) as analogue prototypes through the bilinear transform. These parameters
# reproduce the standard's 48 kHz coefficients to 1e-8 (Mansbridge, De Man & Reiss 2012; the
# same as libebur128).
SHELF_GAIN_DB = 3.999843853973347
SHELF_Q = 0.7071752369554196
SHELF_HZ = 1681.974450955533
SHELF_VB_EXPONENT = 0.4996667741545416
HIGH_PASS_Q = 0.5003270373238773
HIGH_PASS_HZ = 38.13547087602444


def k_weighting(sample_rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two K-weighting biquads (b, a), a[0] = 1, for this sample rate."""
    k = np.tan(np.pi * SHELF_HZ / sample_rate)
    vh = 10 ** (SHELF_GAIN_DB / 20)
    vb = vh**SHELF_VB_EXPONENT
    a0 = 1 + k / SHELF_Q + k * k
    shelf_b = np.array(
        [vh + vb * k / SHELF_Q + k * k, 2 * (k * k - vh), vh - vb * k / SHELF_Q + k * k]
    )
    shelf_a = np.array([a0, 2 * (k * k - 1), 1 - k / SHELF_Q + k * k])
    k = np.tan(np.pi * HIGH_PASS_HZ / sample_rate)
    hp_a = np.array([1 + k / HIGH_PASS_Q + k * k, 2 * (k * k - 1), 1 - k / HIGH_PASS_Q + k * k])
    hp_b = np.array([1.0, -2.0, 1.0])  # not divided by a0: the standard's numerator
    return [(shelf_b / a0, shelf_a / a0), (hp_b, hp_a / hp_a[0])]


def _ir_taps(sample_rate: int) -> int:
    """A power of two of frames that holds the K-weighting's impulse response."""
    return 1 << max(8, (int(np.ceil(IR_SECONDS * sample_rate)) - 1).bit_length())


def _k_response(size: int, sample_rate: int) -> np.ndarray:
    """The K-weighting's frequency response at the bins of a ``size``-point rfft, complex64."""
    (b1, a1), (b2, a2) = k_weighting(sample_rate)
    b, a = np.polymul(b1, b2), np.polymul(a1, a2)
    w = np.arange(size // 2 + 1, dtype=np.float64) * (2 * np.pi / size)
    z = np.exp(-1j * w)  # z^-1 at each rfft bin
    num = np.full_like(z, b[-1])
    den = np.full_like(z, a[-1])
    for cb, ca in zip(b[-2::-1], a[-2::-1], strict=True):  # Horner, in powers of z^-1
        num = num * z + cb
        den = den * z + ca
    return (num / den).astype(np.complex64)


def k_weighted(channels: np.ndarray, sample_rate: int) -> np.ndarray:
    """(channels, n) float32 -> the same, K-weighted.

    Filtered in the frequency domain by overlap-add: no scipy, and FFTs are far faster than
    a per-sample recursion in Python. The impulse response dies out within ``taps`` frames
    (IR_SECONDS), so each block of ``size - taps`` frames, zero-padded to ``size``, is
    convolved without wrapping around; the blocks' tails are added to the next blocks.
    Short FFTs (4 x taps, 32768 points at 44.1 kHz) stay in cache and round less than one
    FFT over the whole piece: ~3x faster and closer to the recursive filter (~2e-7).
    """
    x = np.asarray(channels, dtype=np.float32)
    out = np.empty_like(x)
    for start, part in _k_weighted_parts(x.T, sample_rate):
        out[:, start : start + part.shape[1]] = part
    return out


def _k_weighted_parts(x: np.ndarray, sample_rate: int) -> Iterator[tuple[int, np.ndarray]]:
    """(n, channels) -> successive (first frame, (channels, m) K-weighted frames).

    CHUNK_BLOCKS blocks at a time, so the FFT buffers stay a few MB whatever the length
    (the whole piece at once took ~90 MB for 30 s of stereo); each chunk's last tail is
    carried into the next chunk's first block.
    """
    n, n_channels = x.shape
    taps = _ir_taps(sample_rate)
    size = 4 * taps
    step = size - taps
    response = _k_response(size, sample_rate)
    carry = np.zeros((n_channels, taps), dtype=np.float32)
    for start in range(0, n, step * CHUNK_BLOCKS):
        stop = min(n, start + step * CHUNK_BLOCKS)
        blocks = -(-(stop - start) // step)
        padded = np.zeros((n_channels, blocks * step), dtype=np.float32)
        padded[:, : stop - start] = x[start:stop].T
        spectrum = fft.rfft(padded.reshape(n_channels, blocks, step), n=size, axis=-1)
        spectrum *= response
        y = fft.irfft(spectrum, n=size, axis=-1).astype(np.float32, copy=False)
        out = np.zeros((n_channels, (blocks + 1) * step), dtype=np.float32)
        out[:, : blocks * step] = y[..., :step].reshape(n_channels, blocks * step)
        # Each block's tail (its last `taps` frames) rings into the start of the next block.
        heads = out[:, step:].reshape(n_channels, blocks, step)[..., :taps]
        heads += y[..., step:]
        out[:, :taps] += carry
        carry = out[:, blocks * step : blocks * step + taps].copy()
        yield start, out[:, : stop - start]


def integrated_loudness(samples: np.ndarray, sample_rate: int) -> float:
    """Gated integrated loudness in LUFS of (n, channels) or (n,) audio; -inf when silent.

    Left and right (and a mono signal) have channel weight 1, as BS.1770 gives them.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    block = int(round(BLOCK_SECONDS * sample_rate))
    hop = int(round(BLOCK_SECONDS * BLOCK_STEP * sample_rate))
    if len(x) < block or not np.any(x):
        return float("-inf")
    return _gated_loudness(_k_energy(x, sample_rate), block, hop)


def _k_energy(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per frame, the K-weighted energy summed over channels (channel weights 1), float32."""
    energy = np.empty(len(x), dtype=np.float32)
    for start, part in _k_weighted_parts(x, sample_rate):
        energy[start : start + part.shape[1]] = np.einsum("cn,cn->n", part, part)
    return energy


def _interpolators() -> np.ndarray:
    """(OVERSAMPLE - 1, TAPS) Kaiser-windowed sinc kernels, one per phase, float32.

    Row p, tap j interpolates the point p/OVERSAMPLE after frame i from frame i + j - 5.
    """
    taps = np.arange(-HALF_TAPS + 1, HALF_TAPS + 1)
    kernels = []
    for phase in range(1, OVERSAMPLE):
        t = taps - phase / OVERSAMPLE  # distance from the new point to each input frame
        window = np.i0(KAISER_BETA * np.sqrt(1 - (t / HALF_TAPS) ** 2)) / np.i0(KAISER_BETA)
        h = np.sinc(t) * window
        kernels.append(h / h.sum())  # unity gain at DC
    return np.array(kernels, dtype=np.float32)


KERNELS = _interpolators()
# An interpolated point exceeds the largest |sample| within reach of the kernel by at most
# this factor: frames whose neighbourhood stays under floor / OVERSHOOT need no interpolation.
OVERSHOOT = float(np.max(np.sum(np.abs(KERNELS), axis=1)))


def peak_envelope(samples: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Per frame, the largest |value| at that frame and the points oversampled after it.

    (n, channels) -> (n,) float32: BS.1770-4 Annex 2's true-peak meter that keeps where each
    peak lies, so the limiter knows which frames to turn down. Interpolated points are only
    computed near frames that could reach ``floor`` (all frames when it is 0): on music
    that is a small part, which makes the meter several times faster.
    """
    with single_threaded_blas():  # many small products: see engine/render/blas.py
        return _peak_envelope(samples, floor)


def _peak_envelope(samples: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """The meter of ``peak_envelope``, run with BLAS on one thread."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    n = len(x)
    env = _abs_max(x[:, c] for c in range(x.shape[1]))
    if n == 0:
        return env
    taps = 2 * HALF_TAPS
    # Frames within a kernel's reach of a loud enough sample, found in blocks of `taps`.
    blocks = -(-n // taps)
    block_max = np.maximum.reduceat(env, np.arange(0, n, taps))
    near = np.maximum(block_max, np.maximum(np.roll(block_max, 1), np.roll(block_max, -1)))
    hot = np.flatnonzero(near * OVERSHOOT >= floor)
    if hot.size == 0:
        return env
    dense = hot.size * 4 > blocks  # loud throughout: every frame, without gathering
    frames = (hot[:, None] * taps + np.arange(taps)).ravel()
    frames = frames[frames < n]
    offsets = np.arange(taps)
    for channel in range(x.shape[1]):
        padded = np.zeros(n + taps, dtype=np.float32)
        padded[HALF_TAPS - 1 : HALF_TAPS - 1 + n] = x[:, channel]  # padded[i + j] = x[i+j-5]
        if dense:
            # Row i of the windows is padded[i : i + taps]; copied a chunk at a time so that
            # the product is one BLAS call (np.convolve per phase took ~4x longer).
            for start in range(0, n, CHUNK):
                stop = min(n, start + CHUNK)
                windows = sliding_window_view(padded[start : stop + taps - 1], taps)
                points = np.ascontiguousarray(windows) @ KERNELS.T  # (m, phases)
                env[start:stop] = _abs_max([env[start:stop], *points.T])
            continue
        for start in range(0, len(frames), CHUNK):
            part = frames[start : start + CHUNK]
            points = padded[part[:, None] + offsets] @ KERNELS.T  # (m, phases): BLAS
            env[part] = _abs_max([env[part], *points.T])
    return env


def _abs_max(columns: Iterable[np.ndarray]) -> np.ndarray:
    """Elementwise max of |column|: numpy's max over a short axis (2 channels, 3 phases) is
    ~30x slower than np.maximum over the columns, and this runs on every frame."""
    out: np.ndarray | None = None
    for column in columns:
        out = np.abs(column) if out is None else np.maximum(out, np.abs(column), out=out)
    assert out is not None
    return out.astype(np.float32, copy=False)


def true_peak(samples: np.ndarray) -> float:
    """Approximate true peak (linear, 1.0 = 0 dBTP) by 4x oversampling."""
    if len(samples) == 0:
        return 0.0
    return float(np.max(peak_envelope(samples)))


def _gated_loudness(energy: np.ndarray, block: int, hop: int) -> float:
    """BS.1770 gating over per-frame K-weighted energy (summed over channels)."""
    if len(energy) < block:
        return float("-inf")
    starts = np.arange(0, len(energy) - block + 1, hop)
    # The energy summed (in float64) between consecutive block edges, then accumulated:
    # the running total at every edge, without a float64 copy of every frame.
    edges = np.union1d(starts, starts + block)
    edges = edges[edges < len(energy)]  # from each edge to the next, the last to the end
    between = np.add.reduceat(energy, edges, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(between)])  # at the edges, then the end
    where = np.append(edges, len(energy))
    ends = cumulative[np.searchsorted(where, starts + block)]
    power = (ends - cumulative[np.searchsorted(where, starts)]) / block
    with np.errstate(divide="ignore"):
        loudness = -0.691 + 10 * np.log10(power)
    gated = power[loudness > ABSOLUTE_GATE]
    if gated.size == 0:
        return float("-inf")
    threshold = -0.691 + 10 * np.log10(np.mean(gated)) + RELATIVE_GATE
    gated = power[(loudness > ABSOLUTE_GATE) & (loudness > threshold)]
    return float(-0.691 + 10 * np.log10(np.mean(gated)))


def normalise_loudness(
    samples: np.ndarray,
    sample_rate: int,
    target: float = TARGET_LUFS,
    ceiling_dbtp: float = CEILING_DBTP,
    *,
    in_place: bool = False,
) -> np.ndarray:
    """(n, channels) audio at ``target`` LUFS integrated, true peaks at most ``ceiling_dbtp``.

    Peaks the gain would push over the ceiling are held down by a look-ahead limiter, and
    the gain is raised again to make up for what the limiter took, so a piece with loud
    drum hits still reaches the target. Digital silence, audio too short to measure and
    audio under the -70 LUFS gate come back unchanged; the gain never exceeds MAX_GAIN_DB,
    so near-silence is not blown up into hiss. ``in_place``: scale ``samples`` (float32,
    2-D) itself rather than a copy, for a caller that owns it (a render's buffer).
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    block = int(round(BLOCK_SECONDS * sample_rate))
    hop = int(round(BLOCK_SECONDS * BLOCK_STEP * sample_rate))
    if len(x) < block or not np.any(x):
        return x
    energy = _k_energy(x, sample_rate)
    measured = _gated_loudness(energy, block, hop)
    if not np.isfinite(measured):
        return x
    first = min(target - measured, MAX_GAIN_DB)
    highest = min(first + MAX_MAKEUP_DB, MAX_GAIN_DB)
    ceiling = 10 ** ((ceiling_dbtp - LIMIT_MARGIN_DB) / 20)
    # Most renders need no limiter: if the plain gain keeps every true peak under the
    # ceiling, a constant gain scales the true peak exactly, so nothing more is measured
    # (only frames the gain could push over the ceiling are oversampled to find that out).
    linear = 10 ** (first / 20)
    if _abs_max(x[:, c] for c in range(x.shape[1])).max() * OVERSHOOT * linear <= ceiling:
        return _scaled(x, np.float32(linear), in_place and x is samples)
    if float(np.max(peak_envelope(x, floor=ceiling / linear))) * linear <= ceiling:
        return _scaled(x, np.float32(linear), in_place and x is samples)
    # Only frames that the highest gain could push over the ceiling need the oversampled peak.
    env = peak_envelope(x, floor=ceiling / 10 ** (highest / 20))
    gain_db, previous, slope = first, None, 1.0
    for _ in range(MAKEUP_ROUNDS):
        linear = 10 ** (gain_db / 20)
        gain = np.float32(linear) * _limiter_gain(env * linear, ceiling, sample_rate)
        # K-weighting is linear and the limiter's gain moves slowly, so the loudness after
        # limiting is that of the weighted energy times the gain squared: no second filter.
        reached = _gated_loudness(energy * np.square(gain), block, hop)
        if abs(target - reached) < 0.05 or gain_db >= highest:
            break
        if previous is not None and gain_db != previous[0]:
            # The harder the limiter works, the less each dB of gain adds: secant steps.
            slope = float(np.clip((reached - previous[1]) / (gain_db - previous[0]), 0.05, 1.0))
        previous = (gain_db, reached)
        gain_db = min(gain_db + (target - reached) / slope, highest)
    out = _scaled(x, gain[:, None], in_place and x is samples)
    # The gain curve changes the waveform a little between samples: check and trim.
    limit = 10 ** (ceiling_dbtp / 20)
    peak = float(np.max(peak_envelope(out, floor=limit)))
    if peak > limit:
        out *= np.float32(limit / peak)
    return out


def _scaled(x: np.ndarray, gain: np.ndarray | np.float32, in_place: bool) -> np.ndarray:
    if in_place:
        x *= gain
        return x
    return x * gain


def _limiter_gain(env: np.ndarray, ceiling: float, sample_rate: int) -> np.ndarray:
    """Per frame gain (<= 1) so that env * gain <= ceiling, changing smoothly.

    Worked out on blocks of LIMIT_BLOCK_SECONDS: the gain reaches each block's need
    LOOKAHEAD_SECONDS early (a minimum over the blocks ahead, smoothed by a moving average
    that cannot rise above that need) and recovers at RELEASE_DB_PER_SECOND afterwards,
    all vectorised: a running minimum of (need - release * t) is the release curve.
    """
    n = len(env)
    need = np.minimum(1.0, ceiling / np.maximum(env, 1e-12))
    if need.min() >= 1.0:
        return np.ones(n, dtype=np.float32)
    size = max(1, int(round(LIMIT_BLOCK_SECONDS * sample_rate)))
    blocks = -(-n // size)
    padded = np.ones(blocks * size)
    padded[:n] = need
    need_db = 20 * np.log10(padded.reshape(blocks, size).min(axis=1))
    ahead = max(2, int(round(LOOKAHEAD_SECONDS / LIMIT_BLOCK_SECONDS)))
    early = sliding_window_view(np.concatenate([need_db, np.zeros(ahead)]), ahead + 1).min(axis=1)
    step = RELEASE_DB_PER_SECOND * size / sample_rate
    t = np.arange(blocks) * step
    held = np.minimum.accumulate(early - t) + t
    # Moving average over blocks [c - (ahead - 2), c + 1]: every block in it lies within the
    # look-ahead of any peak in blocks c - 1..c + 1, so the average stays under their need.
    width = ahead
    edges = np.concatenate([np.full(ahead - 2, held[0]), held, [held[-1]]])
    sums = np.concatenate([[0.0], np.cumsum(edges)])
    smooth = (sums[width:] - sums[:-width]) / width
    # Linear from each block's centre to the next, the gain taken out of dB per block (not
    # per frame: 10 ** x over every frame was most of the limiter's time), in float32.
    block_gain = (10 ** (smooth[:blocks] / 20)).astype(np.float32)
    half = size // 2
    ends = np.concatenate([[block_gain[0]], block_gain, [block_gain[-1]]])
    start, step = ends[:-1], np.diff(ends)  # from centre c - 1 to centre c, for c = 0..blocks
    out = np.empty((blocks + 1) * size, dtype=np.float32).reshape(blocks + 1, size)
    np.multiply(step[:, None], (np.arange(size, dtype=np.float32) + 0.5) / size, out=out)
    out += start[:, None]
    return out.ravel()[size - half : size - half + n]
