"""Audio <-> file bytes (MP3, Ogg Vorbis, WAV) through soundfile (libsndfile).

MP3 at libsndfile's default VBR quality keeps 60 s of stereo around 250 kB, far under
Discord's 10 MiB attachment limit.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile

from engine.errors import InvalidOption, RenderError
from engine.render.audio import Audio

# format name -> (libsndfile major format, subtype)
FORMATS: dict[str, tuple[str, str]] = {
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "ogg": ("OGG", "VORBIS"),
    "wav": ("WAV", "PCM_16"),
}
WRITE_CHUNK = 16384  # frames per write call, see encode_audio
MAX_DECODE_BYTES = 50 * 1024 * 1024
MAX_DECODE_SECONDS = 600.0


def encode_audio(audio: Audio, fmt: str = "mp3") -> bytes:
    """Encode stereo float audio as an MP3, Ogg Vorbis or 16-bit WAV file."""
    key = fmt.lower().lstrip(".")
    if key not in FORMATS:
        raise InvalidOption(
            f"Unknown audio format {fmt!r}: choose one of {', '.join(FORMATS)}.",
            detail=f"encode_audio got fmt={fmt!r}",
        )
    major, subtype = FORMATS[key]
    samples = np.clip(np.asarray(audio.samples, dtype=np.float32), -1.0, 1.0)
    buf = io.BytesIO()
    try:
        # Written in chunks: libvorbis allocas its whole input on the stack, so one large
        # write segfaults the process (libsndfile#1095, python-soundfile#426).
        channels = samples.shape[1] if samples.ndim == 2 else 1
        with soundfile.SoundFile(
            buf, "w", audio.sample_rate, channels, format=major, subtype=subtype
        ) as f:
            for start in range(0, len(samples), WRITE_CHUNK):
                f.write(samples[start : start + WRITE_CHUNK])
    except (RuntimeError, ValueError, TypeError, soundfile.LibsndfileError) as exc:
        raise RenderError(detail=f"could not encode {key}: {exc}") from exc
    return buf.getvalue()


def decode_audio(data: bytes) -> Audio:
    """Decode any file libsndfile reads (WAV, FLAC, Ogg, MP3) to stereo float32."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise RenderError(detail="audio data is empty or not bytes")
    if len(data) > MAX_DECODE_BYTES:
        raise RenderError(detail=f"audio data is {len(data)} bytes, over {MAX_DECODE_BYTES}")
    try:
        with soundfile.SoundFile(io.BytesIO(bytes(data))) as f:
            if f.frames > MAX_DECODE_SECONDS * f.samplerate:
                raise RenderError(detail=f"audio lasts {f.frames / f.samplerate:.0f} s, too long")
            samples = f.read(dtype="float32", always_2d=True)
            sample_rate = f.samplerate
    except (RuntimeError, ValueError, TypeError, soundfile.LibsndfileError) as exc:
        raise RenderError(detail=f"could not decode audio: {exc}") from exc
    if samples.shape[1] == 1:
        samples = np.repeat(samples, 2, axis=1)
    elif samples.shape[1] > 2:
        samples = samples[:, :2]
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(sample_rate))
