"""Audio <-> file bytes: MP3 through LAME (lameenc), Ogg Vorbis and WAV through libsndfile.

MP3 goes straight to LAME through lameenc: libsndfile's MP3 writer took ~0.9 s for 30 s of
stereo 44.1 kHz, lameenc at the settings below ~0.13 s (bench/encode.py), and two halves
encoded at once on two cores and joined (engine/render/mp3.py) less again. Where lameenc
cannot be imported, libsndfile's MP3 writer is used instead, and the reason logged.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile

from engine.errors import InvalidOption, RenderError
from engine.render import mp3
from engine.render.audio import Audio

log = logging.getLogger(__name__)

try:
    import lameenc
except ImportError as exc:  # a platform without a wheel: libsndfile's LAME still works
    lameenc = None
    log.warning("lameenc unavailable (%s); MP3 goes through libsndfile, ~6x slower", exc)

# 30 s of stereo 44.1 kHz (bench/encode.py, 2-core machine), LAME algorithm quality q:
#   CBR 128 kbps: q2 560 ms, q5 327 ms, q7 166 ms     CBR 192 kbps: q2 443, q5 261, q7 133 ms
#   libsndfile (VBR, ~154 kbps): 924 ms
# q7 keeps the psychoacoustic model but skips noise shaping; at 192 kbps there are bits
# enough that the shaping matters little, and it is twice as fast as q5. Constant bit
# rate, because lameenc writes no Xing header: libsndfile (mpg123) then misreads the
# length of a VBR file (a 31.5 s VBR file read as 16-20 s). 192 kbps is 1.4 MB a minute,
# 2.9 MB for the longest piece (120 s): far under Discord's 10 MiB.
MP3_KBPS = 192
LAME_QUALITY = 7

# format name -> (libsndfile major format, subtype)
FORMATS: dict[str, tuple[str, str]] = {
    "mp3": ("MP3", "MPEG_LAYER_III"),
    "ogg": ("OGG", "VORBIS"),
    "wav": ("WAV", "PCM_16"),
}
WRITE_CHUNK = 16384  # frames per write call, see encode_audio
LAME_CHUNK = 65536  # frames handed to LAME at once
PARALLEL_SECONDS = 8.0  # shorter pieces are encoded in one stream
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
    samples = np.asarray(audio.samples, dtype=np.float32)
    if key == "mp3" and lameenc is not None:
        return _lame_mp3(samples, audio.sample_rate)
    samples = np.clip(samples, -1.0, 1.0)
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


def _lame_mp3(samples: np.ndarray, sample_rate: int) -> bytes:
    """CBR MP3 of (n, channels) float audio in -1..1, through lameenc: a piece long enough
    is encoded as two halves on two threads (lameenc releases the GIL) and joined
    (engine/render/mp3.py), else, or where no join is found, as one stream.

    The file starts with LAME's usual ~1100-frame encoder delay (25 ms at 44.1 kHz) that
    decoders without a LAME tag keep: the decoded audio is that much longer.
    """
    if len(samples) >= PARALLEL_SECONDS * sample_rate and sample_rate in mp3.SAMPLE_RATES:
        split = mp3.split_for(len(samples))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lame") as pool:
            second = pool.submit(
                _lame_stream, samples[split.second_start * mp3.SAMPLES_PER_FRAME :], sample_rate
            )
            first = _lame_stream(samples[: split.first_end * mp3.SAMPLES_PER_FRAME], sample_rate)
            try:
                # Frames line up only where LAME kept the input's rate (it did not resample).
                same_rate = mp3.sample_rate_of(first) == sample_rate
                joined = mp3.join(first, second.result(), split) if same_rate else None
            except (ValueError, IndexError) as exc:  # not as LAME writes it here: not joined
                log.warning("could not read the MP3 halves (%s): one stream instead", exc)
                joined = None
        if joined is not None:
            return joined
        log.info("no frame to join the two MP3 halves at: encoding the piece in one stream")
    return _lame_stream(samples, sample_rate)


def _lame_stream(samples: np.ndarray, sample_rate: int) -> bytes:
    """One LAME encoding of (n, channels) float audio."""
    channels = samples.shape[1] if samples.ndim == 2 else 1
    try:
        encoder = lameenc.Encoder()
        encoder.set_bit_rate(MP3_KBPS)
        encoder.set_in_sample_rate(sample_rate)
        encoder.set_channels(channels)
        encoder.set_quality(LAME_QUALITY)
        encoder.silence()  # LAME's banner and warnings would go to stdout
        out = bytearray()
        # A chunk at a time: LAME buffers its input, so the file is the same as from one
        # call, without int16 and float copies of the whole piece (~40 MB for 30 s).
        for start in range(0, len(samples), LAME_CHUNK):
            part = np.clip(samples[start : start + LAME_CHUNK], -1.0, 1.0)
            part *= 32767.0
            pcm = np.round(part, out=part).astype("<i2")  # interleaved little-endian int16
            out += encoder.encode(pcm.tobytes())
        out += encoder.flush()
        return bytes(out)
    except (RuntimeError, ValueError) as exc:
        raise RenderError(detail=f"could not encode mp3 with LAME: {exc}") from exc


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
