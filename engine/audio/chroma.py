"""The melody condition of MusicGen-melody, computed with numpy.

transformers' ``MusicgenMelodyFeatureExtractor`` needs torchaudio; this computes the same
feature (a power spectrogram, librosa's chroma filter bank, and per frame a one-hot vector
of the strongest pitch class) from the feature extractor's own settings, so hybrid mode
needs no torchaudio. The scale of the spectrogram does not matter: only the argmax is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
from scipy.signal import resample_poly
from transformers.audio_utils import chroma_filter_bank

from engine.render.audio import Audio


@dataclass(frozen=True)
class ChromaSettings:
    sampling_rate: int = 32000
    n_fft: int = 16384
    hop_length: int = 4096
    chunk_length: int = 30  # seconds: longer melodies are cut, shorter padded with silence
    num_chroma: int = 12

    @classmethod
    def from_dict(cls, d: dict) -> ChromaSettings:
        keys = ("sampling_rate", "n_fft", "hop_length", "chunk_length", "num_chroma")
        return cls(**{k: int(d[k]) for k in keys if k in d})


def mono_at(audio: Audio, rate: int) -> np.ndarray:
    """Mono float32 at ``rate`` (polyphase resampling)."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    if audio.sample_rate != rate:
        g = gcd(int(audio.sample_rate), int(rate))
        mono = resample_poly(mono, rate // g, audio.sample_rate // g).astype(np.float32)
    return mono


def melody_chroma(audio: Audio, cfg: ChromaSettings) -> np.ndarray:
    """(frames, num_chroma) one-hot chroma, as MusicgenMelodyFeatureExtractor computes it."""
    wav = mono_at(audio, cfg.sampling_rate)
    n_samples = cfg.chunk_length * cfg.sampling_rate
    wav = np.pad(wav[:n_samples], (0, max(0, n_samples - len(wav))))
    if len(wav) < cfg.n_fft:
        pad = cfg.n_fft - len(wav)
        wav = np.pad(wav, (pad // 2, pad - pad // 2))
    wav = np.pad(wav, (cfg.n_fft // 2, cfg.n_fft // 2), mode="reflect")  # center=True
    window = np.hanning(cfg.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann, as torch
    n_frames = 1 + (len(wav) - cfg.n_fft) // cfg.hop_length
    frames = np.lib.stride_tricks.sliding_window_view(wav, cfg.n_fft)[:: cfg.hop_length][:n_frames]
    spec = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2  # (frames, bins)
    filters = chroma_filter_bank(
        num_frequency_bins=cfg.n_fft, num_chroma=cfg.num_chroma,
        sampling_rate=cfg.sampling_rate, tuning=0,
    )  # fmt: skip
    raw = spec @ filters.T  # (frames, chroma)
    out = np.zeros_like(raw, dtype=np.float32)
    out[np.arange(len(raw)), raw.argmax(axis=1)] = 1.0
    return out
