"""The embedded pipeline end to end: real photos in, complete pieces out."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from music21 import converter
from PIL import Image

from engine.config import Settings
from engine.errors import ImageError, InvalidOption
from engine.pipeline import Pipeline
from engine.render.midi import abc_to_score, midi_bytes_to_score, track_note_counts
from engine.types import ComposeRequest, ProgressEvent

pytestmark = pytest.mark.slow


def _photo(name: str) -> bytes:
    """A real photograph from scikit-image's public-domain samples, as JPEG bytes."""
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(getattr(data, name)()).convert("RGB").save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline(Settings(_env_file=None))


@pytest.fixture(scope="module")
def pieces(pipeline: Pipeline) -> dict:
    out = {}
    for name in ("astronaut", "coffee", "chelsea"):
        events: list[ProgressEvent] = []
        request = ComposeRequest(image=_photo(name), duration=20.0, seed=7)
        out[name] = (pipeline.run(request, events.append), events)
    return out


def test_each_photo_gives_a_complete_piece(pieces: dict) -> None:
    for name, (piece, _) in pieces.items():
        score = abc_to_score(piece.abc)
        assert len(score.tracks) >= 2, name
        parsed = converter.parse(piece.abc, format="abc")
        assert len(parsed.parts) >= 2, name
        counts = track_note_counts(midi_bytes_to_score(piece.midi))
        assert sum(1 for c in counts if c > 0) >= 2, (name, counts)
        samples, rate = sf.read(io.BytesIO(piece.audio))
        assert np.sqrt(np.mean(samples**2)) > 0.01, name
        assert abs(samples.max()) <= 1.0
        assert 16.0 <= len(samples) / rate <= 24.0 + 2.0, (name, len(samples) / rate)
        assert piece.score_png.startswith(b"\x89PNG")
        assert piece.motivation.startswith("# Why this music")
        assert piece.exemplars, name
        assert all(e.title in piece.motivation for e in piece.exemplars)


def test_different_images_give_different_music(pieces: dict) -> None:
    abcs = {piece.abc for piece, _ in pieces.values()}
    assert len(abcs) == len(pieces)


def test_same_image_and_seed_give_identical_abc(pipeline: Pipeline, pieces: dict) -> None:
    again = pipeline.run(ComposeRequest(image=_photo("coffee"), duration=20.0, seed=7))
    assert again.abc == pieces["coffee"][0].abc


def test_progress_names_each_stage(pieces: dict) -> None:
    _, events = pieces["astronaut"]
    stages = [e.stage for e in events]
    for stage in ("perceive", "bridge", "retrieve", "compose", "audio", "done"):
        assert stage in stages
    assert any(e.message.startswith("refining (round") for e in events)


def test_timings_and_backends_are_recorded(pieces: dict) -> None:
    piece, _ = pieces["chelsea"]
    assert {"perceive", "bridge", "retrieve", "compose", "audio"} <= set(piece.timings)
    assert piece.backends["compose"] == "markov"
    assert len(piece.rounds) >= 1 and 0 <= piece.best_round < len(piece.rounds)


def test_hint_changes_the_brief(pipeline: Pipeline) -> None:
    image = _photo("coffee")
    plain = pipeline.run(ComposeRequest(image=image, duration=10.0, refine_rounds=0))
    hinted = pipeline.run(
        ComposeRequest(image=image, duration=10.0, refine_rounds=0, hint="sad piano, slower")
    )
    assert hinted.brief.tempo < plain.brief.tempo
    assert hinted.brief.mode in ("minor", "dorian", "phrygian", "aeolian")
    assert hinted.abc != plain.abc


def test_broken_image_is_a_typed_error(pipeline: Pipeline) -> None:
    with pytest.raises(ImageError):
        pipeline.run(ComposeRequest(image=b"%PDF-1.4 not an image"))


def test_audio_mode_without_musicgen_is_a_clear_error(pipeline: Pipeline) -> None:
    with pytest.raises(InvalidOption, match="symbolic"):
        pipeline.run(ComposeRequest(image=_photo("coffee"), mode="audio"))


@pytest.mark.parametrize("seconds", [8.0, 12.0, 45.0])
def test_audio_lasts_the_requested_duration(pipeline: Pipeline, seconds: float) -> None:
    piece = pipeline.run(
        ComposeRequest(image=_photo("coffee"), duration=seconds, refine_rounds=0, seed=3)
    )
    samples, rate = sf.read(io.BytesIO(piece.audio))
    assert abs(len(samples) / rate - seconds) <= 0.2 * seconds
