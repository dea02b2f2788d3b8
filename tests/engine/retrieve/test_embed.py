"""The MiniLM text embedder, loaded from the pip package's bundled weights (no network)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.config import Settings
from engine.errors import ConfigError
from engine.retrieve.embed import MiniLMEmbedder, load_text_embedder, normalise


@pytest.fixture(scope="module")
def embedder():
    return load_text_embedder(Settings(_env_file=None))


def test_embeddings_are_unit_float32_rows(embedder) -> None:
    texts = ["A lively Irish reel in D major.", "A sad slow air in E minor.", "x"]
    vectors = embedder.embed(texts)
    assert embedder.name == "minilm" and embedder.dim == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_similar_sentences_are_closer(embedder) -> None:
    a, b, c = embedder.embed(
        [
            "A cheerful jig in G major at a fast tempo.",
            "A happy jig in D major, quick and lively.",
            "A mournful slow lament in a minor key.",
        ]
    )
    assert float(a @ b) > float(a @ c)


def test_embedding_is_deterministic_and_batch_independent(embedder) -> None:
    texts = [f"A folk tune number {i}." for i in range(70)]  # more than one batch of 64
    together = embedder.embed(texts)
    alone = embedder.embed(texts[65:66])
    assert np.allclose(together[65], alone[0], atol=1e-5)


def test_loaded_once_per_process() -> None:
    s = Settings(_env_file=None)
    assert load_text_embedder(s) is load_text_embedder(Settings(_env_file=None))


def test_missing_model_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError):
        MiniLMEmbedder(model_path=str(tmp_path / "no-such-model"))


def test_normalise_leaves_zero_rows_alone() -> None:
    out = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(out, [[0.6, 0.8], [0.0, 0.0]])
