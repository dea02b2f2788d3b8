from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest
import symusic

from engine.config import Settings
from engine.errors import RenderError, SoundFontMissing
from engine.render.audio import TAIL_SECONDS, AudioRenderer, render_midi
from engine.render.loudness import integrated_loudness, true_peak
from engine.render.midi import abc_to_score, score_to_midi_bytes
from engine.render.parts import Plan
from tests.engine.render.tunes import BAND_ABC, TWO_VOICE_SECONDS


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_two_voice_tune_renders_to_normalised_stereo(
    two_voice_abc: str, settings: Settings
) -> None:
    audio = render_midi(abc_to_score(two_voice_abc), settings)
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 2 and audio.samples.shape[1] == 2
    assert audio.sample_rate == settings.sample_rate
    assert audio.seconds == pytest.approx(TWO_VOICE_SECONDS + TAIL_SECONDS, abs=0.01)
    # Matched by loudness (-16 LUFS), not by peak; true peaks under -1 dBTP.
    assert integrated_loudness(audio.samples, audio.sample_rate) == pytest.approx(-16.0, abs=0.5)
    assert 20 * np.log10(true_peak(audio.samples)) <= -1.0 + 1e-3
    # Sound all the way through the tune, in both channels...
    sr = audio.sample_rate
    for second in range(int(TWO_VOICE_SECONDS)):
        assert rms(audio.samples[second * sr : (second + 1) * sr]) > 0.01, second
    assert rms(audio.samples[:, 0]) > 0.02 and rms(audio.samples[:, 1]) > 0.02
    # ...and the tail decays: its last part is much quieter than the music.
    assert rms(audio.samples[-sr // 4 :]) < 0.2 * rms(audio.samples[: int(TWO_VOICE_SECONDS) * sr])


def test_midi_bytes_render_like_the_score(two_voice_abc: str, settings: Settings) -> None:
    score = abc_to_score(two_voice_abc)
    from_score = render_midi(score, settings)
    from_bytes = render_midi(score_to_midi_bytes(score), settings)
    assert np.array_equal(from_score.samples, from_bytes.samples)


def test_renders_are_deterministic_and_independent(
    two_voice_abc: str, drum_abc: str, settings: Settings
) -> None:
    score = abc_to_score(two_voice_abc)
    first = render_midi(score, settings).samples
    render_midi(abc_to_score(drum_abc), settings)  # something else in between
    second = render_midi(score, settings).samples
    assert np.array_equal(first, second)


def test_concurrent_renders_in_threads_agree(two_voice_abc: str, settings: Settings) -> None:
    score = abc_to_score(two_voice_abc)
    expected = render_midi(score, settings).samples
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(render_midi(score, settings).samples)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 3
    assert all(np.array_equal(r, expected) for r in results)


def test_drums_on_channel_10_use_the_percussion_bank(drum_abc: str, settings: Settings) -> None:
    drums = abc_to_score(drum_abc)
    assert drums.tracks[0].is_drum
    audio = render_midi(drums, settings)
    assert rms(audio.samples) > 0.02
    # The same notes on a melodic channel (piano) sound different: the kit was really used.
    as_piano = drums.copy()
    as_piano.tracks[0].is_drum = False
    piano = render_midi(as_piano, settings)
    assert audio.samples.shape == piano.samples.shape
    assert rms(audio.samples - piano.samples) > 0.05


def test_missing_soundfont_names_the_fix(two_voice_abc: str, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, soundfont=tmp_path / "missing.sf2")
    assert settings.resolved_soundfont() is None
    with pytest.raises(SoundFontMissing) as info:
        render_midi(abc_to_score(two_voice_abc), settings)
    assert "fluid-soundfont-gm" in (info.value.detail or "")
    assert "PICTUNE_SOUNDFONT" in (info.value.detail or "")
    assert "sf2" not in info.value.user_message and "/" not in info.value.user_message


def test_a_file_that_is_not_a_soundfont_is_refused(two_voice_abc: str, tmp_path: Path) -> None:
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 10)
    settings = Settings(_env_file=None, soundfont=fake)
    with pytest.raises(SoundFontMissing) as info:
        render_midi(abc_to_score(two_voice_abc), settings)
    assert "not a SoundFont" in (info.value.detail or "")


def test_small_soundfont_works_too(two_voice_abc: str, tmp_path: Path) -> None:
    small = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
    assert small.exists(), "the Debian package timgm6mb-soundfont is part of the test setup"
    settings = Settings(_env_file=None, soundfont=small, sample_rate=22050)
    audio = render_midi(abc_to_score(two_voice_abc), settings)
    assert audio.sample_rate == 22050
    assert audio.seconds == pytest.approx(TWO_VOICE_SECONDS + TAIL_SECONDS, abs=0.01)
    assert rms(audio.samples) > 0.02


def test_command_line_fallback_renders_the_same_length(
    two_voice_abc: str, settings: Settings
) -> None:
    soundfont = settings.resolved_soundfont()
    assert soundfont is not None
    renderer = AudioRenderer(soundfont, settings.sample_rate, in_process=False)
    assert renderer.method == "fluidsynth-cli"
    audio = renderer.render(abc_to_score(two_voice_abc))
    assert audio.seconds == pytest.approx(TWO_VOICE_SECONDS + TAIL_SECONDS, abs=0.01)
    assert integrated_loudness(audio.samples, audio.sample_rate) == pytest.approx(-16.0, abs=0.5)
    assert true_peak(audio.samples) <= 10 ** (-1.0 / 20) + 1e-4
    assert rms(audio.samples[: int(TWO_VOICE_SECONDS) * audio.sample_rate]) > 0.02


def test_overlong_scores_are_cut_with_a_fade(two_voice_abc: str, settings: Settings) -> None:
    soundfont = settings.resolved_soundfont()
    assert soundfont is not None
    renderer = AudioRenderer(soundfont, settings.sample_rate)
    audio = renderer.render(abc_to_score(two_voice_abc), max_seconds=4.0)
    sr = audio.sample_rate
    assert audio.seconds == pytest.approx(4.0 + TAIL_SECONDS, abs=0.01)
    assert np.all(audio.samples[4 * sr :] == 0.0)
    assert rms(audio.samples[:sr]) > 0.02


def test_a_score_without_notes_is_refused(settings: Settings) -> None:
    import symusic

    with pytest.raises(RenderError):
        render_midi(symusic.Score(480), settings)
    with pytest.raises(RenderError):
        render_midi(b"not a midi file", settings)


def test_an_impossible_sample_rate_is_a_config_error(two_voice_abc: str) -> None:
    from pydantic import ValidationError

    from engine.errors import ConfigError

    with pytest.raises(ValidationError):  # refused when the settings are read
        Settings(_env_file=None, sample_rate=0)
    # and by the renderer, for settings built without validation
    unchecked = Settings(_env_file=None).model_copy(update={"sample_rate": 0})
    with pytest.raises(ConfigError):
        render_midi(abc_to_score(two_voice_abc), unchecked)


def band_levels(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy in octave bands from 63 Hz to 16 kHz, in dB: the piece's spectrum as heard."""
    spectrum = np.abs(np.fft.rfft(x.mean(axis=1).astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sample_rate)
    edges = 63 * 2.0 ** np.arange(0, 9)
    return np.array(
        [
            10 * np.log10(spectrum[(freqs >= lo) & (freqs < hi)].sum())
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
    )


@pytest.mark.parametrize("abc", ["two_voice", "band"])
def test_two_synths_splitting_the_piece_in_time_sound_like_one(
    abc: str, two_voice_abc: str, settings: Settings
) -> None:
    soundfont = settings.resolved_soundfont()
    assert soundfont is not None
    score = abc_to_score(two_voice_abc if abc == "two_voice" else BAND_ABC)
    sr = settings.sample_rate
    split = int(Plan.of(score.to("second")).split * sr)
    assert 0 < split < len(render_midi(score, settings).samples)
    # Without the effects, the two halves add up to what one synth plays, far under hearing
    # (the velocity-1 notes that cut ringing ones off in the first synth are ~95 dB down).
    one = AudioRenderer(soundfont, sr, parts=1, preload=True, effects=False)
    two = AudioRenderer(soundfont, sr, effects=False)
    assert two._synth is not None and two._synth.parts == 2
    a, b = one.render(score).samples, two.render(score).samples
    assert a.shape == b.shape
    assert rms(a - b) < 10 ** (-50 / 20) * rms(a)
    # With them, the reverb and chorus modulate at another phase in the second synth: the
    # same level and spectrum, and nothing to hear where the second synth comes in.
    for track in score.tracks:  # sends as an ambient piece's mix has them
        track.controls.append(symusic.ControlChange(0, 91, 100))
        track.controls.append(symusic.ControlChange(0, 93, 60))
    a = AudioRenderer(soundfont, sr, parts=1).render(score).samples
    b = AudioRenderer(soundfont, sr).render(score).samples
    assert 20 * np.log10(rms(b) / rms(a)) == pytest.approx(0.0, abs=0.2)
    assert np.abs(band_levels(a, sr) - band_levels(b, sr)).max() < 0.5
    step = np.abs(np.diff(b, axis=0)).max(axis=1)  # a click is a jump between samples
    around = step[split - sr // 100 : split + sr // 100].max()
    assert (
        around
        <= 1.2 * np.abs(np.diff(a, axis=0)).max(axis=1)[split - sr // 100 : split + sr // 100].max()
    )


def test_only_the_instruments_played_are_read(two_voice_abc: str, settings: Settings) -> None:
    soundfont = settings.resolved_soundfont()
    assert soundfont is not None
    renderer = AudioRenderer(soundfont, settings.sample_rate)
    assert renderer._synth is not None and renderer._synth.pinned == set()
    renderer.render(abc_to_score(two_voice_abc))
    assert renderer._synth.pinned == {(0, 73), (0, 0)}  # flute and piano, kept for later
    renderer.render(abc_to_score(BAND_ABC))
    assert renderer._synth.pinned == {(0, 73), (0, 0), (0, 25), (128, 0)}


def test_the_caller_hears_once_when_a_core_is_free(two_voice_abc: str, settings: Settings) -> None:
    """The pipeline starts the score picture then: when the first synth is done, while the
    other may still play (the levelling that follows uses one core)."""
    calls: list[str] = []
    audio = render_midi(
        abc_to_score(two_voice_abc),
        settings,
        on_core_free=lambda: calls.append(threading.current_thread().name),
    )
    assert len(calls) == 1 and audio.seconds > 0


def test_a_process_forked_after_a_render_still_renders(
    two_voice_abc: str, settings: Settings
) -> None:
    """Worker processes may be forked from one that has rendered: the synth threads are
    made again in the child instead of waited on."""
    import multiprocessing

    score = abc_to_score(two_voice_abc)
    expected = render_midi(score, settings).samples  # this process's pool is running
    fork = multiprocessing.get_context("fork")
    with fork.Pool(1) as pool:
        got = pool.apply_async(_render_in_child, (two_voice_abc, settings)).get(timeout=120)
    assert np.array_equal(got, expected)


def _render_in_child(abc: str, settings: Settings) -> np.ndarray:
    return render_midi(abc_to_score(abc), settings).samples


def _one_key_twice(program: int, times: tuple[float, ...]) -> symusic.Score:
    score = symusic.Score(ttype="second")
    track = symusic.Track(program=program, ttype="second")
    track.notes.extend(symusic.Note(t, 0.3, 60, 100, ttype="second") for t in times)
    score.tracks.append(track)
    return score


@pytest.mark.parametrize("program", [25, 46])  # steel-string guitar, harp
def test_a_plucked_key_played_again_stops_its_earlier_sound(
    program: int, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the pick or finger stops the string: FluidSynth alone lets both copies ring."""
    from engine.render import parts

    soundfont = settings.resolved_soundfont()
    assert soundfont is not None
    sr = settings.sample_rate
    renderer = AudioRenderer(soundfont, sr, parts=1, effects=False)
    assert renderer._synth is not None

    def earlier_sound(at: float) -> float:
        """What the first strike adds, a quarter second from ``at``, in dB against the second."""
        both = renderer._synth.render(_one_key_twice(program, (0.0, 1.0)), 4 * sr)
        second = renderer._synth.render(_one_key_twice(program, (1.0,)), 4 * sr)
        window = slice(int(at * sr), int((at + 0.25) * sr))
        return 20 * np.log10(max(rms((both - second)[window]), 1e-12) / rms(second[sr : 2 * sr]))

    assert earlier_sound(1.25) < -40 and earlier_sound(2.0) < -120  # faded within a second
    monkeypatch.setattr(parts, "ONE_VOICE_PER_KEY", frozenset())
    assert earlier_sound(1.25) > -25 and earlier_sound(2.0) > -40  # rings on under the new one


def test_every_style_s_chord_instruments_speak_within_its_shortest_chord(
    settings: Settings,
) -> None:
    """A chord instrument with a slow attack never reaches its level in a short stab: the
    warm pad got to -23 dB of it in electronic's sixteenth stabs, so the chords vanished."""
    from engine.compose import patterns
    from engine.compose.styles import STYLES

    soundfont = settings.resolved_soundfont()
    assert soundfont is not None
    sr = settings.sample_rate
    renderer = AudioRenderer(soundfont, sr, parts=1, effects=False)
    assert renderer._synth is not None

    def peak(program: int, seconds: float) -> float:
        score = symusic.Score(ttype="second")
        track = symusic.Track(program=program, ttype="second")
        track.notes.append(symusic.Note(0.0, 2.0, 60, 100, ttype="second"))
        score.tracks.append(track)
        out = renderer._synth.render(score, int(2.5 * sr))
        return float(np.abs(out[: max(1, int(seconds * sr))]).max())

    for style in STYLES.values():
        sixteenth = 60 / style.tempo[1] / 4  # at the style's fastest
        for figure in style.comping:
            meter = style.meters[0]
            steps = patterns.comp_steps(figure, patterns.meter_sixteenths(meter), meter == "6/8")
            runs = [len(r) for r in re.findall(r"[^.\-]-*", steps)]
            shortest = min(runs, default=16) * sixteenth
            for palette in style.palettes:
                for program in {palette.chords, palette.duo}:
                    level = 20 * np.log10(peak(program, shortest) / peak(program, 2.0))
                    assert level > -6, (style.name, figure, program, round(level, 1))
