"""Fixtures for the history layer: fake compositions (no pipeline), a fake embedder, a Store."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator

import numpy as np
import pytest

from engine.config import Settings
from engine.types import (
    Composition,
    Exemplar,
    ImageInfo,
    MusicBrief,
    NamedColour,
    Perception,
    Reason,
    RefineRound,
)
from storage.store import Store

# A 1x1 PNG, so that the stored source image is a real one.
TINY_PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


class FakeEmbedder:
    """Bag-of-words hashed into 384 dimensions, L2-normalised: texts sharing words are close.
    Fast and deterministic, with the real embedder's interface."""

    name = "fake"
    dim = 384

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                word = "".join(c for c in word if c.isalnum())
                if word:
                    out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


def make_composition(
    *,
    caption: str = "a dark blue sea under a pale moon",
    description: str = "A slow minor folk tune for piano and strings.",
    motivation: str = "The **deep blue** became a minor key; the calm water a slow tempo.",
    hint: str | None = None,
    seed: int = 7,
    audio_size: int = 2048,
    image_bytes: bytes = TINY_PNG,
    salt: str = "",
    image_sha256: str | None = None,
) -> Composition:
    """A Composition with small (or, with ``audio_size``, big) deterministic payloads."""
    digest = hashlib.sha256((caption + salt + str(seed)).encode()).digest()
    audio = (digest * (audio_size // len(digest) + 1))[:audio_size]
    brief = MusicBrief(
        key="D",
        mode="minor",
        tempo=72,
        meter="3/4",
        melody_program=0,
        harmony_program=48,
        bass_program=32,
        drums=False,
        register=67,
        density=0.3,
        dynamics="p",
        velocity=60,
        accompaniment="arpeggio",
        genre="folk",
        moods=["calm", "melancholic"],
        instruments=["piano", "strings", "bass"],
        description=description,
        prompt="slow melancholic folk, piano and strings",
        reasons=[Reason("brightness 0.22 (dark)", "minor mode, slow tempo")],
        duration=30.0,
        hint=hint,
    )
    perception = Perception(
        brightness=0.22,
        contrast=0.4,
        saturation=0.5,
        colourfulness=0.3,
        warmth=-0.6,
        hue_spread=0.2,
        edge_density=0.1,
        texture=0.2,
        symmetry=0.7,
        light_centre=(0.5, 0.3),
        detail_centre=(0.5, 0.6),
        dominant_colours=[NamedColour("deep blue", (10, 20, 90), 0.6)],
        caption=caption,
    )
    exemplar = Exemplar(
        id="oneills1850/123",
        title="The Moon",
        collection="oneills1850",
        description="a slow air in D minor",
        abc="X:1\nT:The Moon\nK:Dm\nDEF|",
        key="D",
        mode="minor",
        meter="3/4",
        tempo=70,
        similarity=0.8,
        score=0.7,
    )
    abc = f"X:1\nT:Pictune {seed}\nM:3/4\nL:1/8\nK:Dm\nD2 F2 A2|d4 A2|"
    rounds = [
        RefineRound(0, {"pitch_range": 14.0}, {"pitch_range": 12.0}, 0.4, [], 0, abc),
        RefineRound(1, {"pitch_range": 12.5}, {"pitch_range": 12.0}, 0.1, ["narrower"], 0, abc),
    ]
    return Composition(
        seed=seed,
        mode="symbolic",
        image=ImageInfo(
            width=1,
            height=1,
            format="PNG",
            mode="RGB",
            n_bytes=len(image_bytes),
            sha256=image_sha256 or hashlib.sha256(image_bytes).hexdigest(),
        ),
        perception=perception,
        brief=brief,
        exemplars=[exemplar],
        abc=abc,
        rounds=rounds,
        best_round=1,
        motivation=motivation,
        timings={"perceive": 0.01, "compose": 0.2},
        backends={"perceive": "analytic", "compose": "markov"},
        midi=b"MThd\x00\x00\x00\x06" + digest,
        audio=audio,
        audio_format="mp3",
        audio_seconds=30.0,
        score_png=TINY_PNG + digest,
        hint=hint,
    )


@pytest.fixture
def composition() -> Composition:
    return make_composition()


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def store(settings: Settings, embedder: FakeEmbedder) -> Iterator[Store]:
    s = Store.open(settings, embedder=embedder)
    yield s
    s.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def any_store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Store]:
    """A store on a SQLite file, then on a real PostgreSQL (the ``services`` marker)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_migrated_url")
        settings = settings.model_copy(update={"database_url": url})
    s = Store.open(settings, semantic=False)
    assert s.db.dialect == request.param
    yield s
    s.close()
