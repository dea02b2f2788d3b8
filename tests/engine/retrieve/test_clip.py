"""CLIP retrieval with a tiny CLIP saved like a real checkpoint, over a small folder corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.config import Settings
from engine.errors import ConfigError
from engine.retrieve import load_retriever
from engine.retrieve.clip import ClipRetriever, load_clip_embedder, merge
from engine.retrieve.index import index_dir
from engine.types import Exemplar
from tests.engine.neural_models import TinyModels
from tests.engine.retrieve.briefs import make_brief


def _settings(tmp_path: Path, abc_folder: Path, clip: Path) -> Settings:
    return Settings(
        _env_file=None,
        corpus=str(abc_folder),
        cache_dir=tmp_path / "cache",
        retrieve=f"clip:{clip}",
    )


def test_embeds_text_and_images_in_one_space(tmp_path: Path, tiny_models: TinyModels) -> None:
    settings = Settings(_env_file=None, retrieve=f"clip:{tiny_models.clip}")
    embedder = load_clip_embedder(settings)
    assert load_clip_embedder(settings) is embedder  # loaded once
    texts = embedder.embed(["a slow air in A minor", "a quick jig", "x" * 2000])
    images = embedder.embed_images(
        [Image.new("RGB", (50, 30), (9, 9, 200)), Image.new("L", (8, 8))]
    )
    assert texts.shape == (3, embedder.dim) and images.shape == (2, embedder.dim)
    assert np.allclose(np.linalg.norm(np.vstack([texts, images]), axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, embedder.dim)


def test_search_by_image_and_description(
    tmp_path: Path, abc_folder: Path, tiny_models: TinyModels
) -> None:
    settings = _settings(tmp_path, abc_folder, tiny_models.clip)
    retriever = load_retriever(settings)
    assert isinstance(retriever, ClipRetriever)
    # The index is its own, keyed by the CLIP reference: MiniLM's is untouched.
    assert retriever.index.info.path == index_dir(settings, settings.retrieve)
    assert not index_dir(settings, "minilm").exists()
    assert retriever.index.info.dim == retriever.embedder.dim
    brief = make_brief()
    image = Image.new("RGB", (64, 64), (250, 120, 0))
    both = retriever.search(brief, 4, image=image)
    text_only = retriever.search(brief, 4)
    assert 0 < len(both) <= 4 and len(text_only) <= 4
    assert len({e.id for e in both}) == len(both)
    assert [e.score for e in both] == sorted((e.score for e in both), reverse=True)
    assert retriever.search(brief, 0, image=image) == []
    # A second load reuses the index on disk.
    assert load_retriever(settings).index.info.built_at == retriever.index.info.built_at


def test_merge_deduplicates() -> None:
    def ex(i: str, score: float) -> Exemplar:
        return Exemplar(i, i, "c", "d", "abc", "C", "major", "4/4", 100, score, score)

    merged = merge([[ex("a", 0.9), ex("b", 0.5)], [ex("b", 0.7), ex("c", 0.6)]], 3)
    assert [(e.id, e.score) for e in merged] == [("a", 0.9), ("b", 0.7), ("c", 0.6)]


def test_missing_clip_weights(tmp_path: Path) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ConfigError):
        load_clip_embedder(Settings(_env_file=None, retrieve=f"clip:{folder}"))
    with pytest.raises(ConfigError):  # a pretrained tag needs a hub (or open_clip) here
        load_clip_embedder(Settings(_env_file=None, retrieve="clip:ViT-B-32/openai"))
