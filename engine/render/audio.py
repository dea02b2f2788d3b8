"""MIDI -> audio with FluidSynth and a General MIDI SoundFont from the operating system.

The score is played into an in-process FluidSynth (pyfluidsynth) event by event, pulling
float samples between event times: an offline, deterministic render with no audio driver.
Loading a SoundFont is the slow part (FluidR3_GM is 148 MB), so one ``AudioRenderer`` per
(SoundFont, sample rate) is kept per process and reset between renders. Where the FluidSynth
library cannot be used in-process, the ``fluidsynth`` command line renders a temporary file.
"""

from __future__ import annotations

import ctypes
import logging
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import symusic

from engine.config import Settings
from engine.errors import RenderError, SoundFontMissing
from engine.render.midi import midi_bytes_to_score

log = logging.getLogger(__name__)

TAIL_SECONDS = 1.5  # let releases and reverb ring out after the last note
PEAK_DBFS = -1.0
PEAK = 10 ** (PEAK_DBFS / 20)  # ~0.891
EXTRA_SECONDS = 30.0  # a score may overrun the longest allowed piece by this much before it is cut
FADE_SECONDS = 2.0  # fade-out applied where a too-long score is cut
DRUM_CHANNEL = 9  # MIDI channel 10
DRUM_BANK = 128  # the percussion bank of a General MIDI SoundFont
BLOCK = 8192  # frames pulled from the synth per call
FLUID_BUFSIZE = 64  # FluidSynth synthesises (and applies events) in blocks of this many frames
CLI_TIMEOUT = 120.0

SOUNDFONT_FIX = (
    "no SoundFont found: install the Debian package fluid-soundfont-gm "
    "(or timgm6mb-soundfont), or set PICTUNE_SOUNDFONT"
)


@dataclass
class Audio:
    samples: np.ndarray  # (n, 2) float32, -1..1
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def render_midi(score_or_midi: symusic.Score | bytes, settings: Settings) -> Audio:
    """Render a score (or MIDI file bytes) to stereo float32, peak at -1 dBFS, with a tail."""
    soundfont = settings.resolved_soundfont()
    if soundfont is None:
        raise SoundFontMissing(detail=SOUNDFONT_FIX)
    if isinstance(score_or_midi, (bytes, bytearray)):
        score = midi_bytes_to_score(bytes(score_or_midi))
    else:
        score = score_or_midi
    if score.note_num() == 0:
        raise RenderError(detail="the score has no notes to render")
    max_seconds = settings.max_duration + EXTRA_SECONDS
    return get_renderer(str(soundfont), settings.sample_rate).render(score, max_seconds)


@lru_cache(maxsize=4)
def get_renderer(soundfont: str, sample_rate: int) -> AudioRenderer:
    """One renderer per (SoundFont, sample rate) per process: the SoundFont loads once."""
    return AudioRenderer(Path(soundfont), sample_rate)


class AudioRenderer:
    """A FluidSynth with one SoundFont loaded. Thread-safe: renders take turns."""

    def __init__(self, soundfont: Path, sample_rate: int = 44100) -> None:
        if not soundfont.exists():
            raise SoundFontMissing(detail=SOUNDFONT_FIX)
        self.soundfont = soundfont
        self.sample_rate = sample_rate
        self._lock = threading.Lock()
        self._synth: _Synth | None = None
        try:
            self._synth = _Synth(soundfont, sample_rate)
        except (ImportError, OSError, RuntimeError) as exc:
            # No usable libfluidsynth in this process: the CLI may still work.
            log.warning("in-process FluidSynth unavailable (%s); using the fluidsynth command", exc)

    def render(self, score: symusic.Score, max_seconds: float = float("inf")) -> Audio:
        seconds = score.to("second")
        end = float(seconds.end())
        cut = end > max_seconds
        if cut:
            log.warning("score lasts %.1f s, cutting it at %.1f s", end, max_seconds)
            seconds = seconds.clip(0.0, max_seconds, clip_end=True)
            end = max_seconds
        n_frames = int(round((end + TAIL_SECONDS) * self.sample_rate))
        if self._synth is not None:
            with self._lock:
                samples = self._synth.render(seconds, n_frames)
        else:
            samples = _render_cli(score, self.soundfont, self.sample_rate, n_frames)
        if cut:
            _fade_out(samples, int(round(end * self.sample_rate)), self.sample_rate)
        return Audio(_normalise(samples), self.sample_rate)


class _Synth:
    """pyfluidsynth's Synth, plus float output (its own get_samples gives clipped int16)."""

    def __init__(self, soundfont: Path, sample_rate: int) -> None:
        import fluidsynth  # imported here: it raises ImportError when libfluidsynth is missing

        self.sample_rate = sample_rate
        # Low gain keeps dense chords linear; the result is normalised afterwards anyway.
        self.synth = fluidsynth.Synth(gain=0.2, samplerate=sample_rate)
        self.sfid = self.synth.sfload(str(soundfont))
        if self.sfid < 0:
            raise RuntimeError(f"FluidSynth could not load the SoundFont {soundfont.name}")
        self._write_float = fluidsynth.cfunc(
            "fluid_synth_write_float",
            ctypes.c_int,
            ("synth", ctypes.c_void_p, 1),
            ("len", ctypes.c_int, 1),
            ("lout", ctypes.c_void_p, 1),
            ("loff", ctypes.c_int, 1),
            ("lincr", ctypes.c_int, 1),
            ("rout", ctypes.c_void_p, 1),
            ("roff", ctypes.c_int, 1),
            ("rincr", ctypes.c_int, 1),
        )
        if self._write_float is None:
            raise RuntimeError("this libfluidsynth has no fluid_synth_write_float")
        self.n_channels = 256  # pyfluidsynth's default synth.midi-channels
        self.frames_pulled = 0  # FluidSynth keeps a partial block between calls: track it

    def render(self, score: symusic.Score, n_frames: int) -> np.ndarray:
        """Play a score (in seconds) and return (n_frames, 2) float32."""
        self._reset()
        events = self._events(score)
        out = np.zeros((n_frames, 2), dtype=np.float32)
        pos = 0
        for time, _order, action, args in events:
            frame = min(int(round(time * self.sample_rate)), n_frames)
            pos = self._fill(out, pos, frame)
            action(*args)
        self._fill(out, pos, n_frames)
        self._reset()
        return out

    def _events(self, score: symusic.Score) -> list[tuple[float, int, Any, tuple]]:
        """(time, order, call, args), sorted. At equal times: setup, offs, controls, ons."""
        s = self.synth
        events: list[tuple[float, int, Any, tuple]] = []
        drum_channel_taken = False
        next_channel = 0
        for track in score.tracks:
            if not track.notes:
                continue
            if track.is_drum and not drum_channel_taken:
                channel, drum_channel_taken = DRUM_CHANNEL, True
            else:
                if next_channel == DRUM_CHANNEL:
                    next_channel += 1
                channel = next_channel
                next_channel += 1
                if channel >= self.n_channels:
                    log.warning("more than %d tracks; the rest are not rendered", self.n_channels)
                    break
            bank = DRUM_BANK if track.is_drum else 0
            events.append((0.0, 0, s.program_select, (channel, self.sfid, bank, track.program)))
            for c in track.controls:
                events.append((c.time, 2, s.cc, (channel, c.number, c.value)))
            for p in track.pedals:
                events.append((p.time, 2, s.cc, (channel, 64, 127)))
                events.append((p.time + p.duration, 1, s.cc, (channel, 64, 0)))
            for b in track.pitch_bends:
                # symusic stores bends centred on 0; FluidSynth wants 0..16383 centred on 8192
                events.append((b.time, 2, s.pitch_bend, (channel, b.value + 8192)))
            for n in track.notes:
                velocity = max(1, min(127, n.velocity))
                events.append((n.time, 3, s.noteon, (channel, n.pitch, velocity)))
                events.append((n.time + max(n.duration, 0.0), 1, s.noteoff, (channel, n.pitch)))
        # sort on (time, order) only: the callables themselves are not comparable
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    def _fill(self, out: np.ndarray, start: int, stop: int) -> int:
        """Synthesise frames [start, stop) into out; returns the new position."""
        while start < stop:
            n = min(BLOCK, stop - start)
            view = out[start : start + n]  # C-contiguous rows: interleaved L/R
            ptr = view.ctypes.data
            if self._write_float(self.synth.synth, n, ptr, 0, 2, ptr, 1, 2) != 0:
                raise RenderError(detail="FluidSynth failed to synthesise samples")
            self.frames_pulled += n
            start += n
        return max(start, stop)

    def _reset(self) -> None:
        """Silence everything and reset controllers, programs and effects: renders are independent."""
        for channel in range(16):
            self.synth.all_sounds_off(channel)
        self.synth.system_reset()
        # Flush what voices and effects still hold, and end on a block boundary so that the
        # next render's events land on the same frames as they would in a fresh synth.
        partial = -self.frames_pulled % FLUID_BUFSIZE
        scratch = np.zeros((BLOCK + partial, 2), dtype=np.float32)
        self._fill(scratch, 0, len(scratch))


def _render_cli(score: symusic.Score, soundfont: Path, sample_rate: int, n_frames: int) -> np.ndarray:
    """Fallback: the fluidsynth command renders a MIDI file to WAV."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise RenderError(detail="neither libfluidsynth nor the fluidsynth command is available")
    with tempfile.TemporaryDirectory(prefix="pictune-render-") as tmp:
        midi_path = Path(tmp) / "in.mid"
        wav_path = Path(tmp) / "out.wav"
        midi_path.write_bytes(score.dumps_midi())
        cmd = [binary, "-ni", "-q", "-g", "0.2", "-F", str(wav_path), "-r", str(sample_rate)]
        cmd += ["-T", "wav", "-O", "float", str(soundfont), str(midi_path)]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=CLI_TIMEOUT)
            data, _ = soundfile.read(str(wav_path), dtype="float32", always_2d=True)
        except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
            raise RenderError(detail=f"the fluidsynth command failed: {exc}") from exc
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    out = np.zeros((n_frames, 2), dtype=np.float32)
    n = min(n_frames, len(data))
    out[:n] = data[:n, :2]
    return out


def _fade_out(samples: np.ndarray, end_frame: int, sample_rate: int) -> None:
    """Fade to silence over FADE_SECONDS before end_frame, and silence what follows."""
    n = min(int(FADE_SECONDS * sample_rate), end_frame)
    start = end_frame - n
    samples[start:end_frame] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
    samples[end_frame:] = 0.0


def _normalise(samples: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(samples)):
        raise RenderError(detail="FluidSynth produced non-finite samples")
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak <= 1e-6:
        raise RenderError(detail="the rendered audio is silent")
    out = samples * np.float32(PEAK / peak)
    return np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)
