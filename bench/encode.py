"""MP3 encoding (libsndfile vs lameenc) and loudness normalisation on the same PCM.

    .venv/bin/python bench/encode.py [--repeat 7]

Renders bench/render.py's 30-second three-voice piece once, then times, alternating in the
same run so that machine noise hits both alike: libsndfile's MP3 writer (the old path),
lameenc at a few bit rates and LAME qualities (the chosen one marked), Ogg Vorbis, and
loudness normalisation (K-weighting filter, meter, true peak, limiter). Prints a table (p50/p95 ms, size,
bit rate) and writes bench/results/encode.json.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import lameenc
import numpy as np
import soundfile
from render import thirty_second_abc  # bench/render.py (this folder is on sys.path)

from engine.config import Settings
from engine.render import encode
from engine.render.audio import PEAK, Audio, render_midi
from engine.render.encode import encode_audio
from engine.render.loudness import (
    integrated_loudness,
    k_weighted,
    normalise_loudness,
    true_peak,
)
from engine.render.midi import abc_to_score

LAME_SETTINGS = [(128, 5), (128, 7), (160, 7), (192, 5), (192, 7), (192, 2)]


def soundfile_mp3(audio: Audio) -> bytes:
    """The old path: libsndfile's MP3 writer at its default VBR quality."""
    buf = io.BytesIO()
    with soundfile.SoundFile(buf, "w", audio.sample_rate, 2, format="MP3") as f:
        for start in range(0, len(audio.samples), encode.WRITE_CHUNK):
            f.write(audio.samples[start : start + encode.WRITE_CHUNK])
    return buf.getvalue()


def lame_mp3(audio: Audio, kbps: int, quality: int) -> bytes:
    pcm = np.round(np.clip(audio.samples, -1, 1) * 32767).astype("<i2")
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(kbps)
    encoder.set_in_sample_rate(audio.sample_rate)
    encoder.set_channels(2)
    encoder.set_quality(quality)
    encoder.silence()
    return bytes(encoder.encode(pcm.tobytes()) + encoder.flush())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results/encode.json"))
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    audio = render_midi(abc_to_score(thirty_second_abc()), settings)
    # Peak at -1 dBFS, as the loudness step receives a render (near enough: the limiter
    # touched a few peaks of this one)
    raw = audio.samples * np.float32(PEAK / np.max(np.abs(audio.samples)))

    cases: dict[str, Callable[[], object]] = {
        "mp3 libsndfile (old)": lambda: soundfile_mp3(audio),
        "mp3 encode_audio (new)": lambda: encode_audio(audio, "mp3"),
    }
    for kbps, quality in LAME_SETTINGS:
        cases[f"mp3 lameenc {kbps} kbps q{quality}"] = lambda k=kbps, q=quality: lame_mp3(
            audio, k, q
        )
    cases["ogg vorbis"] = lambda: encode_audio(audio, "ogg")
    channels = np.ascontiguousarray(raw.T)
    cases["loudness: K-weighting only"] = lambda: k_weighted(channels, audio.sample_rate)
    cases["loudness: measure only"] = lambda: integrated_loudness(raw, audio.sample_rate)
    cases["loudness: true peak only"] = lambda: true_peak(raw)
    cases["loudness: normalise (all)"] = lambda: normalise_loudness(raw, audio.sample_rate)

    times: dict[str, list[float]] = {name: [] for name in cases}
    results: dict[str, object] = {}
    for _ in range(args.repeat):  # interleaved: each round runs every case once
        for name, fn in cases.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)

    rows = []
    print(f"{audio.seconds:.1f} s of stereo {audio.sample_rate} Hz, {args.repeat} rounds")
    print(f"{'case':34s} {'p50 ms':>8s} {'p95 ms':>8s} {'KiB':>6s} {'kbps':>6s}")
    for name, ts in times.items():
        ms = sorted(t * 1000 for t in ts)
        p50 = statistics.median(ms)
        p95 = ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]
        data = results[name]
        size = len(data) if isinstance(data, bytes) else None
        kbps = size * 8 / audio.seconds / 1000 if size else None
        row = {"case": name, "p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
        if size:
            row |= {"bytes": size, "kbps": round(kbps, 1)}
            # MP3s must decode to the right length: lameenc's are ~25 ms longer (encoder delay)
            info = soundfile.info(io.BytesIO(data))
            row["decoded_seconds"] = round(info.frames / info.samplerate, 3)
        rows.append(row)
        extra = f"{size / 1024:6.0f} {kbps:6.0f}" if size else ""
        print(f"{name:34s} {p50:8.1f} {p95:8.1f} {extra}")
    normalised = normalise_loudness(raw, audio.sample_rate)
    loudness = {
        "raw_lufs": round(integrated_loudness(raw, audio.sample_rate), 2),
        "normalised_lufs": round(integrated_loudness(normalised, audio.sample_rate), 2),
        "normalised_dbtp": round(20 * float(np.log10(true_peak(normalised))), 2),
    }
    print(f"loudness {loudness}")
    print(f"chosen MP3: {encode.MP3_KBPS} kbps CBR, LAME quality {encode.LAME_QUALITY}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": platform.platform(),
                "seconds": audio.seconds,
                "repeat": args.repeat,
                "chosen": {"kbps": encode.MP3_KBPS, "quality": encode.LAME_QUALITY},
                "rows": rows,
                "loudness": loudness,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
