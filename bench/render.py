"""Time the render stage on a 30-second, three-voice piece (melody, bass, drums).

    .venv/bin/python bench/render.py [--repeat 3]

Prints the best of N for: ABC -> score, score -> audio (FluidSynth), MP3/Ogg encoding,
and the score picture (abcm2ps + librsvg, and the piano-roll fallback).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from engine.config import Settings
from engine.render.audio import get_renderer, render_midi
from engine.render.encode import encode_audio
from engine.render.midi import abc_to_score, score_seconds
from engine.render.score import render_piano_roll_png, render_score_png

BARS = 15  # 4/4 at 120 bpm: 2 s a bar, 30 s in all
MELODY = ["GABc dedB", "cBAG FGAF", "GABc dcBA", "GFED G4", "edcB cdef"]
BASS = ["G,4 D,4", "C,4 D,4", "E,4 C,4", "D,4 G,,4", "C,4 G,4"]
DRUMS = "C,,^F,,D,,^F,, C,,^F,,D,,^F,,"


def thirty_second_abc() -> str:
    melody = "|".join(MELODY[i % len(MELODY)] for i in range(BARS))
    bass = "|".join(BASS[i % len(BASS)] for i in range(BARS))
    drums = "|".join([DRUMS] * BARS)
    return (
        "X:1\nT:Bench\nM:4/4\nL:1/8\nQ:1/4=120\nK:G\n"
        f"V:1\n%%MIDI program 73\n{melody}|\n"
        f"V:2 clef=bass\n%%MIDI program 32\n{bass}|\n"
        f"V:3\n%%MIDI channel 10\n{drums}|\n"
    )


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = Settings(_env_file=None)
    abc = thirty_second_abc()

    t, score = best(lambda: abc_to_score(abc), args.repeat)
    print(f"abc -> score        {t * 1000:8.1f} ms  ({score_seconds(score):.1f} s of music)")
    soundfont = settings.resolved_soundfont()
    start = time.perf_counter()
    get_renderer(str(soundfont), settings.sample_rate)
    print(f"load SoundFont      {(time.perf_counter() - start) * 1000:8.1f} ms  ({soundfont})")
    t, audio = best(lambda: render_midi(score, settings), args.repeat)
    print(f"render audio        {t * 1000:8.1f} ms  ({audio.seconds:.1f} s incl. tail)")
    for fmt in ("mp3", "ogg"):
        t, data = best(lambda fmt=fmt: encode_audio(audio, fmt), args.repeat)
        print(f"encode {fmt}          {t * 1000:8.1f} ms  ({len(data) / 1024:.0f} KiB)")
    t, image = best(lambda: render_score_png(abc), args.repeat)
    print(f"score png ({image.method}) {t * 1000:6.1f} ms  ({len(image.png) / 1024:.0f} KiB)")
    t, png = best(lambda: render_piano_roll_png(score), args.repeat)
    print(f"piano roll png      {t * 1000:8.1f} ms  ({len(png) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
