"""MIDI -> audio with FluidSynth and a General MIDI SoundFont from the operating system.

The score is played into an in-process FluidSynth (pyfluidsynth) event by event, pulling
float samples between event times: an offline, deterministic render with no audio driver.
One ``AudioRenderer`` per (SoundFont, sample rate) is kept per process, and each render
borrows its loaded SoundFont. Only the instruments a piece plays are read into memory
(FluidR3_GM is 148 MB; a piece's three or four instruments are a few MB), and kept for the
next piece. Two synths, one on each core, play the piece's first and second halves, and
their outputs are summed: see ``_Synth``. Where the FluidSynth library cannot be used
in-process, the ``fluidsynth`` command line renders a temporary file.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import symusic

from engine.config import Settings
from engine.errors import ConfigError, RenderError, SoundFontMissing
from engine.render.loudness import TARGET_LUFS, normalise_loudness
from engine.render.midi import midi_bytes_to_score
from engine.render.parts import PARTS, Event, Plan, part_events

log = logging.getLogger(__name__)

TAIL_SECONDS = 1.5  # let releases and reverb ring out after the last note
PEAK_DBFS = -1.0  # the reference level a render is scaled to before loudness matching
PEAK = 10 ** (PEAK_DBFS / 20)  # ~0.891
EXTRA_SECONDS = 30.0  # a score may overrun the longest allowed piece by this much before it is cut
FADE_SECONDS = 2.0  # fade-out applied where a too-long score is cut
BLOCK = 8192  # frames pulled from the synth per call
# The first of two synths stops when, its notes all let go, its sound (the last notes'
# release, a cymbal ringing on, the reverb) has fallen this low: at the synths' gain of 0.2
# the music peaks near 0.3-1, so ~100 dB down.
QUIET = 1e-5
FLUID_BLOCK = 64  # FluidSynth's internal block (FLUID_BUFSIZE): events apply at its edges
GEN_EXCLUSIVECLASS = 57  # SoundFont 2.01 generator: a voice stops others of its class
# Two synths, each on its own thread, play the notes before and after a split time (see
# _Synth and engine/render/parts.py). FluidSynth's own synth.cpu-cores = 2 was rejected: the
# same score rendered differently, up to full scale, in about one render in three.
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


def is_soundfont(path: Path) -> bool:
    """A SoundFont 2/3 file starts with a RIFF header of form type sfbk."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"sfbk"


def render_midi(
    score_or_midi: symusic.Score | bytes,
    settings: Settings,
    *,
    on_core_free: Callable[[], None] | None = None,
) -> Audio:
    """Render a score (or MIDI file bytes) to stereo float32 at the configured loudness
    (-16 LUFS, true peak at most -1 dBTP), with a tail. ``on_core_free`` is called once, as
    soon as a core is free: when the first of the two synths is done (the other may play on
    for a while), at the latest when the synthesis is, before the levelling (on one core)."""
    soundfont = settings.resolved_soundfont()
    if soundfont is None:
        raise SoundFontMissing(detail=SOUNDFONT_FIX)
    if not is_soundfont(soundfont):
        # Without this, FluidSynth's command-line fallback would quietly use another font.
        raise SoundFontMissing(detail=f"{soundfont} is not a SoundFont; {SOUNDFONT_FIX}")
    if not 8000 <= settings.sample_rate <= 192000:
        raise ConfigError(
            detail=f"PICTUNE_SAMPLE_RATE={settings.sample_rate} is outside 8000..192000"
        )
    if isinstance(score_or_midi, (bytes, bytearray)):
        score = midi_bytes_to_score(bytes(score_or_midi))
    else:
        score = score_or_midi
    if score.note_num() == 0:
        raise RenderError(detail="the score has no notes to render")
    max_seconds = settings.max_duration + EXTRA_SECONDS
    renderer = get_renderer(str(soundfont), settings.sample_rate)
    return renderer.render(
        score, max_seconds, loudness=settings.loudness_target, on_core_free=on_core_free
    )


@lru_cache(maxsize=4)
def get_renderer(soundfont: str, sample_rate: int) -> AudioRenderer:
    """One renderer per (SoundFont, sample rate) per process: the SoundFont loads once."""
    return AudioRenderer(Path(soundfont), sample_rate)


class AudioRenderer:
    """A FluidSynth with one SoundFont loaded. Thread-safe: renders take turns."""

    def __init__(
        self,
        soundfont: Path,
        sample_rate: int = 44100,
        *,
        in_process: bool = True,
        parts: int = PARTS,
        preload: bool = False,
        effects: bool = True,
    ) -> None:
        """``parts``: synths sharing the piece (1: one synth plays everything); ``preload``:
        read the whole SoundFont now instead of each instrument when first played;
        ``effects``: FluidSynth's reverb and chorus. The defaults are what Pictune uses;
        the others are for comparison (bench, tests)."""
        if not soundfont.exists():
            raise SoundFontMissing(detail=SOUNDFONT_FIX)
        self.soundfont = soundfont
        self.sample_rate = sample_rate
        self._lock = threading.Lock()
        self._synth: _Synth | None = None
        if in_process:
            try:
                self._synth = _Synth(
                    soundfont, sample_rate, parts=parts, preload=preload, effects=effects
                )
            except (ImportError, OSError, RuntimeError) as exc:
                # No usable libfluidsynth in this process: the CLI may still work.
                log.warning("in-process FluidSynth unavailable (%s); using the CLI", exc)

    @property
    def method(self) -> str:
        """How this renderer synthesises: "pyfluidsynth" or "fluidsynth-cli"."""
        return "pyfluidsynth" if self._synth is not None else "fluidsynth-cli"

    def render(
        self,
        score: symusic.Score,
        max_seconds: float = float("inf"),
        *,
        loudness: float = TARGET_LUFS,
        on_core_free: Callable[[], None] | None = None,
    ) -> Audio:
        seconds = score.to("second")
        end = float(seconds.end())
        cut = end > max_seconds
        if cut:
            log.warning("score lasts %.1f s, cutting it at %.1f s", end, max_seconds)
            seconds = seconds.clip(0.0, max_seconds, clip_end=True)
            end = max_seconds
        n_frames = int(round((end + TAIL_SECONDS) * self.sample_rate))
        core_free = _Once(on_core_free)
        if self._synth is not None:
            with self._lock:  # the holder synth's SoundFont is shared by one render at a time
                samples = self._synth.render(seconds, n_frames, core_free)
        else:
            samples = _render_cli(score, self.soundfont, self.sample_rate, n_frames)
        core_free()
        if cut:
            _fade_out(samples, int(round(end * self.sample_rate)), self.sample_rate)
        return Audio(normalise_audio(samples, self.sample_rate, loudness), self.sample_rate)


class _Synth:
    """FluidSynth through pyfluidsynth, plus float output and a SoundFont shared by renders.

    The SoundFont is loaded once into a holder synth. Each render gets fresh synths that
    borrow it: FluidSynth's reset does not clear its reverb, and it keeps a partial block
    between calls, so reusing one synth would make a render depend on the one before.
    A fresh synth costs about a millisecond; reloading FluidR3_GM costs over 100 ms.

    Memory: the holder loads the SoundFont with dynamic sample loading, so only its headers
    are read (FluidR3_GM: ~15 MB instead of ~160 MB); the instruments a render uses are
    pinned on the holder (their samples read, a few MB each) and stay pinned for later
    renders. At worst, after every instrument has been used, that is the whole SoundFont.

    Time: two synths on two threads (ctypes releases the GIL inside libfluidsynth) play
    the notes that start before and after a split time that engine/render/parts.py picks
    from the score alone, and their outputs are summed: the same score gives the same
    audio. The first stops once its notes are let go and its sound has died away; the second
    starts at the split, at a multiple of FluidSynth's 64-frame block so that its events
    land where one synth's would. Effects are linear, so each synth's reverb and chorus on
    its own notes add up to the effect of all the notes; each runs only over its own stretch
    of time (sharing the notes over the whole piece, as until 2026-12, ran both synths'
    effects throughout: ~7% more CPU, best of nine over six pieces). Without effects the sum
    equals one synth playing everything to 57-78 dB; with them, the reverb's and the
    chorus's slow modulation is at another phase in the second synth, so the waveforms
    differ (5-16 dB under the music) while their levels and spectra agree
    (tests/engine/render/test_audio.py): which phase a modulation starts at is arbitrary,
    as when a synth is started a moment earlier.
    """

    def __init__(
        self,
        soundfont: Path,
        sample_rate: int,
        *,
        parts: int = PARTS,
        preload: bool = False,
        effects: bool = True,
    ) -> None:
        import fluidsynth  # imported here: it raises ImportError when libfluidsynth is missing

        self.fluidsynth = fluidsynth
        self.sample_rate = sample_rate
        self.parts = max(1, int(parts))
        self.effects = effects
        self.c = _fluid_functions()
        dynamic = not preload and self.c.pin_preset is not None  # FluidSynth >= 2.3
        options = {"synth.dynamic-sample-loading": 1} if dynamic else {}
        self.holder = fluidsynth.Synth(samplerate=sample_rate, channels=16, **options)
        sfid = self.holder.sfload(str(soundfont))
        if sfid < 0:
            raise RuntimeError(f"FluidSynth could not load the SoundFont {soundfont.name}")
        self.sfid = sfid
        self.sfont = self.c.get_sfont_by_id(self.holder.synth, sfid)
        self.pinned: set[tuple[int, int]] | None = set() if dynamic else None
        self._pool: tuple[int, ThreadPoolExecutor] | None = None

    def render(
        self, score: symusic.Score, n_frames: int, done: Callable[[], None] = lambda: None
    ) -> np.ndarray:
        """Play a score (in seconds) and return (n_frames, 2) float32; ``done`` is called
        (from either thread) as each synth finishes."""
        plan = Plan.of(score, self.parts)
        self._pin(plan)
        channels = plan.synth_channels
        # The second synth writes from the split on (see engine/render/parts.py), from a
        # multiple of FluidSynth's 64-frame block: events take effect at block boundaries,
        # and the two synths' boundaries must fall where one synth's would.
        starts = [0]
        if plan.parts > 1:
            split_frame = min(_frame(plan.split, self.sample_rate), n_frames)
            starts.append(split_frame // FLUID_BLOCK * FLUID_BLOCK)
        synths: list[Any] = []
        others: list[Future[None]] = []
        try:
            # Set up one part at a time: selecting a preset updates the shared SoundFont's
            # counts, which must not race. Only the synthesis itself runs in parallel.
            for _ in starts:
                # Low gain keeps dense chords linear; the sum is normalised afterwards anyway.
                synth = self.fluidsynth.Synth(
                    gain=0.2, samplerate=self.sample_rate, channels=channels
                )
                synths.append(synth)
                if not self.effects:
                    synth.setting("synth.reverb.active", 0)
                    synth.setting("synth.chorus.active", 0)
                sfid = self.c.add_sfont(synth.synth, self.sfont)
                if sfid < 0:
                    raise RenderError(detail="FluidSynth could not attach the SoundFont")
                for channel, bank, program in plan.programs:
                    synth.program_select(channel, sfid, bank, program)
                for channel in plan.one_voice_per_key:
                    # A channel plays one key here: one exclusive class, so that the key
                    # played again cuts its earlier sound (engine/render/parts.py).
                    self.c.set_gen(synth.synth, channel, GEN_EXCLUSIVECLASS, 1.0)
            outputs = [np.zeros((n_frames - start, 2), dtype=np.float32) for start in starts]
            work = [
                (synth, out, part_events(synth, score, plan, part), start, plan.parts > 1)
                for part, (synth, out, start) in enumerate(
                    zip(synths, outputs, starts, strict=True)
                )
            ]
            # The first part may stop early (stop_early): the second plays to the end.
            others = [self.pool().submit(self._play, *job[:4], False) for job in work[1:]]
            for future in others:
                future.add_done_callback(lambda _future: done())
            self._play(*work[0])
            done()
            for future in others:
                future.result()
            total = outputs[0]
            for start, out in zip(starts[1:], outputs[1:], strict=True):
                total[start:] += out
            return total
        finally:
            wait(others)  # no synth is deleted while another thread still plays it
            for synth in synths:
                for channel in range(channels):
                    synth.all_sounds_off(channel)
                # Detach before deleting, or the synth would free the shared SoundFont.
                self.c.remove_sfont(synth.synth, self.sfont)
                synth.delete()

    def pool(self) -> ThreadPoolExecutor:
        """The threads of the other parts, made in this process: a process forked after a
        render inherits the pool but not its threads, and would wait on it forever."""
        if self._pool is None or self._pool[0] != os.getpid():
            executor = ThreadPoolExecutor(max_workers=self.parts, thread_name_prefix="fluidsynth")
            self._pool = (os.getpid(), executor)
        return self._pool[1]

    def _pin(self, plan: Plan) -> None:
        """Read the samples of the instruments this score plays, once per process."""
        if self.pinned is None or self.c.pin_preset is None:
            return
        for _channel, bank, program in plan.programs:
            if (bank, program) not in self.pinned:
                # A preset the SoundFont lacks fails here and stays silent, as before.
                self.c.pin_preset(self.holder.synth, self.sfid, bank, program)
                self.pinned.add((bank, program))

    def _play(
        self, synth: Any, out: np.ndarray, events: list[Event], origin: int, stop_early: bool
    ) -> None:
        """Play events into ``out``, whose first frame is the piece's frame ``origin``.
        ``stop_early`` (the first of two parts): once its last note is let go, stop where
        it falls under QUIET, and leave the rest of ``out`` silent."""
        pos = 0
        n_frames = len(out)
        last_note_off = max((e[0] for e in events if e[2] == synth.noteoff), default=0.0)
        for time, _order, action, args in events:
            frame = min(max(_frame(time, self.sample_rate) - origin, 0), n_frames)
            if stop_early and time > last_note_off:
                pos, quiet = self._fill_until_quiet(synth, out, pos, frame)
                if quiet:
                    return
            else:
                pos = self._fill(synth, out, pos, frame)
            action(*args)
        if stop_early:
            pos, quiet = self._fill_until_quiet(synth, out, pos, n_frames)
            if quiet:
                return
        self._fill(synth, out, pos, n_frames)

    def _fill_until_quiet(
        self, synth: Any, out: np.ndarray, start: int, stop: int
    ) -> tuple[int, bool]:
        """Synthesise towards ``stop`` a block at a time until a block is all under QUIET
        (every key is up by then: the notes and the effects only fade); returns the new
        position and whether it fell quiet."""
        while start < stop:
            end = self._fill(synth, out, start, min(start + BLOCK, stop))
            if _peak(out[start:end]) < QUIET:
                return end, True
            start = end
        return start, False

    def _fill(self, synth: Any, out: np.ndarray, start: int, stop: int) -> int:
        """Synthesise frames [start, stop) into out; returns the new position."""
        while start < stop:
            n = min(BLOCK, stop - start)
            ptr = out[start : start + n].ctypes.data  # C-contiguous rows: interleaved L/R
            if self.c.write_float(synth.synth, n, ptr, 0, 2, ptr, 1, 2) != 0:
                raise RenderError(detail="FluidSynth failed to synthesise samples")
            start += n
        return max(start, stop)


@dataclass
class _FluidFunctions:
    """libfluidsynth calls that pyfluidsynth does not wrap."""

    get_sfont_by_id: Any
    add_sfont: Any
    remove_sfont: Any
    write_float: Any
    set_gen: Any
    pin_preset: Any | None  # FluidSynth >= 2.3; without it the whole SoundFont is loaded
    log_callback: Any  # kept referenced: libfluidsynth holds a pointer to it


@lru_cache(maxsize=1)
def _fluid_functions() -> _FluidFunctions:
    import fluidsynth

    lib = fluidsynth._fl
    vp, i = ctypes.c_void_p, ctypes.c_int

    def declare(name: str, restype: Any, *argtypes: Any) -> Any:
        if not hasattr(lib, name):
            raise RuntimeError(f"this libfluidsynth lacks {name}")
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, list(argtypes)
        return fn

    # FluidSynth warns on stderr for every channel left without a preset when a SoundFont
    # is detached; route its messages to logging instead.
    log_type = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)

    def to_logging(level: int, message: bytes | None, _data: Any) -> None:
        text = (message or b"").decode("utf-8", "replace")
        log.log(logging.WARNING if level <= 1 else logging.DEBUG, "fluidsynth: %s", text)

    callback = log_type(to_logging)
    set_log = declare("fluid_set_log_function", vp, i, log_type, vp)
    for level in (1, 2, 3):  # FLUID_ERR, FLUID_WARN, FLUID_INFO
        set_log(level, callback, None)
    return _FluidFunctions(
        get_sfont_by_id=declare("fluid_synth_get_sfont_by_id", vp, vp, i),
        add_sfont=declare("fluid_synth_add_sfont", i, vp, vp),
        remove_sfont=declare("fluid_synth_remove_sfont", i, vp, vp),
        write_float=declare("fluid_synth_write_float", i, vp, i, vp, i, i, vp, i, i),
        set_gen=declare("fluid_synth_set_gen", i, vp, i, i, ctypes.c_float),
        pin_preset=(
            declare("fluid_synth_pin_preset", i, vp, i, i, i)
            if hasattr(lib, "fluid_synth_pin_preset")
            else None
        ),
        log_callback=callback,
    )


def _render_cli(
    score: symusic.Score, soundfont: Path, sample_rate: int, n_frames: int
) -> np.ndarray:
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


class _Once:
    """A callback called at most once, from whichever thread gets there first."""

    def __init__(self, callback: Callable[[], None] | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            callback, self._callback = self._callback, None
        if callback is not None:
            callback()


def _frame(seconds: float, sample_rate: int) -> int:
    return int(round(seconds * sample_rate))


def _peak(samples: np.ndarray) -> float:
    """The largest |sample|, from max and min: np.abs would copy the whole piece."""
    return max(float(samples.max()), -float(samples.min())) if samples.size else 0.0


def _fade_out(samples: np.ndarray, end_frame: int, sample_rate: int) -> None:
    """Fade to silence over FADE_SECONDS before end_frame, and silence what follows."""
    n = min(int(FADE_SECONDS * sample_rate), end_frame)
    start = end_frame - n
    samples[start:end_frame] *= np.linspace(1.0, 0.0, n, dtype=np.float32)[:, None]
    samples[end_frame:] = 0.0


def normalise_audio(
    samples: np.ndarray, sample_rate: int, loudness: float, *, source: str = "FluidSynth"
) -> np.ndarray:
    """Peak to -1 dBFS, then to ``loudness`` LUFS with true peaks at most -1 dBTP
    (``samples``, float32 (n, 2) that the caller owns, is scaled in place). Every mode's
    audio goes through here: FluidSynth's and MusicGen's (``source`` names it in errors).

    Matching peaks alone left a solo flute far quieter than a band with drums; matching
    loudness makes every piece sound equally loud. Scaling the peak first makes the
    loudness step's +20 dB gain cap mean "never more than 20 dB of crest factor", whatever
    the synth's output level: a lone click in silence is not blown up.
    """
    peak = _peak(samples)  # NaN and inf show in it too
    if not np.isfinite(peak):
        raise RenderError(detail=f"{source} produced non-finite samples")
    if peak <= 1e-6:
        raise RenderError(detail=f"{source} produced silence")
    samples *= np.float32(PEAK / peak)  # in place: the render's own buffer
    out = normalise_loudness(samples, sample_rate, loudness, in_place=True)
    out = out.astype(np.float32, copy=False)
    return np.clip(out, -1.0, 1.0, out=out)
